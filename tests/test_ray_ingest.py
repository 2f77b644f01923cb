"""`newsdesk ingest --ray`: a real local Ray instance with two embedding actors (real worker
processes, the real model) stores exactly what a plain ingest stores, skips what is already
stored, and loses and duplicates nothing when an embedding worker is killed mid-ingest."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from newsdesk.api import operations
from newsdesk.api.cli import ray_value_optional
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.index.ingest import chunk_article, prepare_article
from newsdesk.index.ray_ingest import RayOptions
from newsdesk.index.readers import read_paths
from newsdesk.settings import Settings
from newsdesk.stores.sqlite import ArticleWrite

from .support.cli import run_newsdesk
from .support.corpus_files import generated_feed, mixed_folder
from .support.patience import PATIENCE_S
from .support.postgres import fresh_database

pytestmark = pytest.mark.slow  # starts Ray and loads the model in every worker
ray = pytest.importorskip("ray", reason="the `ray` extra is not installed")

WORKERS = 2
# The process title Ray gives the actors of the embedding pool.
ACTOR_TITLE = b"ray::MapWorker(MapBatches(EmbedPacks))"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local instance for the module (ingest_on_ray joins it rather than starting one).
    On a machine loaded far beyond its cores, Ray's node can miss its own 30 s start-up
    deadline (its agents start too slowly): tried three times."""
    for attempt in range(3):
        try:
            ray.init(
                num_cpus=WORKERS + 1,
                include_dashboard=False,
                log_to_driver=False,
                logging_level="warning",
            )
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    yield
    ray.shutdown()


def _settings(path: Path) -> Settings:
    return Settings(data_dir=path, backend="extractive", _env_file=None)


def _stored(desk: Newsdesk) -> dict[str, Any]:
    """Every article's fields and chunk offsets, and every chunk's vector by position."""
    db = sqlite3.connect(desk.settings.database_path)
    articles = {
        row[0]: row[1:]
        for row in db.execute(
            "SELECT id, title, url, source, published_at, metadata, content_hash, record_hash"
            " FROM articles"
        )
    }
    chunks = {
        (row[0], row[1]): (row[2], row[3], row[4], np.frombuffer(row[5], dtype=np.float32))
        for row in db.execute(
            "SELECT article_id, seq, char_start, char_end, token_count, embedding FROM chunks"
        )
    }
    db.close()
    return {"articles": articles, "chunks": chunks}


def test_a_ray_ingest_stores_what_a_plain_ingest_stores(
    tmp_path: Path, embedder: Embedder, local_ray: None
) -> None:
    corpus = mixed_folder(tmp_path / "corpus")
    with Newsdesk.open(_settings(tmp_path / "plain"), embedder=embedder) as desk:
        plain = operations.ingest(desk, read_paths([corpus]))
        plain_stored = _stored(desk)
    with Newsdesk.open(_settings(tmp_path / "ray"), embedder=embedder) as desk:
        distributed = operations.ingest_on_ray(desk, [corpus], RayOptions(None, WORKERS))
        ray_stored = _stored(desk)
        assert len(desk.indexes.vectors) == desk.store.chunk_count()
        again = operations.ingest_on_ray(desk, [corpus], RayOptions(None, WORKERS))

    # The same report: ids (collisions resolved as a plain ingest does), rejections, chunks.
    assert distributed.model_dump() == plain.model_dump()
    assert "zz-note" in plain.added and any(i.startswith("zz-note-") for i in plain.added)
    assert any(i.startswith("report-") for i in plain.added) and "report" in plain.added
    assert [r.origin for r in plain.rejected] == [str(corpus / "latin1.txt")]
    assert plain.chunks > 100
    # The same rows: fields, chunk offsets and token counts, and the same model's vectors.
    assert ray_stored["articles"] == plain_stored["articles"]
    assert ray_stored["chunks"].keys() == plain_stored["chunks"].keys()
    for key, (start, end, tokens, vector) in ray_stored["chunks"].items():
        plain_start, plain_end, plain_tokens, plain_vector = plain_stored["chunks"][key]
        assert (start, end, tokens) == (plain_start, plain_end, plain_tokens)
        assert float(vector @ plain_vector) > 0.999, key
    # A second run finds every article stored: nothing embedded, nothing written.
    assert again.added == again.updated == [] and again.chunks == 0
    assert sorted(again.unchanged) == sorted(plain.added)


def _actor_pids() -> list[int]:
    """The embedding actors of this process's Ray instance (its raylet is our child, the
    actors its children): another Ray on the machine may run actors of the same name."""
    parents: dict[int, int] = {}
    titles: dict[int, bytes] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
                titles[int(entry.name)] = (entry / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue

    def ours(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return [pid for pid, title in titles.items() if title.startswith(ACTOR_TITLE) and ours(pid)]


def test_a_killed_embedding_worker_loses_and_duplicates_nothing(
    tmp_path: Path, embedder: Embedder, local_ray: None
) -> None:
    feed = tmp_path / "feed" / "dispatches.jsonl"
    articles = generated_feed(feed, 600)
    # An ingest of at most max_batch_articles is one transaction, drawn whole from the
    # pipeline before its first write: the progress this test waits for would only come once
    # every pack was embedded, and the kill would hit an idle worker. A smaller limit makes the
    # driver commit every 64 articles as the packs arrive, so the kill lands mid-pipeline.
    settings = _settings(tmp_path / "data").model_copy(update={"max_batch_articles": 32})
    expected_chunks = 0
    for article in articles:
        write = prepare_article(article, settings)
        assert isinstance(write, ArticleWrite)
        expected_chunks += len(
            chunk_article(write.text, embedder, min(200, embedder.max_tokens), settings)
        )

    with Newsdesk.open(settings, embedder=embedder) as desk:
        done = [0]
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["report"] = operations.ingest_on_ray(
                    desk,
                    [feed],
                    RayOptions(None, WORKERS),
                    lambda n: done.__setitem__(0, done[0] + n),
                )
            except BaseException as exc:
                outcome["error"] = exc

        ingest = threading.Thread(target=run)
        ingest.start()
        deadline = time.monotonic() + PATIENCE_S * 3
        while done[0] < 64 and ingest.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        victims = _actor_pids()  # the pool's actors (the second may still be starting)
        assert ingest.is_alive(), "the ingest ended before a worker could be killed"
        assert 1 <= len(victims) <= WORKERS, victims
        os.kill(victims[0], signal.SIGKILL)
        killed_at = done[0]
        ingest.join(timeout=PATIENCE_S * 6)
        assert not ingest.is_alive()
        assert "error" not in outcome, outcome.get("error")
        report = outcome["report"]

        assert killed_at < len(articles)
        assert victims[0] not in _actor_pids()  # it died, and a new actor took its packs
        assert report.added == [a.id for a in articles]
        assert report.rejected == [] and report.chunks == expected_chunks
        assert desk.store.article_count() == len(articles)
        assert desk.store.chunk_count() == expected_chunks == len(desk.indexes.vectors)
        db = sqlite3.connect(settings.database_path)
        per_article = dict(db.execute("SELECT article_id, COUNT(*) FROM chunks GROUP BY 1"))
        seqs = db.execute(
            "SELECT COUNT(*) FROM chunks GROUP BY article_id, seq HAVING COUNT(*) > 1"
        )
        assert seqs.fetchall() == [] and len(per_article) == len(articles)
        db.close()


def test_the_command_prints_a_plain_ingests_report(tmp_path: Path) -> None:
    corpus = mixed_folder(tmp_path / "corpus")
    plain = run_newsdesk(tmp_path / "plain", "ingest", str(corpus), "--json")
    # Its own local Ray instance (no address): started and stopped by the command.
    distributed = run_newsdesk(
        tmp_path / "ray", "ingest", str(corpus), "--ray", "--workers", "2", "--json"
    )
    assert plain.returncode == distributed.returncode == 1, distributed.stderr  # latin1.txt
    assert json.loads(distributed.stdout) == json.loads(plain.stdout)


def test_a_ray_ingest_into_postgresql_matches_a_plain_one(tmp_path: Path) -> None:
    """The driver writes through whichever article store is configured: on PostgreSQL the
    report is a plain ingest's, a second run stores nothing again, and the articles are
    searchable."""
    corpus = mixed_folder(tmp_path / "corpus")
    with fresh_database() as plain_url, fresh_database() as ray_url:

        def newsdesk(name: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
            env = {**os.environ, "NEWSDESK_DATABASE_URL": url}
            return run_newsdesk(tmp_path / name, *args, env=env)

        plain = newsdesk("plain", plain_url, "ingest", str(corpus), "--json")
        ray_args = ("ingest", str(corpus), "--ray", "--workers", "2", "--json")
        distributed = newsdesk("ray", ray_url, *ray_args)
        assert distributed.returncode == plain.returncode == 1, distributed.stderr
        first = json.loads(distributed.stdout)
        assert first == json.loads(plain.stdout) and first["added"]

        again = json.loads(newsdesk("ray", ray_url, *ray_args).stdout)
        assert again["added"] == [] and sorted(again["unchanged"]) == sorted(first["added"])

        # A fresh data directory: the collection lives in PostgreSQL, the indexes follow it.
        found = newsdesk("elsewhere", ray_url, "search", "crane collapse in Mecca", "--json")
        assert found.returncode == 0, found.stderr
        assert {hit["article_id"] for hit in json.loads(found.stdout)["results"]} & set(
            first["added"]
        )


def test_ray_takes_an_address_only_when_one_follows() -> None:
    assert ray_value_optional(["ingest", "--ray", "news/", "--json"]) == [
        "ingest",
        "--ray=",
        "news/",
        "--json",
    ]
    assert ray_value_optional(["ingest", "news/", "--ray", "--workers", "3"]) == [
        "ingest",
        "news/",
        "--ray=",
        "--workers",
        "3",
    ]
    assert ray_value_optional(["ingest", "news/", "--ray"]) == ["ingest", "news/", "--ray="]
    for address in ("auto", "local", "head:6379", "ray://head.example:10001"):
        assert ray_value_optional(["ingest", "--ray", address, "news/"]) == [
            "ingest",
            "--ray",
            address,
            "news/",
        ]


def test_a_bad_address_is_refused_before_anything_is_opened(tmp_path: Path) -> None:
    corpus = mixed_folder(tmp_path / "corpus")
    result = run_newsdesk(tmp_path / "data", "ingest", str(corpus), "--ray=news desk")
    assert result.returncode == 1
    assert "'news desk' is not a Ray address" in result.stderr
    assert not (tmp_path / "data").exists()

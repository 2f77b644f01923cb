"""`newsdesk reindex`: the collection is re-embedded with another model beside the live
vectors and switched to it in one step, while searches run on other threads and never fail;
a reindex killed part-way leaves the old model fully in place and resumes where it stopped.

"Another model" here is the packaged all-MiniLM-L6-v2 run by torch instead of the default
OpenVINO backend: the only embedding weights packaged locally (no download), and a distinct
model id (`all-MiniLM-L6-v2` against `all-MiniLM-L6-v2+openvino-…`), so the collection's
vectors are all replaced and the switch is observable."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from newsdesk.api import operations
from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput
from newsdesk.embedding import Embedder, SentenceTransformerEmbedder
from newsdesk.errors import InvalidInput
from newsdesk.settings import EmbeddingBackend, RetrievalMode, Settings

from .support.cli import NEWSDESK, run_newsdesk
from .support.corpus_files import generated_feed
from .support.live_server import serve
from .support.patience import PATIENCE_S
from .support.samples import load_samples
from .support.stored import stored_article

pytestmark = [
    pytest.mark.slow,
    pytest.mark.both_stores,
    pytest.mark.lexical_stores,
]  # loads a second model and re-embeds collections

NEW_MODEL = "all-MiniLM-L6-v2"
NEW_BACKEND: EmbeddingBackend = "torch"
QUERIES = ["NASA space shuttle retirement", "crane collapse in Mecca", "asylum questionnaire"]


def _settings(path: Path) -> Settings:
    return Settings(data_dir=path, backend="extractive", _env_file=None)


def _stored_vectors(desk: Newsdesk) -> dict[int, np.ndarray]:
    """Every chunk's stored vector by chunk id, read through the store (SQLite or PostgreSQL)."""
    return {
        int(i): vector.copy()
        for ids, vectors in desk.store.iter_vectors()
        for i, vector in zip(ids, vectors, strict=True)
    }


def test_reindex_switches_models_while_searches_keep_answering(
    settings: Settings, embedder: Embedder
) -> None:
    torch_model = SentenceTransformerEmbedder(NEW_MODEL)
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(load_samples())
        before = {q: desk.searcher.search(q, top_k=3)[0].article_id for q in QUERIES}
        errors: list[BaseException] = []
        empty: list[str] = []
        searches = [0]
        stop = threading.Event()

        def search_forever(mode: RetrievalMode) -> None:
            while not stop.is_set():
                for query in QUERIES:
                    try:
                        if not desk.searcher.search(query, top_k=3, mode=mode):
                            empty.append(query)
                        searches[0] += 1
                    except BaseException as exc:
                        errors.append(exc)

        modes: list[RetrievalMode] = ["hybrid", "dense"]
        threads = [threading.Thread(target=search_forever, args=(mode,)) for mode in modes]
        for thread in threads:
            thread.start()
        try:
            report = operations.reindex(desk, NEW_MODEL, NEW_BACKEND)
            # Go on searching a while on the new model too.
            after_switch = searches[0]
            deadline = time.monotonic() + PATIENCE_S
            while searches[0] < after_switch + 6 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join()

        assert errors == [] and empty == []
        assert searches[0] >= after_switch + 6
        assert report.model == NEW_MODEL and report.previous_model == embedder.model_id
        assert report.chunks == report.embedded == desk.store.chunk_count() > 0
        assert report.resumed == 0
        assert desk.embedder.model_id == desk.indexes.embedding_model == NEW_MODEL
        assert desk.store.get_state("embedding_model") == NEW_MODEL
        assert desk.store.staged_count(NEW_MODEL) == 0
        # Every stored vector is now the torch model's vector of its chunk's text.
        stored = _stored_vectors(desk)
        for ids, texts in desk.store.iter_texts():
            expected = torch_model.embed(texts)
            assert all(float(stored[int(i)] @ expected[n]) > 0.9999 for n, i in enumerate(ids))
        assert len(desk.indexes.vectors) == len(stored)
        # Same weights, so the same best article for each query; a new article is embedded
        # with the new model.
        assert {q: desk.searcher.search(q, top_k=3)[0].article_id for q in QUERIES} == before
        desk.ingestor.ingest(
            [ArticleInput(id="after-switch", title="Late", text="The harbour reopened today.")]
        )
        late = stored_article(desk.store, "after-switch")
        vector = _stored_vectors(desk)[late.chunks[0].chunk_id]
        assert float(vector @ torch_model.embed([late.chunks[0].text])[0]) > 0.9999

    # The next start keeps the new model though the settings still name the old backend,
    # and loads the snapshot the reindex saved (no rebuild, no re-embedding).
    with Newsdesk.open(settings) as reopened:
        assert reopened.embedder.model_id == NEW_MODEL
        assert reopened.index_status == "loaded"
        assert reopened.searcher.search(QUERIES[0], top_k=3)[0].article_id == before[QUERIES[0]]
    # Once the settings name it too, the recorded choice is dropped.
    with Newsdesk.open(settings.model_copy(update={"embedding_backend": NEW_BACKEND})) as desk:
        assert desk.store.get_state("embedding_choice") == ""


def test_a_running_server_reindexes_itself_while_serving_searches(
    settings: Settings, embedder: Embedder
) -> None:
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(load_samples())
        with serve(create_app(settings, desk=desk)) as url:
            failures: list[str] = []
            answered = [0]
            stop = threading.Event()

            def search_forever() -> None:
                with httpx.Client(base_url=url, timeout=PATIENCE_S) as http:
                    while not stop.is_set():
                        for query in QUERIES:
                            response = http.post("/search", json={"query": query, "top_k": 3})
                            if response.status_code != 200 or not response.json()["results"]:
                                failures.append(f"{response.status_code} {response.text[:200]}")
                            answered[0] += 1

            searcher = threading.Thread(target=search_forever)
            searcher.start()
            try:
                with httpx.Client(base_url=url, timeout=PATIENCE_S * 6) as http:
                    response = http.post("/reindex", json={"model": NEW_MODEL, "backend": "torch"})
                    health = http.get("/health").json()
                    unknown = http.post("/reindex", json={"model": "no-such-model"})
                    same = http.post("/reindex", json={"model": NEW_MODEL, "backend": "torch"})
            finally:
                stop.set()
                searcher.join()
    assert failures == [] and answered[0] > 0
    assert response.status_code == 200, response.text
    assert response.json()["model"] == NEW_MODEL == health["embedding_model"]
    assert unknown.status_code == 422 and "packaged model" in unknown.json()["detail"]
    assert same.status_code == 422 and "already embedded" in same.json()["detail"]


def _staged(database: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT COUNT(*) FROM staged_embeddings").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_a_killed_reindex_leaves_the_old_model_and_resumes(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = _settings(tmp_path / "data")
    articles = generated_feed(tmp_path / "feed.jsonl", 250)
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(articles)
        chunks = desk.store.chunk_count()
        old_vectors = _stored_vectors(desk)
    assert chunks > 1024  # more than two batches: the kill lands before the end

    env = {**os.environ, "NEWSDESK_DATA_DIR": str(settings.data_dir)}
    command = [NEWSDESK, "reindex", "--model", NEW_MODEL, "--backend", NEW_BACKEND, "--json"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + PATIENCE_S * 3
    while _staged(settings.database_path) == 0 and process.poll() is None:
        assert time.monotonic() < deadline, "the reindex staged nothing in time"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    staged = _staged(settings.database_path)
    assert 0 < staged < chunks

    # No half switch: the old model and its vectors are all in place, and search works.
    with Newsdesk.open(settings, embedder=embedder) as desk:
        assert desk.embedder.model_id == embedder.model_id
        assert desk.store.get_state("embedding_model") == embedder.model_id
        now = _stored_vectors(desk)
        assert now.keys() == old_vectors.keys()
        assert all(np.array_equal(vector, old_vectors[i]) for i, vector in now.items())
        assert desk.searcher.search("wire desk dispatch", top_k=3)
        assert desk.store.get_state("reindex_target") == NEW_MODEL

    # Run again: it resumes from the staged vectors and switches.
    result = run_newsdesk(settings.data_dir, *command[1:])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == NEW_MODEL and report["resumed"] == staged
    assert report["embedded"] + report["resumed"] == report["chunks"] == chunks


def test_the_command_refuses_while_another_process_holds_the_collection(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = _settings(tmp_path / "data")
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(load_samples()[:2])
        result = run_newsdesk(settings.data_dir, "reindex", "--model", NEW_MODEL)
        assert result.returncode == 1
        assert "in use by" in result.stderr
        assert desk.store.get_state("reindex_target") is None


def test_reindexing_to_the_model_in_use_is_refused(tmp_path: Path, embedder: Embedder) -> None:
    settings = _settings(tmp_path / "data")
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(load_samples()[:2])
        with pytest.raises(InvalidInput, match="already embedded with"):
            operations.reindex(
                desk,
                settings.embedding_model,
                settings.embedding_backend,  # the same model
            )

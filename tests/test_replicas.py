"""Several processes over one collection on PostgreSQL (issue 15): each has its own data
directory for its derived indexes, follows the writes the others commit (the change log),
catches up after a restart, and shares API keys and, through Redis, rate limits.

Waits are bounded (PATIENCE_S), never timed: a replica must find a write within them."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput
from newsdesk.embedding import Embedder
from newsdesk.errors import DatabaseUnavailable
from newsdesk.settings import RetrievalMode, Settings
from newsdesk.stores.keys import KeyStore, key_digest
from newsdesk.stores.sqlite import ArticleStore, ArticleWrite, ChunkWrite

from .support.cli import NEWSDESK, newsdesk_serve
from .support.patience import PATIENCE_S
from .support.postgres import fresh_database

STORY = ArticleInput(
    id="okapi-sighting",
    title="Rare okapi calf born at the Lisbon zoo",
    text="Keepers at the Lisbon zoo announced that a rare okapi calf was born on Tuesday. "
    "The okapi, a forest giraffe from the Congo basin, is seldom bred in captivity. "
    "The calf and its mother are said to be healthy and will be shown to visitors in spring.",
    source="Test Wire",
)
DENSE_QUERY = "a baby forest giraffe was born in a Portuguese zoo"  # no shared words needed
LEXICAL_QUERY = "okapi calf Lisbon"


def _other(animal: str, city: str) -> ArticleInput:
    return ArticleInput(
        id=animal,
        title=f"A {animal} moves to {city}",
        text=f"The city of {city} welcomed a {animal} from a rescue centre this week. "
        f"Visitors queued to see the {animal}, which keepers say is settling in well.",
    )


@pytest.fixture
def database_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


def _settings(data_dir: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        backend="extractive",
        follow_seconds=0.2,
        _env_file=None,
    )


def _eventually(found: Callable[[], bool]) -> bool:
    """Whether ``found()`` turns true within the patience (polled, not timed)."""
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        if found():
            return True
        time.sleep(0.1)
    return found()


def _finds(desk: Newsdesk, article_id: str, mode: RetrievalMode, query: str) -> bool:
    return article_id in {hit.article_id for hit in desk.searcher.search(query, mode=mode)}


def test_a_write_through_one_process_is_found_by_the_other_and_a_restart_catches_up(
    tmp_path: Path, database_url: str, embedder: Embedder
) -> None:
    first = Newsdesk.open(_settings(tmp_path / "a", database_url), embedder=embedder)
    second = Newsdesk.open(_settings(tmp_path / "b", database_url), embedder=embedder)
    try:
        first.ingestor.ingest([STORY])
        assert _eventually(lambda: _finds(second, STORY.id, "dense", DENSE_QUERY))
        assert _eventually(lambda: _finds(second, STORY.id, "lexical", LEXICAL_QUERY))
        assert second.follower is not None and second.follower.applied >= 1

        first.ingestor.delete(STORY.id)
        assert _eventually(lambda: not _finds(second, STORY.id, "lexical", LEXICAL_QUERY))
        assert not _finds(second, STORY.id, "dense", DENSE_QUERY)

        # The second stops (its snapshot saved at its generation); writes go on without it.
        second.close()
        first.ingestor.ingest([STORY.model_copy(update={"id": "okapi-2"})])
        second = Newsdesk.open(_settings(tmp_path / "b", database_url), embedder=embedder)
        assert second.index_status.startswith("loaded, then 1 writes"), second.index_status
        assert _finds(second, "okapi-2", "dense", DENSE_QUERY)
        assert _finds(second, "okapi-2", "lexical", LEXICAL_QUERY)
        assert len(second.indexes.vectors) == second.store.chunk_count()

        # A write through the second, after one through the first it has not applied yet:
        # both end up in its indexes, in commit order.
        assert second.follower is not None
        second.follower.stop()
        first.ingestor.ingest([_other("tapir", "Bristol")])
        second.ingestor.ingest([_other("pangolin", "Oslo")])
        assert _finds(second, "tapir", "lexical", "tapir Bristol")
        assert _finds(second, "pangolin", "lexical", "pangolin Oslo")
        assert len(second.indexes.vectors) == second.store.chunk_count()
        assert second.indexes.generation == second.store.generation()
    finally:
        first.close()
        second.close()


def _write(store: ArticleStore, article_id: str) -> int:
    """One article of one chunk with a ready vector, straight to the store."""
    text = f"Report {article_id}. It has two sentences."
    chunk = ChunkWrite(0, 0, len(text), 8, np.ones(4, dtype=np.float32))
    article = ArticleWrite(
        article_id, article_id, text, None, None, None, None, {}, article_id, article_id, [chunk]
    )
    return store.write([article]).generation


def test_writers_in_two_processes_take_turns_and_the_log_holds_every_write(
    database_url: str,
) -> None:
    """Two stores (as two replicas hold) writing at once: each write gets its own generation,
    and the change log lists every chunk added under the generation of its write."""
    stores = [ArticleStore(database_url), ArticleStore(database_url)]
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            generations = list(pool.map(lambda i: _write(stores[i % 2], f"a{i}"), range(40)))
        assert sorted(generations) == list(range(1, 41))
        changes = stores[0].changes_after(0)
        assert changes.generation == 40 and not changes.rebuild
        assert [w.generation for w in changes.writes] == list(range(1, 41))
        assert all(len(w.added_chunk_ids) == 1 for w in changes.writes)
        # A log read in pieces gives the same writes.
        pieces, position = [], 0
        while position < 40:
            part = stores[1].changes_after(position, max_rows=7)
            pieces += part.writes
            position = part.generation
        assert [w.generation for w in pieces] == list(range(1, 41))
    finally:
        for store in stores:
            store.close()


def test_the_change_log_keeps_only_the_newest_writes(database_url: str) -> None:
    store = ArticleStore(database_url, change_log_keep=5)
    try:
        for i in range(12):
            _write(store, f"w{i}")
        logged = store._connection().execute("SELECT DISTINCT generation FROM change_log")
        # Pruned at the 10th write to the newest 5; writes 11 and 12 logged since.
        assert sorted(row[0] for row in logged.fetchall()) == list(range(6, 13))
        behind, caught = store.changes_after(4), store.changes_after(5)
        assert behind.rebuild and behind.writes == [] and behind.generation == 12
        assert not caught.rebuild and [w.generation for w in caught.writes] == list(range(6, 13))
        assert "pruned through generation 5" in (store.replay_gap(4) or "")
        assert store.replay_gap(5) is None
    finally:
        store.close()


def test_a_replica_further_behind_than_the_log_rebuilds_when_it_starts(
    tmp_path: Path, database_url: str, embedder: Embedder
) -> None:
    def settings(name: str) -> Settings:
        return _settings(tmp_path / name, database_url).model_copy(update={"change_log_keep": 2})

    first = Newsdesk.open(settings("a"), embedder=embedder)
    try:
        first.ingestor.ingest([STORY])
        Newsdesk.open(settings("b"), embedder=embedder).close()  # its snapshot: one write
        for animal, city in [("tapir", "Bristol"), ("pangolin", "Oslo"), ("quokka", "Perth")]:
            first.ingestor.ingest([_other(animal, city)])  # the log keeps the last two
        second = Newsdesk.open(settings("b"), embedder=embedder)
        try:
            assert "pruned through generation 2" in second.index_status, second.index_status
            for animal, city in [("tapir", "Bristol"), ("quokka", "Perth")]:
                assert _finds(second, animal, "lexical", f"{animal} {city}")
            assert len(second.indexes.vectors) == second.store.chunk_count()
        finally:
            second.close()
    finally:
        first.close()


def test_keys_live_in_postgresql_and_only_their_digest_is_stored(database_url: str) -> None:
    with KeyStore(database_url) as keys:
        record, key = keys.create("read", name="reader")
        assert keys.lookup(key) == record
        keys.revoke("reader")
        assert keys.lookup(key) is None
    store = ArticleStore(database_url)
    try:
        row = store._connection().execute("SELECT key_hash FROM api_keys").fetchone()
        assert bytes(row[0]) == key_digest(key)
        assert store.generation() == 0  # key writes leave the articles' generation alone
    finally:
        store.close()


def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(DatabaseUnavailable, match=r"cannot connect to postgresql://nobody@"):
        ArticleStore("postgresql://nobody:secret@127.0.0.1:1/nowhere")


def test_a_database_url_that_is_not_postgresql_is_refused() -> None:
    with pytest.raises(ValueError, match="postgresql://"):
        Settings(database_url="mysql://localhost/db", _env_file=None)


@pytest.mark.slow  # two `newsdesk serve` processes, each loading the model
def test_two_served_replicas_over_one_collection(tmp_path: Path, database_url: str) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    base.update(
        NEWSDESK_DATABASE_URL=database_url,
        NEWSDESK_BACKEND="extractive",
        NEWSDESK_FOLLOW_SECONDS="0.5",
    )

    def env(name: str) -> dict[str, str]:
        return {**base, "NEWSDESK_DATA_DIR": str(tmp_path / name / "data")}

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        newsdesk_serve(NEWSDESK, env=env("a"), cwd=tmp_path / "a", log=tmp_path / "a.log") as a,
        newsdesk_serve(NEWSDESK, env=env("b"), cwd=tmp_path / "b", log=tmp_path / "b.log") as b,
    ):

        def found_on_b(mode: str, query: str) -> bool:
            response = httpx.post(
                f"{b.url}/search", json={"query": query, "mode": mode}, timeout=PATIENCE_S
            )
            assert response.status_code == 200, response.text
            return STORY.id in {hit["article_id"] for hit in response.json()["results"]}

        written = httpx.post(
            f"{a.url}/articles",
            json={"id": STORY.id, "title": STORY.title, "text": STORY.text, "source": STORY.source},
            timeout=PATIENCE_S,
        )
        assert written.status_code in (200, 201), written.text
        assert _eventually(lambda: found_on_b("dense", DENSE_QUERY))
        assert _eventually(lambda: found_on_b("lexical", LEXICAL_QUERY))

        deleted = httpx.delete(f"{a.url}/articles/{STORY.id}", timeout=PATIENCE_S)
        assert deleted.status_code == 204, deleted.text
        assert _eventually(lambda: not found_on_b("dense", DENSE_QUERY))
        assert not found_on_b("lexical", LEXICAL_QUERY)


def test_rate_limits_in_redis_are_shared_by_replicas() -> None:
    import asyncio

    from newsdesk.api.shared_limits import RedisTokenBuckets

    url = os.environ.get("NEWSDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

    async def takes() -> list[float]:
        replicas = [RedisTokenBuckets(url, per_minute=60, burst=3) for _ in range(2)]
        caller = f"test-{uuid.uuid4().hex}"  # a bucket of its own
        try:
            if not await replicas[0].reachable():
                pytest.skip(f"Redis unreachable at {url}")
            return [await replicas[i % 2].reserve(caller) for i in range(4)]
        finally:
            for replica in replicas:
                await replica.close()

    waits = asyncio.run(takes())
    # Three requests between the two replicas empty the bucket of three: the fourth waits.
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0 < waits[3] <= 1.0

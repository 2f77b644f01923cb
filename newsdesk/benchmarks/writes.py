"""The write probe of `newsdesk bench search --write-probe`: what one new article costs the
readers of a loaded collection.

Two threads search continuously (real ``Searcher.search`` calls over the benchmark's queries)
while one new synthetic article goes through the real ingest path (chunking, the encoder,
SQLite, the derived indexes). Reported: the chunks it added, the time to return
(``write_ms``), the time until a dense-only and a lexical-only search for one of its
sentences both find it (``searchable_ms``), the searches that overlapped the write and the
slowest of them against the median before it, and the longest any of them waited to take the
indexes' lock (``DerivedIndexes.lock``, timed only while the probe runs). The article is then
deleted again and the same figures are taken for the delete, so the cached collection holds
the same chunks as before (its SQLite generation moves on: see ``restamp_snapshot``)."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import numpy as np

from newsdesk.benchmarks.collection import load_sources, synthetic_articles
from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput
from newsdesk.errors import NotFound
from newsdesk.settings import RetrievalMode

PROBE_ID = "bench-write-probe"  # outside the collection's bench-NNNNNNNN ids
SEARCH_THREADS = 2
SEARCHES_BEFORE = 10  # searches completed before the write: the baseline median
PATIENCE_S = 300.0  # then the article counts as not found (figures say so)


class TimedLock:
    """Stands in for an RLock (wrapping the same one, so exclusion is unchanged) and records
    how long the watched threads waited to take it, (when they asked, seconds waited), and
    how long the other threads held it, (when they took it, seconds held)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.watched: set[int] = set()
        self.waits: list[tuple[float, float]] = []
        self.holds: list[tuple[float, float]] = []
        self.hold_cpu: list[tuple[float, float]] = []  # the holder's CPU time while held
        self._taken = threading.local()  # when this thread took it, per nesting level

    def __enter__(self) -> TimedLock:
        asked = time.perf_counter()
        self.inner.acquire()
        taken = time.perf_counter()
        if threading.get_ident() in self.watched:
            self.waits.append((asked, taken - asked))  # atomic under the GIL
        else:
            self._taken.stack = [*getattr(self._taken, "stack", []), (taken, time.thread_time())]
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if threading.get_ident() not in self.watched:
            *self._taken.stack, (taken, cpu) = self._taken.stack
            self.holds.append((taken, time.perf_counter() - taken))
            self.hold_cpu.append((taken, time.thread_time() - cpu))
        self.inner.release()

    def longest_wait(self, start: float, end: float) -> float:
        """The longest wait that overlapped [start, end], in seconds."""
        return _longest(self.waits, start, end)

    def longest_hold(self, start: float, end: float) -> float:
        """The longest time another thread held it within [start, end], in seconds."""
        return _longest(self.holds, start, end)

    def longest_hold_cpu(self, start: float, end: float) -> float:
        """The most CPU time a hold of another thread took within [start, end], in seconds:
        below ``longest_hold`` when the holder waited for a core."""
        return max(
            (
                cpu
                for (at, held), (_, cpu) in zip(list(self.holds), list(self.hold_cpu), strict=False)
                if at <= end and at + held >= start
            ),
            default=0.0,
        )


def _longest(spans: list[tuple[float, float]], start: float, end: float) -> float:
    return max(
        (length for at, length in list(spans) if at <= end and at + length >= start),
        default=0.0,
    )


def probe_article(seed: int) -> tuple[ArticleInput, str]:
    """A news article (real sentences, as the collection's) led by a paragraph of invented
    names no other article contains, and one sentence of that paragraph to search for."""
    rng = random.Random(seed)
    name, place, thing = (_invented_word(rng) for _ in range(3))
    lead = [
        f"The {name.title()} harbour council in {place.title()} approved the {thing} barge.",
        f"Residents of {place.title()} said the {thing} barge would anchor by the "
        f"{name.title()} pier in spring.",
        f"{name.title()} officials expect the {thing} works in {place.title()} to cost less "
        "than planned.",
    ]
    # Another seed than the collection's, so that the body is not one of its articles.
    body = next(synthetic_articles(load_sources(), seed + 7919)).text
    article = ArticleInput(
        id=PROBE_ID,
        title=f"{name.title()} council approves {thing} barge",
        text=" ".join(lead) + "\n\n" + body,
        source="bench-write-probe",
        published_at=datetime.now(UTC),
    )
    return article, lead[0]


def _invented_word(rng: random.Random) -> str:
    return "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(4))


def probe(desk: Newsdesk, queries: Sequence[str], seed: int) -> dict[str, Any]:
    """Add one article under concurrent searches, then delete it; the figures (ms)."""
    _forget_probe_article(desk)  # left by an interrupted run
    generation_before = desk.store.generation()
    chunks_before = desk.store.chunk_count()
    vector_rebuilds = desk.indexes.rebuild_metrics.count("vectors")
    article, sentence = probe_article(seed)
    lock = TimedLock(desk.indexes.lock)
    searches: list[tuple[float, float]] = []  # (start, end) of each background search
    stop = threading.Event()

    def search_continuously(offset: int) -> None:
        lock.watched.add(threading.get_ident())
        for n in range(offset, 1 << 62, SEARCH_THREADS):
            if stop.is_set():
                return
            started = time.perf_counter()
            desk.searcher.search(queries[n % len(queries)], top_k=10)
            searches.append((started, time.perf_counter()))

    desk.indexes.lock = lock  # type: ignore[assignment]
    threads = [
        threading.Thread(target=search_continuously, args=(n,), name=f"probe-search-{n}")
        for n in range(SEARCH_THREADS)
    ]
    try:
        for thread in threads:
            thread.start()
        while len(searches) < SEARCHES_BEFORE:
            if not all(thread.is_alive() for thread in threads):
                raise RuntimeError("a search thread failed before the write (see the log)")
            time.sleep(0.01)
        baseline = [end - start for start, end in list(searches)]

        started = time.perf_counter()
        report = desk.ingestor.ingest([article])
        written = time.perf_counter()
        found, first_chunk = _wait_until_found(desk, sentence, started)
        searchable = time.perf_counter()

        delete_started = time.perf_counter()
        desk.ingestor.delete(PROBE_ID)
        deleted = time.perf_counter()
        gone = not (first_chunk and _found_by(desk, first_chunk, "dense")) and not _found_by(
            desk, sentence, "lexical"
        )
        # Let the readers run on past the delete, so that searches overlap its end too.
        running = len(searches)
        while len(searches) < running + SEARCH_THREADS:
            time.sleep(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        desk.indexes.lock = lock.inner

    def during(start: float, end: float) -> list[float]:
        return [e - s for s, e in searches if s <= end and e >= start]

    write_searches = during(started, searchable)
    delete_searches = during(delete_started, deleted)
    unchanged = desk.store.chunk_count() == chunks_before and gone
    return {
        "chunks": report.chunks,
        "write_ms": _ms(written - started),
        "searchable_ms": _ms(searchable - started) if found else None,
        "found_dense_and_lexical": found,
        "searches_during": len(write_searches),
        "search_p50_ms_before": _ms(float(np.median(baseline))),
        "search_max_ms_during": _ms(max(write_searches, default=0.0)),
        "max_lock_wait_ms": _ms(lock.longest_wait(started, searchable)),
        "max_lock_hold_ms": _ms(lock.longest_hold(started, written)),  # by the write
        "max_lock_hold_cpu_ms": _ms(lock.longest_hold_cpu(started, written)),
        "delete_ms": _ms(deleted - delete_started),
        "delete_searches_during": len(delete_searches),
        "delete_search_max_ms_during": _ms(max(delete_searches, default=0.0)),
        "delete_max_lock_wait_ms": _ms(lock.longest_wait(delete_started, deleted)),
        "delete_max_lock_hold_ms": _ms(lock.longest_hold(delete_started, deleted)),
        "deleted_chunks_found_again": not gone,
        # Rebuilds of the vector index while the probe ran (under the lock or beside it).
        "vector_rebuilds": desk.indexes.rebuild_metrics.count("vectors") - vector_rebuilds,
        "searched_for": {"dense": "the text of its first chunk", "lexical": sentence},
        "collection_unchanged": unchanged,
        "generations": [generation_before, desk.store.generation()],
    }


def _wait_until_found(desk: Newsdesk, sentence: str, started: float) -> tuple[bool, str]:
    """Whether the article became searchable: a lexical search for its invented sentence, and
    a dense search for the text of its first chunk (the invented sentence alone is far from
    every news text, where HNSW at the default breadth can miss even an indexed vector), both
    finding it. Also returns that chunk's text."""
    first_chunk = ""
    while time.perf_counter() - started < PATIENCE_S:
        article = desk.store.get_article(PROBE_ID) if not first_chunk else None
        if article is not None and article.chunks:
            chunk = article.chunks[0]
            first_chunk = article.text[chunk.char_start : chunk.char_end]
        if (
            first_chunk
            and _found_by(desk, first_chunk, "dense")
            and _found_by(desk, sentence, "lexical")
        ):
            return True, first_chunk
    return False, first_chunk


def _found_by(desk: Newsdesk, sentence: str, mode: RetrievalMode) -> bool:
    hits = desk.searcher.search(sentence, top_k=10, mode=mode)
    return any(hit.article_id == PROBE_ID for hit in hits)


def _forget_probe_article(desk: Newsdesk) -> None:
    with contextlib.suppress(NotFound):
        desk.ingestor.delete(PROBE_ID)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)

"""Readers keep working during writes: the BM25 index is rebuilt beside the readers, never in
front of them. A search issued while a rebuild is known to be in progress completes, and finds
what was written a moment before (read-your-writes), and not what was deleted."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput
from newsdesk.stores.lexical import Bm25Index, LexicalView, Segment, tokenize

from .support.patience import PATIENCE_S
from .support.samples import load_samples

QUERIES = ["crane collapse Mecca", "no-fly zone Ukraine NATO", "election results", "storm"]


def _texts() -> tuple[np.ndarray, list[str]]:
    texts = [f"{a.title}. {a.text}" for a in load_samples()]
    return np.arange(100, 100 + len(texts), dtype=np.int64), texts


def test_written_chunks_score_as_in_a_fresh_bm25_index() -> None:
    ids, texts = _texts()
    fresh = Bm25Index()
    fresh.rebuild(ids, texts)
    everything_pending = LexicalView(Bm25Index(), 0, (Segment.of(1, ids, tokenize(texts)),))
    half = len(ids) // 2
    older = Bm25Index()
    older.rebuild(ids[:half], texts[:half])
    split = LexicalView(older, 1, (Segment.of(2, ids[half:], tokenize(texts[half:])),))
    for query in QUERIES:
        expected_scores, expected_ids = fresh.search(query, 10)
        assert len(expected_ids)
        scores, found = everything_pending.search(query, 10)
        # The same formula on the same counts: the same ranking and scores.
        assert found.tolist() == expected_ids.tolist()
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-4)
        # Half in an older base: the same chunks are found (counts differ a little).
        _, found = split.search(query, len(ids))
        assert set(found.tolist()) == set(fresh.search(query, len(ids))[1].tolist())


def test_removed_chunks_are_not_found_in_the_base_or_in_segments() -> None:
    ids, texts = _texts()
    base = Bm25Index()
    base.rebuild(ids[:-1], texts[:-1])
    view = LexicalView(base, 1).added(Segment.of(2, ids[-1:], tokenize(texts[-1:])), ids[:0])
    first, last = texts[0][:300], texts[-1][:300]
    assert view.search(first, 1)[1].tolist() == [ids[0]]  # in the base
    assert view.search(last, 1)[1].tolist() == [ids[-1]]  # in a segment
    after = view.added(Segment.of(3, ids[:0], []), np.array([ids[0], ids[-1]]))
    for query in [first, last, *QUERIES]:
        assert not {ids[0], ids[-1]} & set(after.search(query, 1000)[1].tolist())


class GatedBm25(Bm25Index):
    """A real BM25 index whose build announces itself and then waits for the test: the
    rebuild is known to be in progress for as long as the test likes."""

    started = threading.Event()
    release = threading.Event()

    def rebuild(self, ids: np.ndarray, texts: Sequence[str]) -> None:
        type(self).started.set()
        assert type(self).release.wait(PATIENCE_S * 5), "the test never released the rebuild"
        super().rebuild(ids, texts)


@pytest.mark.slow
def test_reads_and_writes_complete_while_bm25_rebuilds(loaded_desk: Newsdesk) -> None:
    desk = loaded_desk
    indexes = desk.indexes
    GatedBm25.started.clear()
    GatedBm25.release.clear()
    indexes.lexical_factory = GatedBm25
    indexes.request_lexical_rebuild()
    assert GatedBm25.started.wait(PATIENCE_S), "the background rebuild did not start"

    doomed = "wikinews-2015-mecca-crane-collapse"
    new = ArticleInput(
        id="quorvale-ferry",
        title="Ferry to Quorvale resumes",
        text="The ferry to the island of Quorvale resumed service on Monday after repairs.",
    )
    seen: dict[str, Any] = {}  # what the reader found, by search

    def reader() -> None:
        desk.ingestor.ingest([new])
        desk.ingestor.delete(doomed)
        seen["lexical"] = [p.article_id for p in desk.searcher.search("Quorvale", mode="lexical")]
        seen["hybrid"] = [p.article_id for p in desk.searcher.search("ferry to Quorvale")]
        seen["crane"] = {
            p.article_id for p in desk.searcher.search("crane Mecca", top_k=20, mode="lexical")
        }
        seen["old"] = [p.article_id for p in desk.searcher.search("no-fly zone", mode="lexical")]
        seen["rebuilding"] = not GatedBm25.release.is_set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(PATIENCE_S)
    try:
        # Done while the rebuild is held in progress: nothing waited for it.
        assert not thread.is_alive(), "a read or write waited for the BM25 rebuild"
        assert seen["rebuilding"] is True
        assert seen["lexical"] == ["quorvale-ferry"]
        assert seen["hybrid"][0] == "quorvale-ferry"
        assert doomed not in seen["crane"]
        assert seen["old"]  # the older base still answers
    finally:
        GatedBm25.release.set()

    deadline = time.monotonic() + PATIENCE_S
    while indexes.lexical_rebuilds < 1:
        assert time.monotonic() < deadline, "the rebuilt index was never swapped in"
        time.sleep(0.05)
    # The new base was read before the write and the delete: both still hold after the swap.
    view = indexes.fresh_lexical()
    assert view.pending > 0
    assert [p.article_id for p in desk.searcher.search("Quorvale", mode="lexical")] == [new.id]
    found = {p.article_id for p in desk.searcher.search("crane Mecca", top_k=20, mode="lexical")}
    assert doomed not in found

"""Re-embedding a collection with a new model while it stays searchable (`newsdesk reindex`).

1. Stage: every chunk's vector under the new model is written beside the live one (the
   ``staged_embeddings`` table), in batches, each its own transaction. Searches and writes
   go on with the old model meanwhile; chunks written meanwhile have higher ids (SQLite's
   AUTOINCREMENT), so one pass in id order meets them too. The target model is recorded,
   so an interrupted run is resumed by running it again: only chunks without a staged
   vector are embedded.
2. Build: a vector index for the new model is built from the staged vectors, aside.
3. Switch: with writers held off (readers go on), the chunks written since the pass are
   staged and added, the chunks deleted since are removed, and one SQLite transaction makes
   the staged vectors the live ones and records the new model; then, under the readers'
   lock, the new index and the new embedder replace the old ones together. A crash before
   that transaction leaves the old model in place (and the staged vectors for a resume);
   after it, the next start rebuilds the indexes from SQLite's new vectors and loads the new
   model (the choice is recorded with the switch, see container.py)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from newsdesk.domain import ReindexReport
from newsdesk.embedding import Embedder, SwitchableEmbedder
from newsdesk.errors import InvalidInput, NewsdeskError
from newsdesk.stores.derived import DerivedIndexes
from newsdesk.stores.sqlite import ArticleStore
from newsdesk.stores.vectors import VectorIndex

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
# State keys: the model being staged (what a resume continues), and the model settings the
# collection was switched to (what the next start loads).
TARGET_STATE = "reindex_target"
CHOICE_STATE = "embedding_choice"


class ReindexRunning(NewsdeskError):
    status = 409
    title = "Reindex running"
    slug = "reindex-running"


class Reindexer:
    def __init__(
        self,
        store: ArticleStore,
        indexes: DerivedIndexes,
        live: SwitchableEmbedder,
        vector_index: Callable[[int, str], VectorIndex],
        batch_size: int = 512,
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.live = live
        self.vector_index = vector_index  # an empty index of the given dimension and model
        self.batch_size = batch_size
        self._running = threading.Lock()

    def reindex(
        self, new: Embedder, choice: dict[str, str], progress: Progress | None = None
    ) -> ReindexReport:
        """Re-embed every chunk with ``new`` and switch to it. ``choice`` is the settings
        that build ``new`` (recorded for the next start)."""
        if not self._running.acquire(blocking=False):
            raise ReindexRunning("a reindex is already running in this process")
        try:
            return self._reindex(new, choice, progress)
        finally:
            self._running.release()

    def _reindex(
        self, new: Embedder, choice: dict[str, str], progress: Progress | None
    ) -> ReindexReport:
        started = time.perf_counter()
        previous = self.live.model_id
        model = new.model_id
        if model == previous:
            raise InvalidInput(f"the collection is already embedded with {model}")
        if self.store.get_state(TARGET_STATE) != model:
            self.store.drop_staged()  # an interrupted reindex to another model
            self.store.set_state(TARGET_STATE, model)
        resumed = self.store.staged_count(model)
        if resumed:
            log.info("resuming the reindex to %s: %d chunks already staged", model, resumed)
        embedded, last_id = self._stage(new, -1, progress)

        fresh = self.vector_index(new.dimension, new.model_id)
        id_batches, vector_batches = [], []
        for ids, vectors in self.store.iter_staged_vectors(model):
            id_batches.append(ids)
            vector_batches.append(vectors)
        built_ids = np.concatenate(id_batches) if id_batches else np.zeros(0, dtype=np.int64)
        fresh.rebuild(
            built_ids,
            np.vstack(vector_batches) if vector_batches else np.zeros((0, new.dimension)),
        )

        def commit() -> int:
            # Writers wait from here to the swap: nothing lands in the old index only.
            nonlocal embedded
            caught_up, _ = self._stage(new, last_id, progress, add_to=fresh)
            embedded += caught_up
            gone = np.setdiff1d(built_ids, self.store.all_chunk_ids())
            if len(gone):
                fresh.remove(gone)
            return self.store.switch_embeddings(
                model,
                {"embedding_model": model, CHOICE_STATE: json.dumps(choice), TARGET_STATE: ""},
            )

        self.indexes.switch_model(commit, fresh, model, lambda: self.live.switch(new))
        self.indexes.flush()
        seconds = time.perf_counter() - started
        log.info("reindexed with %s (was %s) in %.1f s", model, previous, seconds)
        return ReindexReport(
            model=model,
            previous_model=previous,
            chunks=self.store.chunk_count(),
            embedded=embedded,
            resumed=resumed,
            seconds=round(seconds, 2),
        )

    def _stage(
        self,
        new: Embedder,
        after_id: int,
        progress: Progress | None,
        add_to: VectorIndex | None = None,
    ) -> tuple[int, int]:
        """Embed and stage the unstaged chunks after ``after_id``, in id order (and add them
        to ``add_to``); how many, and the last id seen."""
        done = 0
        while True:
            ids, texts = self.store.unstaged_chunks(new.model_id, after_id, self.batch_size)
            if not len(ids):
                return done, after_id
            vectors = new.embed(texts)
            self.store.stage_embeddings(new.model_id, ids, vectors)
            if add_to is not None:
                add_to.add(ids, vectors)
            done += len(ids)
            after_id = int(ids[-1])
            if progress:
                progress(len(ids))

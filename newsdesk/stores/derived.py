"""The derived indexes (faiss + BM25), kept in step with SQLite.

SQLite is the source of truth; every committed write bumps its ``generation``. The derived
indexes are saved together as a snapshot that records the generation it reflects; on start a
snapshot from another generation (a crash between the SQLite commit and the snapshot, say) is
discarded and the indexes are rebuilt from the vectors SQLite keeps. So a crash can cost a
rebuild, never consistency.

Readers never wait behind a rebuild of the BM25 index: a write appends its chunks to the
lexical view at once (searchable before the write returns), and a background thread rebuilds
the base BM25 index from a consistent read of SQLite, outside every lock, then swaps it in.
Snapshots are copied while writers wait (readers go on searching: both only read) and
written to disk after.

The vector index is rebuilt beside the readers when it asks to be (``wants_rebuild``): once
when ``vector_index=auto`` and the collection outgrows exact search, and whenever the vectors
an HNSW index holds as deleted (faiss HNSW cannot delete: removals are tombstones) reach
``hnsw_max_deleted_share`` of it. The new index is built in another background thread from a
consistent read of SQLite, the writes committed meanwhile are replayed onto it, and it is
swapped in under the lock; until then searches use the current index, kept up to date as
before. No write rebuilds a vector index under the readers' lock unless it is an IVF-PQ index
not yet trained (a small one)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from newsdesk.metrics import RebuildMetrics, timed_rebuild
from newsdesk.stores.lexical import (
    Bm25Index,
    EngineView,
    LexicalIndex,
    LexicalReader,
    LexicalView,
    Segment,
)
from newsdesk.stores.sqlite import ArticleStore, Changes, WriteResult
from newsdesk.stores.vectors import SerializedVectors, VectorIndex

log = logging.getLogger(__name__)

# 2: the lexical part holds the chunks written since its base was built (pending.json).
# 3: the vector index's deleted ids beside it (vectors.deleted.npy). A format-2 snapshot is
# a format-3 one without deleted ids, so both load; older code rebuilds from a format-3 one.
SNAPSHOT_FORMAT = 3
READABLE_FORMATS = (2, 3)
# A background rebuild of the base BM25 index starts once this many chunks were written or
# removed since the last one: a quarter of the base (so rebuilds during a long ingest cost a
# few times one final build), at least 1,000 and at most 25,000 (what a search scores outside
# the base stays small).
REBUILD_AT_LEAST = 1_000
REBUILD_AT_MOST = 25_000


def rebuild_threshold(base_size: int) -> int:
    return min(max(REBUILD_AT_LEAST, base_size // 4), REBUILD_AT_MOST)


class DerivedIndexes:
    def __init__(
        self,
        store: ArticleStore,
        vectors: VectorIndex,
        lexical: LexicalIndex,
        directory: Path,
        embedding_model: str,
        lexical_engine: LexicalReader | None = None,
    ) -> None:
        self.store = store
        # lexical_store=postgres: lexical search reads the engine, which the store's own
        # write transactions keep (stores/lexical_postgres.py); its view (EngineView) takes
        # no segments, rebuilds and saves nothing.
        self.lexical_kind = "bm25" if lexical_engine is None else "postgres"
        self.vectors = vectors
        self.directory = directory
        self.embedding_model = embedding_model
        # Index state: writes apply their effect under it, searches read under it, so the
        # indexes never run ahead of or behind SQLite. Held only for short steps.
        self.lock = threading.RLock()
        # Writers in commit order: a SQLite commit and its index update are one step, and the
        # next writer's commit waits for it (readers wait only for the index update).
        self._writer = threading.RLock()
        self._flushing = threading.Lock()
        self.lexical_view: LexicalView | EngineView = (
            LexicalView(lexical, -1) if lexical_engine is None else EngineView(lexical_engine)
        )
        # Builds the empty base index a rebuild fills (tests substitute an instrumented one).
        self.lexical_factory: Callable[[], LexicalIndex] = Bm25Index
        self.lexical_rebuilds = 0  # bases swapped in by the background thread
        self.rebuild_metrics = RebuildMetrics()  # read by /metrics
        self.generation = -1
        self._unsaved = False
        self.last_flush = time.monotonic()
        self._rebuild_wanted = threading.Condition(threading.Lock())
        self._rebuild_requested = False
        self._rebuilder: threading.Thread | None = None
        self._closing = False
        # Held while the background thread reads SQLite, so close() never closes the store's
        # connections under it.
        self._reading = threading.Lock()
        # Writes applied while the vector index is rebuilt aside (None when it is not): what
        # the new index must catch up on before it replaces the current one.
        self._vector_log: list[WriteResult] | None = None
        self.vector_switches = 0  # vector indexes swapped in by the background thread

    # --- start-up ------------------------------------------------------------------------
    def open(self) -> str:
        """Load the saved snapshot if it matches SQLite, else rebuild. Returns what happened."""
        with self._writer, self.lock:
            generation = self.store.generation()
            reason = self._snapshot_mismatch(generation)
            if reason is None:
                try:
                    snapshot = self._current_snapshot()
                    assert snapshot is not None
                    self.vectors.load(snapshot / self.vectors.snapshot_file)
                    self._check_vector_counts(snapshot)
                    self.lexical_view = self.lexical_view.loaded(
                        self.lexical_factory(), snapshot / "lexical"
                    )
                    self.generation = self._snapshot_generation(snapshot)
                    self._maybe_request_rebuild()
                    self._maybe_switch_vectors()
                    self._maybe_make_room()
                    if self.generation < generation:
                        caught_up = self._catch_up_locked()
                        return f"loaded, then {caught_up} writes of other processes applied"
                    return "loaded"
                except Exception as exc:  # a damaged snapshot is only a cache: rebuild
                    reason = f"snapshot unreadable ({exc})"
            log.info("rebuilding derived indexes from SQLite: %s", reason)
            self.rebuild()
            return f"rebuilt: {reason}"

    def _snapshot_mismatch(self, generation: int) -> str | None:
        snapshot = self._current_snapshot()
        if snapshot is None:
            return "no saved snapshot"
        try:
            manifest = json.loads((snapshot / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            return f"unreadable manifest ({exc})"
        if manifest.get("format") not in READABLE_FORMATS:
            return f"snapshot format is {manifest.get('format')!r}, expected {SNAPSHOT_FORMAT!r}"
        expected = {
            "generation": generation,
            "embedding_model": self.embedding_model,
            "dimension": self.vectors.dimension,
        }
        saved = manifest.get("generation")
        if self.store.shared and isinstance(saved, int) and saved <= generation:
            gap = self.store.replay_gap(saved)
            if gap is not None:
                return f"snapshot at generation {saved}: {gap}"
            # A shared store's change log holds every write since: the snapshot catches up.
            expected["generation"] = saved
        for key, value in expected.items():
            if manifest.get(key) != value:
                return f"snapshot {key} is {manifest.get(key)!r}, expected {value!r}"
        # Snapshots from before the setting hold an embedded BM25 index.
        if manifest.get("lexical_store", "bm25") != self.lexical_kind:
            return f"snapshot lexical_store is {manifest.get('lexical_store', 'bm25')!r}"
        if not self.vectors.accepts(str(manifest.get("vector_index"))):
            return f"snapshot vector_index is {manifest.get('vector_index')!r}, not configured"
        return None

    def _check_vector_counts(self, snapshot: Path) -> None:
        """A format-3 manifest records the live and deleted vectors it saved: a deleted-ids
        file lost or swapped would otherwise bring removed chunks back."""
        manifest = json.loads((snapshot / "manifest.json").read_text())
        if manifest["format"] < 3:
            return
        saved = (manifest["vectors"], manifest["vectors_deleted"])
        if saved != (len(self.vectors), self.vectors.deleted):
            raise ValueError(
                f"{saved} live and deleted vectors saved, "
                f"{(len(self.vectors), self.vectors.deleted)} loaded"
            )

    @staticmethod
    def _snapshot_generation(snapshot: Path) -> int:
        return int(json.loads((snapshot / "manifest.json").read_text())["generation"])

    def _current_snapshot(self) -> Path | None:
        try:
            name = (self.directory / "CURRENT").read_text().strip()
        except OSError:
            return None
        path = self.directory / name
        return path if name and path.is_dir() else None

    # --- keeping in step -----------------------------------------------------------------
    @timed_rebuild("full")
    def rebuild(self) -> None:
        """Rebuild both indexes from SQLite now, holding off writers and readers."""
        # One read transaction: the generation and the chunks agree even while other
        # processes write (a shared store).
        with self._writer, self.lock, self.store.read_transaction():
            generation = self.store.generation()
            self._rebuild_vectors()
            self.lexical_view = self.lexical_view.rebuilt(
                self.lexical_factory(), self._read_texts, generation
            )
            self.generation = generation
            self._unsaved = True

    @timed_rebuild("vectors")
    def _rebuild_vectors(self) -> None:
        id_batches, vector_batches = [], []
        for ids, vectors in self.store.iter_vectors():
            id_batches.append(ids)
            vector_batches.append(vectors)
        if id_batches:
            self.vectors.rebuild(np.concatenate(id_batches), np.vstack(vector_batches))
        else:
            self.vectors.rebuild(np.zeros(0, dtype=np.int64), np.zeros((0, self.vectors.dimension)))

    def _read_texts(self) -> tuple[np.ndarray, list[str]]:
        """All chunk ids and texts, as of one state of SQLite."""
        ids: list[np.ndarray] = []
        texts: list[str] = []
        for batch_ids, batch_texts in self.store.iter_texts():
            ids.append(batch_ids)
            texts += batch_texts
        return (np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)), texts

    def write(self, commit: Callable[[], WriteResult | None]) -> WriteResult | None:
        """Run a SQLite write and apply its effect to the indexes, as one step: when this
        returns, searches find what it wrote."""
        with self._writer:
            result = commit()
            if result is not None and result.generation > self.generation + 1 and self.store.shared:
                # Other processes wrote since (a shared store): theirs first, in order.
                self._catch_up_locked(until=result.generation - 1)
            # (A rebuild while catching up may already hold this write.)
            if result is not None and result.generation > self.generation:
                # Tokenizing is the slow part of the lexical update: before taking the lock.
                segment = self._segment(result)
                with self.lock:
                    self._apply(result, segment)
            return result

    def _segment(self, result: WriteResult) -> Segment | None:
        """The write's chunks for the embedded lexical view (None: an engine has them)."""
        return self.lexical_view.segment(
            result.generation, result.added_chunk_ids, result.added_texts
        )

    def _apply(self, result: WriteResult, segment: Segment | None) -> None:
        removing = len(result.removed_chunk_ids) > 0
        if self.vectors.can_update(removing=removing):
            self.vectors.remove(result.removed_chunk_ids)
            self.vectors.add(result.added_chunk_ids, result.added_vectors)
            self.vectors.relabel(result.relabelled_chunk_ids)
        else:
            self._rebuild_vectors()
        if segment is not None:
            self.lexical_view = self.lexical_view.added(segment, result.removed_chunk_ids)
        self.generation = result.generation
        self._unsaved = True
        self._maybe_request_rebuild()
        if self._vector_log is not None:
            self._vector_log.append(result)
        self._maybe_switch_vectors()

    # --- following other processes' writes (a shared store) ---------------------------------
    def catch_up(self) -> int:
        """Apply the writes other processes committed since the generation these indexes
        reflect (the change log of a shared store). Returns how many were applied."""
        if not self.store.shared or self.store.generation() <= self.generation:
            return 0
        with self._writer:
            return self._catch_up_locked()

    def _catch_up_locked(self, until: int | None = None) -> int:
        applied = 0
        while until is None or self.generation < until:
            changes: Changes = self.store.changes_after(self.generation)
            if until is not None and changes.generation > until:
                changes = _up_to(changes, until)
            if changes.rebuild:
                log.info(
                    "the change log cannot replay the writes since generation %d (re-embedded"
                    " or pruned): rebuilding the indexes",
                    self.generation,
                )
                self.rebuild()
                return applied + 1
            for result in changes.writes:
                segment = self._segment(result)
                with self.lock:
                    self._apply(result, segment)
                applied += 1
            if changes.generation <= self.generation:
                break
            with self.lock:
                self.generation = changes.generation
                self._unsaved = True
        return applied

    def switch_model(
        self,
        commit: Callable[[], int],
        vectors: VectorIndex,
        embedding_model: str,
        on_switch: Callable[[], None],
    ) -> None:
        """Switch to another embedding model's vectors (index/reindex.py): ``commit`` makes
        them SQLite's (returning the new generation) while writers wait; then ``vectors``,
        built for them, replaces the vector index and ``on_switch`` the query embedder, in
        one step for readers. The BM25 index does not depend on the model."""
        with self._writer:
            generation = commit()
            with self.lock:
                self.vectors = vectors
                self.embedding_model = embedding_model
                self.generation = generation
                self._vector_log = None  # an aside rebuild of the old model's index is void
                self._unsaved = True
                on_switch()

    def fresh_lexical(self) -> LexicalReader:
        """The lexical view including every write that has returned; immutable (or the
        engine's, which reads its committed state), so search it without holding the lock."""
        with self.lock:
            return self.lexical_view.reader

    # --- rebuilding the BM25 base beside the readers -------------------------------------
    def _maybe_request_rebuild(self) -> None:
        view = self.lexical_view
        if isinstance(view, LexicalView) and view.pending >= rebuild_threshold(len(view.base)):
            self.request_lexical_rebuild()

    def request_lexical_rebuild(self) -> None:
        """Rebuild the base BM25 index in the background (once, however often asked while
        one is pending). Nothing to do when an engine keeps the lexical index."""
        with self._rebuild_wanted:
            if self._closing or not self.lexical_view.derived:
                return
            self._rebuild_requested = True
            if self._rebuilder is None:
                self._rebuilder = threading.Thread(
                    target=self._rebuild_lexical_forever, name="bm25-rebuild", daemon=True
                )
                self._rebuilder.start()
            self._rebuild_wanted.notify()

    def _rebuild_lexical_forever(self) -> None:
        while True:
            with self._rebuild_wanted:
                while not (self._rebuild_requested or self._closing):
                    self._rebuild_wanted.wait()
                if self._closing:
                    return
                self._rebuild_requested = False
            try:
                self._rebuild_lexical_aside()
            except Exception:
                if self._closing:
                    return
                log.exception("rebuilding the BM25 index failed; searches use the older one")

    @timed_rebuild("lexical")
    def _rebuild_lexical_aside(self) -> None:
        with self._reading:
            if self._closing:
                return
            with self.store.read_transaction():
                generation = self.store.generation()
                ids, texts = self._read_texts()
        started = time.perf_counter()
        base = self.lexical_factory()
        base.rebuild(ids, texts)  # the slow part: no lock held
        with self.lock:
            view = self.lexical_view
            if self._closing or not isinstance(view, LexicalView):
                return
            if generation <= view.base_generation:
                return
            self.lexical_view = view.rebased(base, generation)
            self.lexical_rebuilds += 1
            self._unsaved = True
        log.info(
            "BM25 index rebuilt beside the readers: %d chunks in %.1f s",
            len(ids),
            time.perf_counter() - started,
        )

    # --- spare capacity for adds, made beside the readers ---------------------------------
    def _maybe_make_room(self) -> None:
        """A loaded HNSW index has no spare capacity: its first add would copy all of it
        under the readers' lock (about a second at a million chunks). Copy it once in the
        background instead, with room to grow, and swap the copy in."""
        if self.vectors.needs_room(1):
            threading.Thread(target=self._make_room_aside, name="vector-room", daemon=True).start()

    def _make_room_aside(self) -> None:
        # Writers wait for the copy (a write must not land only in the index being replaced);
        # readers go on searching the current one, which the copy only reads.
        with self._writer:
            if self._closing or not self.vectors.needs_room(1):
                return
            started = time.perf_counter()
            roomy = self.vectors.with_room()
            with self.lock:
                self.vectors.adopt(roomy)
        log.info("vector index copied with room to grow in %.1f s", time.perf_counter() - started)

    # --- switching the vector index beside the readers ------------------------------------
    def _maybe_switch_vectors(self) -> None:
        """Start building the vector index a rebuild would now choose, once (under the lock)."""
        if self._vector_log is not None or self._closing or not self.vectors.wants_rebuild():
            return
        self._vector_log = []
        threading.Thread(target=self._switch_vectors, name="vector-rebuild", daemon=True).start()

    def _switch_vectors(self) -> None:
        switches = self.vector_switches
        try:
            self._rebuild_vectors_aside()
        except Exception:
            if not self._closing:
                log.exception("rebuilding the vector index failed; searches use the older one")
        finally:
            with self.lock:
                self._vector_log = None
                # Removals replayed onto the new index may already call for the next
                # compaction; after a failure, the next write asks again.
                if self.vector_switches > switches:
                    self._maybe_switch_vectors()

    @timed_rebuild("vectors")
    def _rebuild_vectors_aside(self) -> None:
        model = self.embedding_model
        with self._reading:
            if self._closing:
                return
            with self.store.read_transaction():
                generation = self.store.generation()
                id_batches, vector_batches = [], []
                for ids, vectors in self.store.iter_vectors():
                    id_batches.append(ids)
                    vector_batches.append(vectors)
        started = time.perf_counter()
        dimension = self.vectors.dimension
        fresh = self.vectors.rebuilt(  # the slow part: no lock held
            np.concatenate(id_batches) if id_batches else np.zeros(0, dtype=np.int64),
            np.vstack(vector_batches) if vector_batches else np.zeros((0, dimension)),
        )
        # The writers' lock first (the order writers take them in): a flush copying the index
        # holds it, and must not see the index change under it.
        with self._writer, self.lock:
            if self._closing or self._vector_log is None or self.embedding_model != model:
                return  # closing, or a reindex switched models meanwhile
            if generation > self.generation:
                log.info("the vector index rebuild read writes not applied yet; it will start over")
                return
            later = [r for r in self._vector_log if r.generation > generation]
            if any(len(r.removed_chunk_ids) for r in later) and not fresh.can_update(removing=True):
                log.info("chunks removed during the vector index rebuild; it will start over")
                return
            for result in later:
                fresh.remove(result.removed_chunk_ids)
                fresh.add(result.added_chunk_ids, result.added_vectors)
            self.vectors.adopt(fresh)
            self.vector_switches += 1
            self._unsaved = True
        log.info(
            "vector index rebuilt beside the readers as %s: %d chunks in %.1f s",
            self.vectors.kind,
            len(self.vectors),
            time.perf_counter() - started,
        )

    def close(self) -> None:
        """Stop background rebuilds (without waiting for one to finish) and flush."""
        with self._reading, self._rebuild_wanted:
            self._closing = True
            self._rebuild_wanted.notify_all()
        try:
            self.flush()
        finally:
            self.vectors.close()

    # --- persistence ---------------------------------------------------------------------
    @property
    def unsaved(self) -> bool:
        return self._unsaved

    def flush(self) -> bool:
        """Write a snapshot if anything changed since the last one. Returns whether it wrote.

        The vector index is copied while writers wait (nothing may change it meanwhile) but
        not under the readers' lock: searching and copying both only read it, and at a
        million chunks the copy takes a second or more. The files are written after."""
        with self._flushing:
            with self._writer:
                with self.lock:
                    self.last_flush = time.monotonic()
                    if not self._unsaved:
                        return False
                    generation = self.generation
                    count = len(self.vectors)
                    deleted = self.vectors.deleted
                    kind = self.vectors.kind
                    lexical = self.lexical_view
                    self._unsaved = False
                try:
                    vectors = self.vectors.serialized()
                except BaseException:
                    with self.lock:
                        self._unsaved = True
                    raise
            try:
                self._write_snapshot(generation, vectors, (count, deleted), kind, lexical)
            except BaseException:
                with self.lock:
                    self._unsaved = True
                raise
            return True

    def flush_if_due(self, interval_seconds: float) -> bool:
        """Flush unsaved changes once ``interval_seconds`` have passed since the last flush."""
        if self._unsaved and time.monotonic() - self.last_flush >= interval_seconds:
            return self.flush()
        return False

    def _write_snapshot(
        self,
        generation: int,
        vectors: SerializedVectors,
        counts: tuple[int, int],
        kind: str,
        lexical: LexicalView | EngineView,
    ) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = self.directory / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            vectors.write(staging / self.vectors.snapshot_file)
            lexical.save(staging / "lexical")
            manifest = {
                "format": SNAPSHOT_FORMAT,
                "lexical_store": self.lexical_kind,
                "generation": generation,
                "embedding_model": self.embedding_model,
                "vector_index": kind,
                "dimension": self.vectors.dimension,
                "vectors": counts[0],  # live
                "vectors_deleted": counts[1],
                "written_at": time.time(),
            }
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
            _fsync_tree(staging)
            final = self.directory / f"snapshot-{generation:012d}-{uuid.uuid4().hex[:8]}"
            staging.rename(final)
            pointer = self.directory / "CURRENT.tmp"
            pointer.write_text(final.name)
            _fsync_file(pointer)
            os.replace(pointer, self.directory / "CURRENT")
            _fsync_dir(self.directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._remove_old_snapshots(keep=final.name)

    def _remove_old_snapshots(self, keep: str) -> None:
        for entry in self.directory.iterdir():
            if entry.is_dir() and entry.name != keep:
                shutil.rmtree(entry, ignore_errors=True)


def _up_to(changes: Changes, until: int) -> Changes:
    """The part of ``changes`` up to generation ``until``."""
    return Changes(
        [w for w in changes.writes if w.generation <= until],
        until,
        rebuild=changes.rebuild,
    )


def restamp_snapshot(directory: Path, generation: int, now: int) -> bool:
    """Mark the snapshot in ``directory`` taken at SQLite ``generation`` as reflecting ``now``.

    Only for a caller that knows SQLite's chunks at ``now`` are exactly those at
    ``generation`` (the write probe of the search benchmark adds an article and deletes it
    again): the snapshot then still matches, and the next open loads it instead of
    rebuilding. The manifest is replaced atomically: a crash leaves the old one (a rebuild).
    Returns whether it restamped."""
    name = (directory / "CURRENT").read_text().strip() if (directory / "CURRENT").is_file() else ""
    path = directory / name / "manifest.json"
    if not name or not path.is_file():
        return False
    manifest = json.loads(path.read_text())
    if manifest.get("generation") != generation:
        return False
    staged = path.with_name("manifest.json.tmp")
    staged.write_text(json.dumps({**manifest, "generation": now}, indent=2))
    _fsync_file(staged)
    os.replace(staged, path)
    _fsync_dir(path.parent)
    return True


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file():
            _fsync_file(path)
        else:
            _fsync_dir(path)
    _fsync_dir(root)

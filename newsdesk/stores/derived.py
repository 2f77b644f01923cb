"""The derived indexes (faiss + BM25), kept in step with SQLite.

SQLite is the source of truth; every committed write bumps its ``generation``. The derived
indexes are saved together as a snapshot that records the generation it reflects; on start a
snapshot from another generation (a crash between the SQLite commit and the snapshot, say) is
discarded and the indexes are rebuilt from the vectors SQLite keeps. So a crash can cost a
rebuild, never consistency."""

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

from newsdesk.stores.lexical import LexicalIndex
from newsdesk.stores.sqlite import ArticleStore, WriteResult
from newsdesk.stores.vectors import VectorIndex

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 1


class DerivedIndexes:
    def __init__(
        self,
        store: ArticleStore,
        vectors: VectorIndex,
        lexical: LexicalIndex,
        directory: Path,
        embedding_model: str,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.lexical = lexical
        self.directory = directory
        self.embedding_model = embedding_model
        # One lock for index state: writes (SQLite commit + index update) are serialised with
        # each other and with searches, so the indexes never run ahead of or behind SQLite.
        self.lock = threading.RLock()
        self.generation = -1
        self._lexical_stale = False
        self._unsaved = False
        self.last_flush = time.monotonic()

    # --- start-up ------------------------------------------------------------------------
    def open(self) -> str:
        """Load the saved snapshot if it matches SQLite, else rebuild. Returns what happened."""
        with self.lock:
            generation = self.store.generation()
            reason = self._snapshot_mismatch(generation)
            if reason is None:
                try:
                    snapshot = self._current_snapshot()
                    assert snapshot is not None
                    self.vectors.load(snapshot / "vectors.faiss")
                    self.lexical.load(snapshot / "lexical")
                    self.generation = generation
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
        expected = {
            "format": SNAPSHOT_FORMAT,
            "generation": generation,
            "embedding_model": self.embedding_model,
            "vector_index": self.vectors.kind,
            "dimension": self.vectors.dimension,
        }
        for key, value in expected.items():
            if manifest.get(key) != value:
                return f"snapshot {key} is {manifest.get(key)!r}, expected {value!r}"
        return None

    def _current_snapshot(self) -> Path | None:
        try:
            name = (self.directory / "CURRENT").read_text().strip()
        except OSError:
            return None
        path = self.directory / name
        return path if name and path.is_dir() else None

    # --- keeping in step -----------------------------------------------------------------
    def rebuild(self) -> None:
        with self.lock:
            self._rebuild_vectors()
            self._rebuild_lexical()
            self.generation = self.store.generation()
            self._unsaved = True

    def _rebuild_vectors(self) -> None:
        id_batches, vector_batches = [], []
        for ids, vectors in self.store.iter_vectors():
            id_batches.append(ids)
            vector_batches.append(vectors)
        if id_batches:
            self.vectors.rebuild(np.concatenate(id_batches), np.vstack(vector_batches))
        else:
            self.vectors.rebuild(np.zeros(0, dtype=np.int64), np.zeros((0, self.vectors.dimension)))

    def _rebuild_lexical(self) -> None:
        ids: list[np.ndarray] = []
        texts: list[str] = []
        for batch_ids, batch_texts in self.store.iter_texts():
            ids.append(batch_ids)
            texts += batch_texts
        self.lexical.rebuild(np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64), texts)
        self._lexical_stale = False

    def write(self, commit: Callable[[], WriteResult | None]) -> WriteResult | None:
        """Run a SQLite write and apply its effect to the indexes, as one step."""
        with self.lock:
            result = commit()
            if result is not None:
                self._apply(result)
            return result

    def _apply(self, result: WriteResult) -> None:
        removing = len(result.removed_chunk_ids) > 0
        if self.vectors.can_update(removing=removing):
            self.vectors.remove(result.removed_chunk_ids)
            self.vectors.add(result.added_chunk_ids, result.added_vectors)
        else:
            self._rebuild_vectors()
        self._lexical_stale = True
        self.generation = result.generation
        self._unsaved = True

    def fresh_lexical(self) -> LexicalIndex:
        """The BM25 index, rebuilt first if writes happened since it was built."""
        with self.lock:
            if self._lexical_stale:
                self._rebuild_lexical()
            return self.lexical

    # --- persistence ---------------------------------------------------------------------
    @property
    def unsaved(self) -> bool:
        return self._unsaved

    def flush(self) -> bool:
        """Write a snapshot if anything changed since the last one. Returns whether it wrote."""
        with self.lock:
            self.last_flush = time.monotonic()
            if not self._unsaved:
                return False
            if self._lexical_stale:
                self._rebuild_lexical()
            self._write_snapshot()
            self._unsaved = False
            return True

    def flush_if_due(self, interval_seconds: float) -> bool:
        """Flush unsaved changes once ``interval_seconds`` have passed since the last flush."""
        if self._unsaved and time.monotonic() - self.last_flush >= interval_seconds:
            return self.flush()
        return False

    def _write_snapshot(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = self.directory / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            self.vectors.save(staging / "vectors.faiss")
            self.lexical.save(staging / "lexical")
            manifest = {
                "format": SNAPSHOT_FORMAT,
                "generation": self.generation,
                "embedding_model": self.embedding_model,
                "vector_index": self.vectors.kind,
                "dimension": self.vectors.dimension,
                "vectors": len(self.vectors),
                "written_at": time.time(),
            }
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
            _fsync_tree(staging)
            final = self.directory / f"snapshot-{self.generation:012d}-{uuid.uuid4().hex[:8]}"
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

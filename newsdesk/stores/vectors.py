"""faiss vector index keyed by stable 64-bit chunk ids.

``flat`` is exact inner-product search (cosine, since vectors are unit length). ``hnsw`` and
``ivfpq`` are approximate, for large archives; they cannot always update in place, and say so
through ``can_update``, so the owner rebuilds them from SQLite instead.

``auto`` is flat below ``auto_hnsw_chunks`` chunks and HNSW from there on: exact search costs
time linear in the collection, HNSW about logarithmic. A growing flat index says so through
``wants_rebuild``; its owner builds the HNSW replacement with ``rebuilt`` away from readers
and swaps it in with ``adopt``. ``kind`` is always the kind in use."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from newsdesk.settings import Settings


class VectorIndex(Protocol):
    @property
    def kind(self) -> str: ...

    dimension: int

    def __len__(self) -> int: ...

    def can_update(self, *, removing: bool) -> bool:
        """Whether add/remove work in place now; if not, rebuild() from all vectors."""

    def accepts(self, kind: str) -> bool:
        """Whether a saved index of this kind serves the configured setting."""

    def wants_rebuild(self) -> bool:
        """Whether a rebuild would now choose another kind (``auto`` outgrowing flat)."""

    def rebuilt(self, ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
        """A new index of the same settings built from these vectors; this one is untouched."""

    def adopt(self, other: VectorIndex) -> None:
        """Take over the contents of an index ``rebuilt`` returned."""

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def search(
        self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids of the k best rows (fewer if the index holds fewer)."""

    def save(self, path: Path) -> None: ...

    def serialized(self) -> np.ndarray:
        """The index as the bytes ``save`` writes, copied: a snapshot to write out later
        while the index keeps changing."""

    def load(self, path: Path) -> None: ...


class FaissVectorIndex:
    def __init__(self, dimension: int, settings: Settings) -> None:
        self.setting = settings.vector_index
        self.kind: str = "flat" if self.setting == "auto" else self.setting
        self.dimension = dimension
        self._settings = settings
        self._index = self._empty()

    def _chosen_kind(self, count: int) -> str:
        """The kind a rebuild of ``count`` vectors makes."""
        if self.setting != "auto":
            return self.setting
        return "hnsw" if count >= self._settings.auto_hnsw_chunks else "flat"

    def accepts(self, kind: str) -> bool:
        return kind == self.setting or (self.setting == "auto" and kind in ("flat", "hnsw"))

    def wants_rebuild(self) -> bool:
        # Only upwards: an HNSW index whose collection shrank stays HNSW (no flapping).
        return (
            self.setting == "auto"
            and self.kind == "flat"
            and self._chosen_kind(len(self)) == "hnsw"
        )

    def rebuilt(self, ids: np.ndarray, vectors: np.ndarray) -> FaissVectorIndex:
        fresh = FaissVectorIndex(self.dimension, self._settings)
        fresh.rebuild(ids, vectors)
        return fresh

    def adopt(self, other: VectorIndex) -> None:
        assert isinstance(other, FaissVectorIndex)
        self._index, self.kind = other._index, other.kind

    def _empty(self) -> faiss.Index:
        if self.kind == "hnsw":
            inner = faiss.IndexHNSWFlat(
                self.dimension, self._settings.hnsw_m, faiss.METRIC_INNER_PRODUCT
            )
        else:
            # ivfpq starts flat and is trained in rebuild(), once there are vectors to train on.
            inner = faiss.IndexFlatIP(self.dimension)
        return faiss.IndexIDMap2(inner)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def _is_trained_ivfpq(self) -> bool:
        return isinstance(faiss.downcast_index(self._index.index), faiss.IndexIVFPQ)

    def can_update(self, *, removing: bool) -> bool:
        if self.kind == "flat":
            return True
        if self.kind == "hnsw":
            return not removing  # faiss HNSW cannot delete
        return self._is_trained_ivfpq()

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(_as_matrix(vectors, self.dimension), ids.astype(np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        matrix = _as_matrix(vectors, self.dimension)
        self.kind = self._chosen_kind(len(ids))
        index = self._trained_ivfpq(matrix) if self.kind == "ivfpq" and len(ids) else self._empty()
        if len(ids):
            index.add_with_ids(matrix, ids.astype(np.int64))
        self._index = index

    def _trained_ivfpq(self, vectors: np.ndarray) -> faiss.Index:
        s = self._settings
        # faiss wants ~39 training points per cell and 2^bits per code; shrink for small sets.
        nlist = max(1, min(s.ivf_nlist, len(vectors) // 39))
        m = s.pq_m if self.dimension % s.pq_m == 0 else 8
        bits = 8 if len(vectors) >= 256 * 39 else 4
        inner = faiss.index_factory(
            self.dimension, f"IVF{nlist},PQ{m}x{bits}", faiss.METRIC_INNER_PRODUCT
        )
        inner.train(vectors)
        return faiss.IndexIDMap2(inner)

    def search(
        self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if len(self) == 0 or k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        # One query per call: on this thread (OpenMP's setting is per thread) search on one
        # core. Splitting one query across cores made a flat search of 100k vectors 4x slower
        # on a busy 2-core machine; concurrent requests use the other cores anyway.
        faiss.omp_set_num_threads(1)
        scores, ids = self._index.search(
            _as_matrix(query, self.dimension),
            min(k, len(self)),
            params=self._search_params(allowed_ids),
        )
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def _search_params(self, allowed_ids: np.ndarray | None) -> faiss.SearchParameters | None:
        selector = (
            faiss.IDSelectorBatch(np.ascontiguousarray(allowed_ids, dtype=np.int64))
            if allowed_ids is not None
            else None
        )
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self._settings.hnsw_ef_search)
        if self._is_trained_ivfpq():
            return faiss.SearchParametersIVF(sel=selector, nprobe=self._settings.ivf_nprobe)
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    def serialized(self) -> np.ndarray:
        return np.asarray(faiss.serialize_index(self._index))

    def load(self, path: Path) -> None:
        index = faiss.read_index(str(path))
        if index.d != self.dimension:
            raise ValueError(f"index at {path} has dimension {index.d}, expected {self.dimension}")
        self._index = index
        # A small ivfpq index is an untrained flat one and still counts as ivfpq.
        self.kind = _kind_of(index) if self.setting == "auto" else self.setting


def _kind_of(index: faiss.Index) -> str:
    inner = faiss.downcast_index(faiss.downcast_index(index).index)
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVFPQ):
        return "ivfpq"
    return "flat"


def _as_matrix(vectors: np.ndarray, dimension: int) -> np.ndarray:
    return np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)

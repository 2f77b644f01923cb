"""faiss vector index keyed by stable 64-bit chunk ids.

``flat`` is exact inner-product search (cosine, since vectors are unit length). ``hnsw`` and
``ivfpq`` are approximate, for large archives. ``ivfpq`` cannot update in place until it is
trained, and says so through ``can_update``, so the owner rebuilds it from SQLite instead.

faiss HNSW cannot delete, so removing from an ``hnsw`` index marks the ids deleted
(tombstones: a bitmap by chunk id, excluded from every search through a faiss ``IDSelector``,
and saved beside the index). Chunk ids are never reused (SQLite AUTOINCREMENT), so a replaced
article's new chunks are plain adds. Once the deleted ids reach ``hnsw_max_deleted_share`` of
the index, ``wants_rebuild`` asks the owner for a compacted index, built beside the readers as
the flat-to-HNSW switch is. ``len()`` counts live vectors only.

``auto`` is flat below ``auto_hnsw_chunks`` chunks and HNSW from there on: exact search costs
time linear in the collection, HNSW about logarithmic. A growing flat index says so through
``wants_rebuild``; its owner builds the HNSW replacement with ``rebuilt`` away from readers
and swaps it in with ``adopt``. ``kind`` is always the kind in use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from newsdesk.domain import SearchFilters
from newsdesk.settings import Settings


@dataclass(frozen=True, slots=True)
class SerializedVectors:
    """A copy of an index as ``save`` writes it: the faiss bytes and the deleted ids."""

    index: np.ndarray  # faiss.serialize_index's bytes
    deleted: np.ndarray  # int64 chunk ids marked deleted (HNSW tombstones), sorted

    def write(self, path: Path) -> None:
        self.index.tofile(path)
        np.save(deleted_path(path), self.deleted)


def deleted_path(index_path: Path) -> Path:
    """Where the deleted ids of the index saved at ``index_path`` are kept."""
    return index_path.with_name(index_path.stem + ".deleted.npy")


class VectorIndex(Protocol):
    @property
    def kind(self) -> str: ...

    dimension: int
    # The file in a snapshot directory that ``save`` writes and ``load`` reads.
    snapshot_file: str
    # Whether ``search`` applies a request's filters itself (given as ``filters``), so that
    # no list of allowed chunk ids need be read first.
    pushes_down_filters: bool

    def __len__(self) -> int:
        """Live vectors: those searches can return."""

    @property
    def deleted(self) -> int:
        """Vectors marked deleted but still stored (HNSW tombstones)."""

    def deleted_ids(self) -> np.ndarray:
        """The chunk ids marked deleted, sorted."""

    def can_update(self, *, removing: bool) -> bool:
        """Whether add/remove work in place now; if not, rebuild() from all vectors."""

    def accepts(self, kind: str) -> bool:
        """Whether a saved index of this kind serves the configured setting."""

    def wants_rebuild(self) -> bool:
        """Whether a rebuild is due: ``auto`` outgrowing flat, or an HNSW index holding too
        many deleted vectors."""

    def rebuilt(self, ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
        """A new index of the same settings built from these vectors; this one is untouched."""

    def adopt(self, other: VectorIndex) -> None:
        """Take over the contents of an index ``rebuilt`` returned."""

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def relabel(self, ids: np.ndarray) -> None:
        """These chunks' articles changed fields but not text: an index that stores the
        fields filters look at updates them."""

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed_ids: np.ndarray | None = None,
        filters: SearchFilters | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids of the k best rows (fewer if the index holds fewer), among
        ``allowed_ids`` and matching ``filters`` when given (``filters`` only where
        ``pushes_down_filters``)."""

    def save(self, path: Path) -> None: ...

    def serialized(self) -> SerializedVectors:
        """The index as ``save`` writes it, copied: a snapshot to write out later while the
        index keeps changing."""

    def load(self, path: Path) -> None:
        """Load what ``save`` wrote (no deleted-ids file beside it: none deleted)."""

    def needs_room(self, adding: int) -> bool:
        """Whether adding this many vectors would reallocate the whole index (copying it,
        under the readers' lock) rather than fill spare capacity."""

    def with_room(self) -> VectorIndex:
        """A copy with spare capacity for adds; this one is untouched (build it beside the
        readers, then ``adopt`` it)."""

    def close(self) -> None:
        """Release what the index holds outside this process's memory (connections)."""


class FaissVectorIndex:
    snapshot_file = "vectors.faiss"
    pushes_down_filters = False

    def __init__(self, dimension: int, settings: Settings) -> None:
        self.setting = settings.vector_index
        self.kind: str = "flat" if self.setting == "auto" else self.setting
        self.dimension = dimension
        self._settings = settings
        self._index = self._empty()
        # Tombstones (HNSW only): bit i of the bitmap set = chunk id i deleted. Replaced, never
        # changed in place, so a search holding the old one reads a consistent set.
        self._deleted = _NO_IDS
        self._deleted_count = 0
        # Adds the index can take before its arrays must grow (a copy of all of them), when
        # known: faiss loads an index at exactly its size, so the first add after a load
        # copies everything (about a second at a million chunks). None: grown by adds, so
        # amortised doubling already left room.
        self._room: int | None = None

    def _chosen_kind(self, count: int) -> str:
        """The kind a rebuild of ``count`` vectors makes."""
        if self.setting != "auto":
            return self.setting
        return "hnsw" if count >= self._settings.auto_hnsw_chunks else "flat"

    def accepts(self, kind: str) -> bool:
        return kind == self.setting or (self.setting == "auto" and kind in ("flat", "hnsw"))

    def wants_rebuild(self) -> bool:
        # Only upwards: an HNSW index whose collection shrank stays HNSW (no flapping).
        outgrown = (
            self.setting == "auto"
            and self.kind == "flat"
            and self._chosen_kind(len(self)) == "hnsw"
        )
        return outgrown or self._deleted_count > self._settings.hnsw_max_deleted_share * max(
            1, int(self._index.ntotal)
        )

    def rebuilt(self, ids: np.ndarray, vectors: np.ndarray) -> FaissVectorIndex:
        fresh = FaissVectorIndex(self.dimension, self._settings)
        fresh.rebuild(ids, vectors)
        return fresh

    def adopt(self, other: VectorIndex) -> None:
        assert isinstance(other, FaissVectorIndex)
        self._index, self.kind = other._index, other.kind
        self._deleted, self._deleted_count = other._deleted, other._deleted_count
        self._room = other._room

    def needs_room(self, adding: int) -> bool:
        return self.kind == "hnsw" and self._room is not None and adding > self._room

    def with_room(self) -> FaissVectorIndex:
        roomy = FaissVectorIndex(self.dimension, self._settings)
        roomy.kind, roomy._deleted, roomy._deleted_count = (
            self.kind,
            self._deleted,
            self._deleted_count,
        )
        roomy._index = faiss.clone_index(self._index)
        roomy._room = _grow_capacity(roomy._index, HEADROOM_SHARE)
        return roomy

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
        return int(self._index.ntotal) - self._deleted_count

    @property
    def deleted(self) -> int:
        return self._deleted_count

    def deleted_ids(self) -> np.ndarray:
        """The chunk ids marked deleted, sorted."""
        bits = np.unpackbits(self._deleted, bitorder="little")
        return np.flatnonzero(bits).astype(np.int64)

    def _is_trained_ivfpq(self) -> bool:
        return isinstance(faiss.downcast_index(self._index.index), faiss.IndexIVFPQ)

    def can_update(self, *, removing: bool) -> bool:
        if self.kind == "flat":
            return True
        if self.kind == "hnsw":
            return True  # removals become tombstones
        return self._is_trained_ivfpq()

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if self._room is not None:
            # Past the room the arrays double as they grow: room enough from then on.
            self._room = self._room - len(ids) if len(ids) <= self._room else None
        if len(ids):
            if self._deleted_count and _members(self._deleted, ids).any():
                # A deleted id added again would be hidden by its own tombstone.
                raise ValueError("chunk ids are never reused, but a deleted one was added")
            self._index.add_with_ids(_as_matrix(vectors, self.dimension), ids.astype(np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if not len(ids):
            return
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self.kind == "hnsw":
            self._mark_deleted(ids)
        else:
            self._index.remove_ids(ids)

    def _mark_deleted(self, ids: np.ndarray, *, check: bool = True) -> None:
        # Only ids the index holds and not yet deleted count: len() stays the live count.
        # (A saved snapshot's ids were checked when they were marked: loading skips that.)
        fresh = np.unique(ids[~_members(self._deleted, ids)])
        if check and len(fresh):
            fresh = fresh[np.array([self._holds(int(i)) for i in fresh], dtype=bool)]
        if not len(fresh):
            return
        size = max(len(self._deleted), int(fresh.max()) // 8 + 1)
        bitmap = np.zeros(size, dtype=np.uint8)
        bitmap[: len(self._deleted)] = self._deleted
        np.bitwise_or.at(bitmap, fresh // 8, (1 << (fresh % 8)).astype(np.uint8))
        self._deleted, self._deleted_count = bitmap, self._deleted_count + len(fresh)

    def _holds(self, chunk_id: int) -> bool:
        try:
            self._index.reconstruct(chunk_id)  # a hash lookup in IndexIDMap2
        except RuntimeError:
            return False
        return True

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        matrix = _as_matrix(vectors, self.dimension)
        self.kind = self._chosen_kind(len(ids))
        index = self._trained_ivfpq(matrix) if self.kind == "ivfpq" and len(ids) else self._empty()
        if len(ids):
            index.add_with_ids(matrix, ids.astype(np.int64))
        self._index, self._deleted, self._deleted_count = index, _NO_IDS, 0
        self._room = None

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

    def relabel(self, ids: np.ndarray) -> None:
        pass  # faiss holds vectors only: filters are applied through allowed ids

    def close(self) -> None:
        pass

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed_ids: np.ndarray | None = None,
        filters: SearchFilters | None = None,
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
        if self._deleted_count:
            selector = _excluding(self._deleted, selector)
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self._settings.hnsw_ef_search)
        if self._is_trained_ivfpq():
            return faiss.SearchParametersIVF(sel=selector, nprobe=self._settings.ivf_nprobe)
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))
        np.save(deleted_path(path), self.deleted_ids())

    def serialized(self) -> SerializedVectors:
        return SerializedVectors(np.asarray(faiss.serialize_index(self._index)), self.deleted_ids())

    def load(self, path: Path) -> None:
        index = faiss.read_index(str(path))
        if index.d != self.dimension:
            raise ValueError(f"index at {path} has dimension {index.d}, expected {self.dimension}")
        deleted = (
            np.load(deleted_path(path), allow_pickle=False)
            if deleted_path(path).is_file()
            else np.zeros(0, dtype=np.int64)
        )
        self._index, self._deleted, self._deleted_count = index, _NO_IDS, 0
        self._mark_deleted(deleted.astype(np.int64), check=False)
        if self._deleted_count > index.ntotal:
            raise ValueError(f"{deleted_path(path)} names more ids than the index holds")
        # A small ivfpq index is an untrained flat one and still counts as ivfpq.
        self.kind = _kind_of(index) if self.setting == "auto" else self.setting
        self._room = 0 if self.kind == "hnsw" else None


# Spare capacity made beside the readers after an HNSW index is loaded: a tenth of its size
# (at a million chunks 100k chunks of adds, 180 MB) before the arrays grow again by doubling.
HEADROOM_SHARE = 0.1


def _grow_capacity(index: faiss.Index, share: float) -> int:
    """Give an HNSW index's arrays spare capacity for ``share`` of its size in adds, without
    changing its contents; returns that many. faiss exposes no reserve(): growing a
    std::vector and shrinking it back keeps the capacity."""
    id_map = faiss.downcast_index(index)
    inner = faiss.downcast_index(id_map.index)
    storage = faiss.downcast_index(inner.storage)
    extra = max(1024, int(inner.ntotal * share))
    hnsw = inner.hnsw
    # Most nodes live on level 0 only; a tenth more covers the few on upper levels.
    neighbours = extra * hnsw.nb_neighbors(0) * 11 // 10
    arrays = [
        (storage.codes, extra * storage.code_size),
        (hnsw.levels, extra),
        (hnsw.offsets, extra),
        (hnsw.neighbors, neighbours),
        (id_map.id_map, extra),
    ]
    for array, more in arrays:
        size = array.size()
        array.resize(size + more)
        array.resize(size)
    return extra


def _kind_of(index: faiss.Index) -> str:
    inner = faiss.downcast_index(faiss.downcast_index(index).index)
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVFPQ):
        return "ivfpq"
    return "flat"


_NO_IDS = np.zeros(0, dtype=np.uint8)


def _members(bitmap: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Whether each id's bit is set in ``bitmap`` (faiss's order: bit i%8 of byte i//8)."""
    ids = np.asarray(ids, dtype=np.int64)
    inside = (ids >= 0) & (ids // 8 < len(bitmap))
    found = np.zeros(len(ids), dtype=bool)
    at = ids[inside]
    found[inside] = (bitmap[at // 8] >> (at % 8)) & 1 == 1
    return found


def _excluding(bitmap: np.ndarray, allowed: faiss.IDSelector | None) -> faiss.IDSelector:
    """A selector of the ids not set in ``bitmap`` (and in ``allowed``, if given).

    SWIG selectors do not own the selectors or the memory they point to: the result keeps
    references to them, so they live as long as it does."""
    deleted = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
    live = faiss.IDSelectorNot(deleted)
    selector = live if allowed is None else faiss.IDSelectorAnd(allowed, live)
    selector.referenced = (bitmap, deleted, live, allowed)
    return selector


def _as_matrix(vectors: np.ndarray, dimension: int) -> np.ndarray:
    return np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)

"""Chunk vectors in Milvus (``vector_store=milvus``): milvus-lite in a local ``.db`` directory,
or a Milvus server by URI, through pymilvus.

The vectors live in Milvus, each row keyed by the chunk's never-reused SQLite id and carrying
what search filters look at (article id, outlet, date), so a filtered search is one Milvus
search with the filters in its expression, not a list of allowed ids read from SQLite first.
SQLite stays the source of truth. A snapshot holds no vectors, only a marker: the collection
and how many rows it had when the snapshot's generation was written (after a Milvus flush). A
snapshot that does not match, or a marker whose count Milvus no longer has, makes the owner
"rebuild", which here is a reconciliation: rows SQLite no longer has are deleted, missing rows
and rows whose article's fields changed are written; matching rows stay untouched.

The collection's name carries a hash of the embedding model, so a model change fills a new
collection (the old ones under the same prefix are dropped once it is full)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from newsdesk.domain import SearchFilters
from newsdesk.errors import VectorStoreUnavailable
from newsdesk.settings import Settings
from newsdesk.stores.sqlite import ChunkAttributes
from newsdesk.stores.vectors import SerializedVectors, VectorIndex

# vector_index → Milvus index type. milvus-lite has no product quantisation: IVF_PQ needs a
# Milvus server (milvus-lite refuses it when the index is created, with its own message).
INDEX_TYPES = {"flat": "FLAT", "hnsw": "HNSW", "auto": "AUTOINDEX", "ivfpq": "IVF_PQ"}
# Rows per insert or upsert call: 5,000 384-dimensional rows are about 8 MB, well below
# gRPC's 64 MB message limit.
BATCH = 5_000
# Milvus caps a search's limit (topk) and a query's at 16,384 rows.
MAX_LIMIT = 16_384
# Ids per query when reading every row (chunk ids are dense: at most this many rows each).
WINDOW = 10_000
SOURCE_CHARS = 500  # ArticleInput.source's max_length
ARTICLE_ID_CHARS = 200  # ARTICLE_ID_PATTERN's length
FILTER_FIELDS = ("article_id", "source", "published_at")

log = logging.getLogger(__name__)

Attributes = Callable[[Sequence[int]], dict[int, ChunkAttributes]]
_EMPTY = np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)


def collection_name(prefix: str, model_id: str) -> str:
    return f"{prefix}_{hashlib.sha256(model_id.encode()).hexdigest()[:12]}"


def filter_expression(filters: SearchFilters) -> str:
    """``filters`` as a Milvus boolean expression over the rows' fields ("" for none). Like
    SQLite's, a row without an outlet or a date matches no condition on it (a date bound keeps
    undated rows only with ``include_undated``)."""
    clauses = []
    if filters.sources:
        clauses.append(f"source in [{', '.join(map(_literal, filters.sources))}]")
    if filters.article_ids:
        clauses.append(f"article_id in [{', '.join(map(_literal, filters.article_ids))}]")
    dates = []
    if filters.published_after:
        dates.append(f"published_at >= {_micros(filters.published_after)}")
    if filters.published_before:
        dates.append(f"published_at <= {_micros(filters.published_before)}")
    if dates:
        within = " and ".join(dates)
        clauses.append(f"(published_at IS NULL or {within})" if filters.include_undated else within)
    return " and ".join(clauses)


def _literal(text: str) -> str:
    """A Milvus string literal: double quotes, C-style escapes."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch, UTC: exact, and ordered as SQLite's ISO strings are."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _connect(uri: str) -> Any:
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise VectorStoreUnavailable(
            "vector_store=milvus needs pymilvus and milvus-lite: pip install 'newsdesk[milvus]'"
        ) from exc
    try:
        return MilvusClient(uri=uri)
    except Exception as exc:  # pymilvus raises its own MilvusException and gRPC errors
        raise VectorStoreUnavailable(f"cannot connect to Milvus at {uri}: {exc}") from exc


class MilvusVectorIndex:
    """The VectorIndex protocol over a Milvus collection."""

    snapshot_file = "milvus.json"
    pushes_down_filters = True

    def __init__(
        self, dimension: int, settings: Settings, model_id: str, attributes: Attributes
    ) -> None:
        self.dimension = dimension
        self._settings = settings
        self._index_type = INDEX_TYPES[settings.vector_index]
        self.kind: str = f"milvus-{self._index_type.lower()}"
        self.collection = collection_name(settings.milvus_collection, model_id)
        self.uri = settings.milvus_target
        self._attributes = attributes
        self._client = _connect(self.uri)
        self._count = 0
        # A write that failed after SQLite committed: Milvus may lack rows or fields, so the
        # next snapshot's marker says so and the next start reconciles the collection.
        self._diverged = False

    # --- what the owner asks ---------------------------------------------------------------
    def __len__(self) -> int:
        return self._count

    @property
    def deleted(self) -> int:
        return 0  # Milvus deletes (its compaction drops the rows later)

    def deleted_ids(self) -> np.ndarray:
        return np.zeros(0, dtype=np.int64)

    def can_update(self, *, removing: bool) -> bool:
        return True

    def accepts(self, kind: str) -> bool:
        return kind == self.kind

    def wants_rebuild(self) -> bool:
        return False  # Milvus builds and compacts its own indexes

    def rebuilt(self, ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
        raise NotImplementedError("a Milvus collection is reconciled in place (rebuild)")

    def adopt(self, other: VectorIndex) -> None:
        raise NotImplementedError("a Milvus collection is reconciled in place (rebuild)")

    def needs_room(self, adding: int) -> bool:
        return False

    def with_room(self) -> VectorIndex:
        return self

    # --- writes ------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            with self._writing("insert"):
                self._count += self._write(ids, vectors, upsert=False)

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            with self._writing("delete"):
                self._client.delete(self.collection, ids=[int(i) for i in ids])
            self._count = max(0, self._count - len(ids))

    def relabel(self, ids: np.ndarray) -> None:
        """These chunks' articles changed fields, not text: rewrite the rows' filter fields
        (with their stored vectors: a partial update is not in every Milvus release)."""
        if not len(ids):
            return
        with self._writing("update"):
            rows = self._client.query(
                self.collection,
                filter=f"id in [{', '.join(str(int(i)) for i in ids)}]",
                output_fields=["id", "vector"],
            )
            if rows:
                stored = np.array([int(r["id"]) for r in rows], dtype=np.int64)
                self._write(stored, np.array([r["vector"] for r in rows], np.float32), upsert=True)

    @contextmanager
    def _writing(self, action: str) -> Iterator[None]:
        """A Milvus write after SQLite's commit: if it fails the article stays written (SQLite
        is the truth), the caller is told Milvus is unavailable, and the collection is marked
        for reconciliation at the next start."""
        try:
            yield
        except Exception as exc:
            self._diverged = True
            raise VectorStoreUnavailable(
                f"Milvus {action} failed at {self.uri} (the article is stored; the vector "
                f"index catches up at the next start): {exc}"
            ) from exc

    def _write(self, ids: np.ndarray, vectors: np.ndarray, *, upsert: bool) -> int:
        """Insert (or upsert) rows with their articles' filter fields; chunks SQLite no longer
        holds are skipped. Returns the rows written."""
        matrix = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        written = 0
        for start in range(0, len(ids), BATCH):
            batch = [int(i) for i in ids[start : start + BATCH]]
            fields = self._attributes(batch)
            rows = [
                _row(chunk_id, matrix[start + offset], fields[chunk_id])
                for offset, chunk_id in enumerate(batch)
                if chunk_id in fields
            ]
            if rows:
                if upsert:
                    self._client.upsert(self.collection, rows)
                else:
                    self._client.insert(self.collection, rows)
                written += len(rows)
        return written

    # --- the whole collection ------------------------------------------------------------
    def rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Make the collection hold exactly these chunks, writing only what differs."""
        if self._described() != (self.dimension, self._index_type):
            self._create()
            self._write(ids, vectors, upsert=False)
        else:
            self._client.load_collection(self.collection)
            wanted = np.asarray(ids, dtype=np.int64)
            stored = dict(self._stored_fields(int(wanted.max()) if len(wanted) else -1))
            extra = np.setdiff1d(np.fromiter(stored, np.int64, len(stored)), wanted)
            for start in range(0, len(extra), BATCH):
                self._client.delete(self.collection, ids=extra[start : start + BATCH].tolist())
            current = self._attributes(wanted.tolist())
            stale = np.array(
                [
                    i
                    for i, chunk_id in enumerate(wanted.tolist())
                    if chunk_id in current and stored.get(chunk_id) != _fields(current[chunk_id])
                ],
                dtype=np.int64,
            )
            if len(stale):
                self._write(wanted[stale], np.asarray(vectors)[stale], upsert=True)
        self._client.flush(self.collection)
        self._count = self._stored_count()
        self._diverged = False
        self._drop_other_models()

    def _described(self) -> tuple[int, str] | None:
        """(dimension, index type) of the existing collection; None if there is none."""
        if not self._client.has_collection(self.collection):
            return None
        description = self._client.describe_collection(self.collection)
        dimension = next(
            (
                int(f.get("params", {}).get("dim", 0))
                for f in description["fields"]
                if f["name"] == "vector"
            ),
            0,
        )
        index = self._client.describe_index(self.collection, index_name="vector") or {}
        return dimension, str(index.get("index_type", ""))

    def _create(self) -> None:
        from pymilvus import DataType, MilvusClient

        if self._client.has_collection(self.collection):
            self._client.drop_collection(self.collection)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_field("article_id", DataType.VARCHAR, max_length=ARTICLE_ID_CHARS * 4)
        schema.add_field("source", DataType.VARCHAR, max_length=SOURCE_CHARS * 4, nullable=True)
        schema.add_field("published_at", DataType.INT64, nullable=True)
        index = self._client.prepare_index_params()
        index.add_index(
            field_name="vector",
            index_name="vector",
            index_type=self._index_type,
            metric_type="IP",
            params=self._build_params(),
        )
        # Scalar indexes make the pushed-down filters lookups, not scans.
        for name in FILTER_FIELDS:
            index.add_index(field_name=name, index_name=name, index_type="INVERTED")
        try:
            self._client.create_collection(
                self.collection, schema=schema, consistency_level="Strong"
            )
            # Not waited for: pymilvus waits through a timestamp RPC milvus-lite lacks (a
            # second of retries), and a server indexes in the background anyway.
            self._client.create_index(self.collection, index, sync=False)
        except Exception as exc:
            raise VectorStoreUnavailable(
                f"cannot create the Milvus collection {self.collection} "
                f"({self._index_type} index) at {self.uri}: {exc}"
            ) from exc
        self._client.load_collection(self.collection)

    def _build_params(self) -> dict[str, Any]:
        s = self._settings
        if self._index_type == "HNSW":
            return {"M": s.hnsw_m, "efConstruction": 200}
        if self._index_type == "IVF_PQ":
            m = s.pq_m if self.dimension % s.pq_m == 0 else 8
            return {"nlist": s.ivf_nlist, "m": m, "nbits": 8}
        return {}

    def _stored_fields(self, last_id: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """Every row's id and filter fields, read in windows of ids (no window holds more rows
        than a Milvus query may return); then the rows above ``last_id``, SQLite's largest id,
        which can only be strays. (pymilvus's query iterator needs a timestamp RPC that
        milvus-lite lacks.)"""
        output = ["id", *FILTER_FIELDS]
        windows = [f"id >= {low} and id < {low + WINDOW}" for low in range(0, last_id + 1, WINDOW)]
        windows.append(f"id > {last_id}")
        for window in windows:
            for row in self._client.query(
                self.collection, filter=window, output_fields=output, limit=MAX_LIMIT
            ):
                yield int(row["id"]), tuple(row.get(name) for name in FILTER_FIELDS)

    def _stored_count(self) -> int:
        rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def _drop_other_models(self) -> None:
        prefix = f"{self._settings.milvus_collection}_"
        for name in self._client.list_collections():
            if (
                name != self.collection
                and name.startswith(prefix)
                and len(name) == len(self.collection)
            ):
                self._client.drop_collection(name)

    # --- reads ---------------------------------------------------------------------------
    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed_ids: np.ndarray | None = None,
        filters: SearchFilters | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        limit = min(k, self._count, MAX_LIMIT)
        if limit <= 0:
            return _EMPTY
        clauses = [filter_expression(filters)] if filters is not None else []
        if allowed_ids is not None:
            if not len(allowed_ids):
                return _EMPTY
            clauses.append(f"id in [{', '.join(str(int(i)) for i in allowed_ids)}]")
        vector = np.ascontiguousarray(query, dtype=np.float32).reshape(-1, self.dimension)[0]
        try:
            hits = self._client.search(
                self.collection,
                data=[vector.tolist()],
                limit=limit,
                filter=" and ".join(f"({c})" for c in clauses if c),
                search_params={"metric_type": "IP", "params": self._search_params(limit)},
                output_fields=["id"],  # milvus-lite returns every field (vectors too) otherwise
                consistency_level="Strong",  # a search sees every write that has returned
            )[0]
        except Exception as exc:
            raise VectorStoreUnavailable(f"Milvus search failed at {self.uri}: {exc}") from exc
        scores = np.array([hit["distance"] for hit in hits], dtype=np.float32)
        ids = np.array([hit["id"] for hit in hits], dtype=np.int64)
        return scores, ids

    def _search_params(self, limit: int) -> dict[str, Any]:
        if self._index_type == "HNSW":
            return {"ef": max(self._settings.hnsw_ef_search, limit)}
        if self._index_type == "IVF_PQ":
            return {"nprobe": self._settings.ivf_nprobe}
        return {}

    # --- snapshots -----------------------------------------------------------------------
    def serialized(self) -> SerializedVectors:
        """A marker, not the vectors: Milvus flushed (its rows on disk), then its count."""
        try:
            self._client.flush(self.collection)
        except Exception as exc:  # a marker that makes the next start reconcile, not a crash
            log.warning("Milvus flush failed at %s: %s", self.uri, exc)
            self._diverged = True
        marker = {"uri": self.uri, "collection": self.collection, "kind": self.kind}
        rows = None if self._diverged else self._count  # None matches no count: reconcile
        data = json.dumps({**marker, "rows": rows}).encode()
        return SerializedVectors(np.frombuffer(data, dtype=np.uint8), self.deleted_ids())

    def save(self, path: Path) -> None:
        self.serialized().write(path)

    def load(self, path: Path) -> None:
        """Check that the collection still holds what the marker says (else raise: the owner
        reconciles it with SQLite)."""
        marker = json.loads(path.read_bytes())
        if (marker.get("collection"), marker.get("kind")) != (self.collection, self.kind):
            raise ValueError(f"{path} describes {marker.get('collection')}, not {self.collection}")
        if self._described() != (self.dimension, self._index_type):
            raise ValueError(f"Milvus collection {self.collection} is missing or different")
        self._client.load_collection(self.collection)
        count = self._stored_count()
        if count != marker.get("rows"):
            raise ValueError(f"Milvus holds {count} rows, the snapshot {marker.get('rows')}")
        self._count = count

    def close(self) -> None:
        self._client.close()
        if self.uri.endswith(".db"):
            # Stop the in-process milvus-lite server (and its file lock): the next open of
            # this data directory, in this process or another, starts from its files.
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self.uri)


def _fields(attributes: ChunkAttributes) -> tuple[Any, ...]:
    published = attributes.published_at
    return (
        attributes.article_id,
        attributes.source,
        None if published is None else _micros(published),
    )


def _row(chunk_id: int, vector: np.ndarray, attributes: ChunkAttributes) -> dict[str, Any]:
    article_id, source, published = _fields(attributes)
    return {
        "id": chunk_id,
        "vector": vector.tolist(),
        "article_id": article_id,
        "source": source,
        "published_at": published,
    }

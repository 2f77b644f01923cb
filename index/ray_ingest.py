"""Distributed ingestion on Ray Data: the write path of index/ingest.py with its heavy steps
spread over a Ray cluster (or a local Ray instance).

1. The driver lists the files (``list_sources``, the order a plain ingest reads them in) and
   the versions of the articles already stored (a sorted array of 64-bit keys of id and
   content hash: 8 bytes an article, sent to the workers once).
2. Read tasks (``map_batches`` over a few files each, run in parallel) read, validate and
   normalise each article (``prepare_article``), and fingerprint and chunk the ones whose
   version is not stored yet; they hand the articles on in *packs* of at most
   ``ray_batch_tokens`` chunk tokens, so that every embedding call costs about the same
   whatever the lengths of the articles.
3. A pool of embedding actors, each loading the model once, embeds one pack a call.
4. The driver takes the packs in input order (``preserve_order``), gives file-name ids as a
   plain ingest does (they depend on the files read before), and hands the articles to
   ``Ingestor.ingest``: the same duplicate-id checks, stored-hash comparison, transactions,
   index updates and report as a plain ingest.

Why nothing is lost or written twice: only the driver writes, and each write is an upsert by
article id whose content hash decides whether its chunks are replaced, so writing an article
twice stores it once. A worker that dies mid-pack returns nothing for it; Ray restarts the
actor (or task) and runs the pack again, and the driver receives each pack once. A driver
that dies loses only what it had not committed: the next run finds the rest stored (their
versions are known, so the workers do not even embed them) and reports it unchanged."""

from __future__ import annotations

import hashlib
import math
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from newsdesk.domain import IngestReport, RejectedArticle
from newsdesk.embedding import Embedder, ModelTokenizer
from newsdesk.errors import Unavailable
from newsdesk.index.chunking import TextChunk
from newsdesk.index.duplicates import Fingerprinter
from newsdesk.index.file_ids import FileIds
from newsdesk.index.ingest import (
    IngestItem,
    Ingestor,
    Progress,
    attach_embeddings,
    chunk_article,
    prepare_article,
)
from newsdesk.index.readers import FileSource, ReadResult, list_sources, read_source
from newsdesk.settings import Settings
from newsdesk.stores.sqlite import ArticleStore, ArticleWrite

EmbedderFactory = Callable[[Settings], Embedder]
# Files a read task takes: enough to make full packs of short articles, few enough that
# the files of a folder spread over the workers.
FILES_PER_TASK = 16


@dataclass(frozen=True, slots=True)
class RayOptions:
    address: str | None  # None: start a local Ray instance for this ingest
    workers: int  # embedding actors


class RayUnavailable(Unavailable):
    """Ray is not installed (the `ray` extra) or its cluster cannot be reached."""


@dataclass(slots=True)
class _Entry:
    """One article (or rejection) on its way through the pipeline."""

    source: int  # index into the listed files
    read_ok: bool  # read as an article (its id counts as taken, like read_paths's)
    item: IngestItem
    chunks: list[TextChunk] | None = None  # to embed; None: nothing to embed


@dataclass(frozen=True, slots=True)
class _EmbeddedPack:
    model_id: str
    worker_pid: int
    entries: list[_Entry]


def ingest_on_ray(
    ingestor: Ingestor,
    paths: Iterable[Path],
    options: RayOptions,
    embedder_factory: EmbedderFactory,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest files and folders through a Ray Data pipeline; the report of a plain ingest."""
    ray = _import_ray()
    sources = list(list_sources(paths))
    if not sources:
        return ingestor.ingest_or_raise([], progress)
    started_here = _connect(ray, options)
    try:
        packs = _pipeline(ray, ingestor, sources, options, embedder_factory)
        items = in_ingest_order(packs, sources, ingestor.embedder.model_id)
        return ingestor.ingest_or_raise(items, progress)
    finally:
        if started_here:
            ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise RayUnavailable(
            f"Ray is not installed ({exc}); install newsdesk with the `ray` extra"
        ) from None
    return ray


def _connect(ray: Any, options: RayOptions) -> bool:
    """Join the cluster at the address, or start a local instance; True if started here."""
    if ray.is_initialized():
        return False
    common = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}
    try:
        if options.address:
            ray.init(address=options.address, **common)
        else:
            # One CPU an embedding actor, and one for the read tasks beside them.
            ray.init(num_cpus=options.workers + 1, **common)
    except Exception as exc:  # Ray raises bare Exceptions for a node that did not start
        ray.shutdown()
        where = options.address or "a local instance"
        raise RayUnavailable(f"cannot start or reach Ray ({where}): {exc}") from None
    return True


def _pipeline(
    ray: Any,
    ingestor: Ingestor,
    sources: list[FileSource],
    options: RayOptions,
    embedder_factory: EmbedderFactory,
) -> Iterator[_EmbeddedPack]:
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # the driver writes in input order
    context.enable_progress_bars = False
    # Blocks of 1 MiB rather than 128: a read task streams its packs out as it makes them,
    # instead of holding a large file's until the end.
    context.target_max_block_size = 1024 * 1024
    rows = [
        {"source": i, "path": str(s.path), "location": s.location or "", "exists": s.exists}
        for i, s in enumerate(sources)
    ]
    dataset = ray.data.from_items(
        rows, override_num_blocks=max(1, math.ceil(len(rows) / FILES_PER_TASK))
    )
    dataset = dataset.map_batches(
        _read_and_chunk,
        batch_size=FILES_PER_TASK,
        fn_kwargs={
            "settings": ingestor.settings,
            "chunk_tokens": ingestor.chunk_tokens,
            "known": stored_versions(ingestor.store),  # sent once with the function
        },
        num_cpus=0.5,  # two read tasks on the CPU the actors leave
    )
    # One pack a block: the packs of one read task (one file, maybe) go to every actor, not
    # all to the one that receives their block.
    dataset = dataset.repartition(target_num_rows_per_block=1)
    dataset = dataset.map_batches(
        EmbedPacks,
        fn_constructor_kwargs={"settings": ingestor.settings, "factory": embedder_factory},
        batch_size=1,  # one pack a call: its size is already set in tokens
        compute=ray.data.ActorPoolStrategy(size=options.workers),
        num_cpus=1,
    )
    for row in dataset.iter_rows():
        yield pickle.loads(row["pack"])


# --- the driver: versions already stored, ids and order ----------------------------------
def version_key(article_id: str, content_hash: str) -> int:
    """64 bits of an (id, content hash) pair: what tells a worker an article is stored."""
    digest = hashlib.blake2b(f"{article_id}\0{content_hash}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def stored_versions(store: ArticleStore) -> np.ndarray:
    """The sorted keys of every stored article's (id, content hash)."""
    keys = [version_key(i, h) for batch in store.iter_versions() for i, h in batch]
    return np.sort(np.array(keys, dtype=np.int64))


def _is_stored(known: np.ndarray, article_id: str, content_hash: str) -> bool:
    key = version_key(article_id, content_hash)
    at = int(np.searchsorted(known, key))
    return at < len(known) and int(known[at]) == key


def in_ingest_order(
    packs: Iterable[_EmbeddedPack], sources: list[FileSource], model_id: str
) -> Iterator[IngestItem]:
    """The articles of the packs (in input order) with the ids a plain ingest gives them."""
    ids = FileIds()
    claimed = -1  # the last file that claimed a file-name id
    for pack in packs:
        if pack.model_id != model_id:
            raise RuntimeError(
                f"an embedding worker loaded {pack.model_id}, the collection uses {model_id}: "
                "the workers must have the driver's settings and models"
            )
        for entry in pack.entries:
            source = sources[entry.source]
            item = entry.item
            if source.claims_file_id and entry.source != claimed:
                # Claimed in file order, after the JSON ids read before it (read_paths's rule).
                claimed = entry.source
                item = _with_id(item, ids.claim(source.path.name, source.location))
            elif entry.read_ok and item.id is not None:
                ids.reserve(item.id)
            yield item


def _with_id(item: IngestItem, article_id: str) -> IngestItem:
    if isinstance(item, ArticleWrite):
        item.id = article_id
        return item
    return item.model_copy(update={"id": article_id})


# --- the workers -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Tools:
    tokenizer: ModelTokenizer
    fingerprinter: Fingerprinter


_TOOLS: dict[tuple[str, float], _Tools] = {}


def _tools(settings: Settings) -> _Tools:
    """The tokenizer and fingerprinter, built once per worker process."""
    key = (settings.embedding_model, settings.duplicate_threshold)
    if key not in _TOOLS:
        _TOOLS[key] = _Tools(
            ModelTokenizer(settings.embedding_model, offline=settings.offline),
            Fingerprinter(settings.duplicate_threshold),
        )
    return _TOOLS[key]


def _read_and_chunk(
    batch: dict[str, np.ndarray], settings: Settings, chunk_tokens: int, known: np.ndarray
) -> Iterator[dict[str, np.ndarray]]:
    """Read a few files into packs of prepared, chunked articles (one output batch a pack)."""
    tools = _tools(settings)
    entries: list[_Entry] = []
    for source, path, location, exists in zip(
        batch["source"], batch["path"], batch["location"], batch["exists"], strict=True
    ):
        listed = FileSource(Path(str(path)), str(location) or None, bool(exists))
        # A fresh FileIds: the driver gives the final file-name ids, in file order.
        for result in read_source(listed, FileIds()):
            entries.append(_prepared(int(source), result, settings, chunk_tokens, known, tools))
    for pack in _packs(entries, settings.ray_batch_tokens):
        yield {"pack": np.array([pickle.dumps(pack)], dtype=object)}


def _prepared(
    source: int,
    result: ReadResult,
    settings: Settings,
    chunk_tokens: int,
    known: np.ndarray,
    tools: _Tools,
) -> _Entry:
    if isinstance(result, RejectedArticle):
        return _Entry(source, read_ok=False, item=result)
    prepared = prepare_article(result, settings)
    if isinstance(prepared, RejectedArticle):
        # Passed on as read: the driver rejects it again, after its duplicate-id check.
        return _Entry(source, read_ok=True, item=result)
    entry = _Entry(source, read_ok=True, item=prepared)
    if not _is_stored(known, prepared.id, prepared.content_hash):
        prepared.fingerprint = tools.fingerprinter.fingerprint(prepared.text)
        entry.chunks = chunk_article(prepared.text, tools.tokenizer, chunk_tokens, settings)
    return entry


def _packs(entries: list[_Entry], max_tokens: int) -> Iterator[list[_Entry]]:
    """Consecutive entries in packs of at most ``max_tokens`` chunk tokens (an article
    longer than that alone in its pack); an article's chunks are never split."""
    pack: list[_Entry] = []
    tokens = 0
    for entry in entries:
        size = sum(c.token_count for c in entry.chunks or ())
        if pack and tokens + size > max_tokens:
            yield pack
            pack, tokens = [], 0
        pack.append(entry)
        tokens += size
    if pack:
        yield pack


class EmbedPacks:
    """An embedding actor: loads the model once, then embeds one pack a call."""

    def __init__(self, settings: Settings, factory: EmbedderFactory) -> None:
        self.embedder = factory(settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        done = []
        for blob in batch["pack"]:
            entries: list[_Entry] = pickle.loads(blob)
            pending = [
                (entry.item, entry.chunks)
                for entry in entries
                if entry.chunks is not None and isinstance(entry.item, ArticleWrite)
            ]
            attach_embeddings(pending, self.embedder)
            for entry in entries:
                entry.chunks = None  # the item holds its embedded chunks now
            pack = _EmbeddedPack(self.embedder.model_id, os.getpid(), entries)
            done.append(pickle.dumps(pack))
        return {"pack": np.array(done, dtype=object)}

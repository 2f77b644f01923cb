"""`newsdesk bench search`: retrieval latency, recall@10 against exact search, memory per
chunk, index build time and startup, on a cached synthetic collection (collection.py).

Retrieval latency is one `Searcher.search` (query embedding, dense, BM25, fusion, hydrating
the top 10 from SQLite; no LLM, no reranking unless configured), one query at a time after a
few warm-up queries. Each stage is also timed on its own over the same queries. recall@10 is
the overlap of the index's dense top 10 (from the production-sized candidate search) with
exact inner-product search over every stored vector, for the same query vectors.

With ``write_probe``, one article is then added and deleted again under concurrent searches
(writes.py) and the figures go under ``write``."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from newsdesk.benchmarks import writes
from newsdesk.benchmarks.collection import (
    DEFAULT_WORK_DIR,
    Collection,
    SentenceMeanEncoder,
    directory_bytes,
    ensure_collection,
    index_label,
    load_sentence_cache,
    load_sources,
)
from newsdesk.benchmarks.corpus import make_queries
from newsdesk.benchmarks.startup import resident_mb
from newsdesk.container import Newsdesk, build_embedder
from newsdesk.settings import Settings
from newsdesk.stores.derived import restamp_snapshot

log = logging.getLogger(__name__)

INDEX_NAMES = {"exact": "flat", "flat": "flat", "hnsw": "hnsw", "ivfpq": "ivfpq", "auto": "auto"}
VECTORS_SOURCE = (
    "bench-sentence-mean: each chunk's vector is the normalised mean of the real model's "
    "embeddings of its sentences (cached per source sentence); queries are encoded the same "
    "way, running the real model"
)
WARMUP = 5


def percentiles(values: Sequence[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64) * 1000
    return {
        "p50_ms": round(float(np.percentile(array, 50)), 3),
        "p95_ms": round(float(np.percentile(array, 95)), 3),
        "mean_ms": round(float(array.mean()), 3),
    }


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def prepare(
    settings: Settings, chunks: int, work_dir: Path, seed: int
) -> tuple[Collection, SentenceMeanEncoder, list[str]]:
    """The cached collection, its encoder (real model loaded) and the query pool."""
    # A small collection draws on fewer source articles (about one per 10 chunks, all 326
    # from 3,260 chunks on), so a quick run embeds hundreds of sentences, not all 6,500.
    sources = load_sources()
    sources = sources[: max(20, chunks // 10)]
    model = build_embedder(settings)
    cache = load_sentence_cache(work_dir / "sentences.npz", sources, model)
    encoder = SentenceMeanEncoder(model, cache)
    collection = ensure_collection(work_dir, chunks, seed, sources, encoder)
    return collection, encoder, make_queries(sources, 100_000, seed)


def open_desk(
    settings: Settings,
    collection: Collection,
    kind: str,
    encoder: SentenceMeanEncoder,
    vector_store: str = "faiss",
) -> tuple[Newsdesk, float, str]:
    """Open the collection with this index kind: built (and snapshot) on first use."""
    collection.use_index(kind, vector_store)
    on_collection = collection.settings(settings, kind, vector_store)
    seconds, desk = timed(lambda: Newsdesk.open(on_collection, embedder=encoder))
    if desk.index_status.startswith("rebuilt"):
        desk.indexes.flush()
    _settle(desk)
    return desk, seconds, desk.index_status


def _settle(desk: Newsdesk, patience_s: float = 120.0) -> None:
    """Wait until the background copy that gives a loaded HNSW index room to grow is done:
    latencies are measured in the steady state (the copy costs searches a few milliseconds
    for a second or two after a start, at a million chunks)."""
    deadline = time.monotonic() + patience_s
    while desk.indexes.vectors.needs_room(1) and time.monotonic() < deadline:
        time.sleep(0.05)


def measure_startup(collection: Collection, kind: str, vector_store: str) -> dict[str, Any]:
    """A fresh process opening the collection and answering one search (loads the model)."""
    spawned = time.time()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsdesk.benchmarks.startup",
            str(collection.directory),
            kind,
            str(spawned),
            vector_store,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def exact_index(desk: Newsdesk) -> faiss.IndexIDMap2:
    """Every stored vector in an exact index: the ground truth."""
    exact = faiss.IndexIDMap2(faiss.IndexFlatIP(desk.embedder.dimension))
    for ids, vectors in desk.store.iter_vectors(batch_size=50_000):
        exact.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
    return exact


def recall_at_10(desk: Newsdesk, query_vectors: np.ndarray, candidates: int) -> float:
    """Share of the exact top 10 the index's top 10 holds. Chunks with equal vectors (the same
    sentences in two articles) tie, and either of two tied chunks is a right answer: a hit
    is a returned chunk whose exact score reaches the exact 10th best score."""
    exact = exact_index(desk)
    queries = np.ascontiguousarray(query_vectors, dtype=np.float32)
    scores, _ = exact.search(queries, 10)
    hits = expected = 0
    for query, truth in zip(queries, scores, strict=True):
        _, ids = desk.indexes.vectors.search(query[None, :], candidates)
        tenth = truth[truth > -np.inf][-1]
        found = [exact.reconstruct(int(i)) @ query for i in ids[:10]]
        hits += sum(score >= tenth - 1e-5 for score in found)
        expected += min(10, exact.ntotal)
    return hits / max(1, expected)


def stage_latencies(desk: Newsdesk, queries: Sequence[str], candidates: int) -> dict[str, Any]:
    embed, dense, lexical = [], [], []
    for query in queries:
        started = time.perf_counter()
        vector = desk.embedder.embed([query])
        embedded = time.perf_counter()
        desk.indexes.vectors.search(vector, candidates)
        searched = time.perf_counter()
        desk.indexes.fresh_lexical().search(query, candidates)
        done = time.perf_counter()
        embed.append(embedded - started)
        dense.append(searched - embedded)
        lexical.append(done - searched)
    return {
        "query_embedding": percentiles(embed),
        "dense": percentiles(dense),
        "lexical": percentiles(lexical),
    }


def file_bytes(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def run(
    settings: Settings,
    *,
    chunks: int,
    index: str = "auto",
    queries: int = 200,
    work_dir: Path = DEFAULT_WORK_DIR,
    seed: int = 13,
    startup: bool = True,
    write_probe: bool = False,
    vector_store: str = "faiss",
) -> dict[str, Any]:
    kind = INDEX_NAMES[index]
    collection, encoder, pool = prepare(settings, chunks, work_dir, seed)
    desk, open_seconds, status = open_desk(settings, collection, kind, encoder, vector_store)
    built = status.startswith("rebuilt")
    index_dir = collection.directory / f"indexes-{index_label(kind, vector_store)}"
    meta_path = index_dir / "build.json"
    if built:
        meta_path.write_text(json.dumps({"build_seconds": round(open_seconds, 2)}))
    build_seconds = (
        json.loads(meta_path.read_text())["build_seconds"] if meta_path.is_file() else None
    )
    effective = desk.indexes.vectors.kind
    startup_figures: dict[str, Any] = {}
    if startup:
        desk.close()
        startup_figures = measure_startup(collection, kind, vector_store)
        desk, _, _ = open_desk(settings, collection, kind, encoder, vector_store)

    try:
        settings = desk.settings
        candidates = 10 * settings.candidate_multiplier
        asked = pool[: queries + WARMUP]
        for query in asked[:WARMUP]:
            desk.searcher.search(query, top_k=10)
        totals = []
        for query in asked[WARMUP:]:
            started = time.perf_counter()
            desk.searcher.search(query, top_k=10)
            totals.append(time.perf_counter() - started)
        stages = stage_latencies(desk, asked[WARMUP:], candidates)
        query_vectors = desk.embedder.embed(asked[WARMUP:])
        recall = recall_at_10(desk, query_vectors, candidates)
        snapshot = _current_snapshot(index_dir)
        if vector_store == "milvus":  # the vectors are in milvus-lite's files, not the snapshot
            vector_bytes = directory_bytes(Path(desk.settings.milvus_target))
        else:
            vector_bytes = file_bytes(snapshot / "vectors.faiss") if snapshot else 0
        lexical_bytes = directory_bytes(snapshot / "lexical") if snapshot else 0
        stored = len(desk.indexes.vectors)
        sqlite_bytes = sum(
            file_bytes(collection.directory / f"newsdesk.sqlite3{suffix}")
            for suffix in ("", "-wal")
        )
        resident = resident_mb()
        probed = writes.probe(desk, asked[WARMUP:], seed) if write_probe else None
    finally:
        desk.close()  # saves this kind's indexes as of the probe's last write
    if probed is not None:
        keep_other_kinds_cached(collection, kind, probed)
    latency = percentiles(totals)
    return {
        "benchmark": "search",
        "vector_store": vector_store,
        "index": effective,
        "index_setting": kind,
        "chunks": stored,
        "articles": collection.articles,
        "queries": len(totals),
        "p50_ms": latency["p50_ms"],
        "p95_ms": latency["p95_ms"],
        "mean_ms": latency["mean_ms"],
        "recall_at_10": round(recall, 4),
        "bytes_per_chunk": round(vector_bytes / max(1, stored), 1),
        "lexical_bytes_per_chunk": round(lexical_bytes / max(1, stored), 1),
        "sqlite_bytes_per_chunk": round(sqlite_bytes / max(1, stored), 1),
        # This process after the timed searches: model, indexes, milvus-lite's engine.
        "resident_mb_after_searches": resident,
        "stages": stages,
        "build_seconds": build_seconds,
        "built_this_run": built,
        "collection_build_seconds": round(collection.build_seconds, 2),
        **startup_figures,
        **({"write": probed} if probed is not None else {}),
        "settings": {
            "hnsw_m": settings.hnsw_m,
            "hnsw_ef_search": settings.hnsw_ef_search,
            "ivf_nlist": settings.ivf_nlist,
            "ivf_nprobe": settings.ivf_nprobe,
            "pq_m": settings.pq_m,
            "candidates": candidates,
            "rerank": settings.rerank,
            "retrieval_mode": settings.retrieval_mode,
        },
        "vectors_source": VECTORS_SOURCE,
        "collection": str(collection.directory),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def keep_other_kinds_cached(collection: Collection, kind: str, probed: dict[str, Any]) -> None:
    """The probe moved SQLite's generation on but left its chunks as they were: the other
    index kinds' snapshots, taken at the generation before it, still match."""
    if not probed["collection_unchanged"]:
        return
    before, after = probed["generations"]
    for directory in collection.directory.glob("indexes-*"):
        if directory.name != f"indexes-{kind}" and restamp_snapshot(directory, before, after):
            log.info("%s: still current after the write probe", directory.name)


def _current_snapshot(index_dir: Path) -> Path | None:
    try:
        return index_dir / (index_dir / "CURRENT").read_text().strip()
    except OSError:
        return None

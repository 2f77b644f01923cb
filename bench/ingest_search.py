"""Ingestion and search benchmark: prints figures, asserts nothing.

For each target size (in chunks) the script builds a fresh collection in a temporary data
directory with the exact (``flat``) vector index, ingests synthetic news articles until the
collection holds at least that many chunks, and measures:

* ingestion throughput (chunks/s, articles/s; wall clock of ``Ingestor.ingest`` including
  chunking, embedding, SQLite writes and index updates), with a per-stage breakdown;
* the first lexical search after ingestion (it rebuilds BM25), reported on its own;
* ``DerivedIndexes.flush()`` (the snapshot write);
* search latency p50/p95 for the hybrid, dense and lexical modes;
* reopen time (``Newsdesk.open`` on the existing directory, which loads the snapshot).

It also compares the project's embedder with a plain ``SentenceTransformer.encode`` on the same
chunk texts. The synthetic articles recombine runs of sentences from the FRANK CNN/DM + XSum
articles (seeded, so every run ingests the same text); the queries are the first sentences of
the same records' reference summaries, which are not verbatim in the corpus.

Run from the repository root::

    .venv/bin/python bench/ingest_search.py --sizes 2000          # quick check
    .venv/bin/python bench/ingest_search.py                       # 10,000 and 100,000 chunks
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from newsdesk.benchmarks.corpus import (
    SourceArticle,
    SyntheticCorpus,
    make_queries,
    synthetic_chunks,
)
from newsdesk.container import Newsdesk, build_embedder
from newsdesk.embedding import Embedder, resolve_model_path
from newsdesk.index.text import normalise_text, sentence_spans
from newsdesk.settings import RetrievalMode, Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = (
    REPO_ROOT / ".." / "shared/evaldata/news-summarisation/frank_cnndm_xsum_shared.jsonl"
).resolve()
DEFAULT_OUT = REPO_ROOT / "bench/results/ingest_search.json"
MODES: tuple[RetrievalMode, ...] = ("hybrid", "dense", "lexical")
MAX_ARTICLES_PER_CALL = 256
WARMUP_QUERIES = 3
PROGRESS_SECONDS = 30.0


def note(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the results."""
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- corpus --------------------------------------------------------------------------------
def load_sources(path: Path) -> list[SourceArticle]:
    sources = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            text = normalise_text(record["article"])
            sentences = tuple(text[s.start : s.end] for s in sentence_spans(text))
            if sentences:
                sources.append(
                    SourceArticle(
                        record.get("source_dataset", "news"),
                        sentences,
                        record.get("reference_summary", ""),
                    )
                )
    if not sources:
        raise SystemExit(f"no articles in {path}")
    return sources


# --- instrumentation -----------------------------------------------------------------------
class StageClock:
    """Accumulates the time spent in wrapped methods, per stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, owner: object, method: str, stage: str) -> None:
        original = getattr(owner, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start

        setattr(owner, method, timed)

    def reset(self) -> None:
        self.seconds.clear()


def timed_call(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


# --- results -------------------------------------------------------------------------------
@dataclass
class Latency:
    p50_ms: float
    p95_ms: float
    mean_ms: float
    queries: int


@dataclass
class SizeResult:
    target_chunks: int
    chunks: int
    articles: int
    ingest_seconds: float
    chunks_per_second: float
    articles_per_second: float
    stage_seconds: dict[str, float]
    first_lexical_search_seconds: float
    flush_seconds: float
    search: dict[str, Latency]
    reopen_seconds: float
    reopen_status: str
    sqlite_mb: float
    index_mb: float
    load_average: list[float] = field(default_factory=list)


@dataclass
class EmbeddingBaseline:
    texts: int
    mean_tokens: float
    batch_size: int
    repeats: int
    ours_texts_per_second: float
    plain_texts_per_second: float
    ratio: float
    max_abs_difference: float
    load_average: list[float] = field(default_factory=list)


# --- the embedding baseline ----------------------------------------------------------------
def chunk_texts(
    corpus: SyntheticCorpus, embedder: Embedder, settings: Settings, count: int
) -> tuple[list[str], float]:
    """``count`` chunk texts as the ingestor would cut them, and their mean token count."""
    chunks = synthetic_chunks(corpus, embedder, settings, count)
    return [c.text for c in chunks], float(np.mean([c.token_count for c in chunks]))


def embedding_baseline(
    embedder: Embedder, settings: Settings, texts: list[str], mean_tokens: float, repeats: int
) -> EmbeddingBaseline:
    """Time both encoders on the same texts, in ABBA order, and keep each one's best pass."""
    from sentence_transformers import SentenceTransformer

    plain = SentenceTransformer(
        resolve_model_path(settings.embedding_model), device=settings.embedding_device
    )
    encoders: dict[str, Callable[[list[str]], np.ndarray]] = {
        "ours": embedder.embed,
        "plain": lambda batch: plain.encode(batch, batch_size=64, normalize_embeddings=True),
    }
    for encode in encoders.values():
        encode(texts[:64])  # warm-up, not timed
    best = {name: math.inf for name in encoders}
    vectors: dict[str, np.ndarray] = {}
    for round_ in range(repeats):
        for name in ("ours", "plain") if round_ % 2 == 0 else ("plain", "ours"):
            seconds, vectors[name] = timed_call(lambda name=name: encoders[name](texts))
            best[name] = min(best[name], seconds)
    return EmbeddingBaseline(
        texts=len(texts),
        mean_tokens=mean_tokens,
        batch_size=settings.embedding_batch_size,
        repeats=repeats,
        ours_texts_per_second=len(texts) / best["ours"],
        plain_texts_per_second=len(texts) / best["plain"],
        ratio=best["plain"] / best["ours"],
        max_abs_difference=float(np.max(np.abs(vectors["ours"] - vectors["plain"]))),
        load_average=list(os.getloadavg()),
    )


# --- one size ------------------------------------------------------------------------------
def ingest_until(
    desk: Newsdesk, corpus: SyntheticCorpus, target: int, label: str
) -> tuple[int, int, float]:
    """Ingest until the collection holds ``target`` chunks. Returns chunks, articles, seconds.

    Articles are generated outside the timed region; only ``ingest`` calls are timed."""
    chunks = articles = 0
    elapsed = 0.0
    chunks_per_article = 3.0
    last_note = time.monotonic()
    while chunks < target:
        wanted = math.ceil((target - chunks) / chunks_per_article)
        batch = corpus.take(max(1, min(MAX_ARTICLES_PER_CALL, wanted)))
        seconds, report = timed_call(lambda batch=batch: desk.ingestor.ingest(batch))
        if report.rejected or report.unchanged or report.updated:
            raise RuntimeError(f"unexpected ingest outcome: {report.summary_line()}")
        elapsed += seconds
        chunks += report.chunks
        articles += len(report.added)
        chunks_per_article = chunks / articles
        if time.monotonic() - last_note >= PROGRESS_SECONDS:
            last_note = time.monotonic()
            rate = chunks / elapsed
            eta = (target - chunks) / rate
            note(f"{label}: {chunks:,}/{target:,} chunks, {rate:.0f} chunks/s, ~{eta:.0f}s left")
    stored = desk.store.chunk_count()
    if stored != chunks or len(desk.indexes.vectors) != chunks:
        raise RuntimeError(f"counted {chunks} chunks, SQLite has {stored}")
    return chunks, articles, elapsed


def measure_latency(desk: Newsdesk, queries: Sequence[str], mode: RetrievalMode) -> Latency:
    for query in queries[:WARMUP_QUERIES]:
        desk.searcher.search(query, mode=mode)
    millis = []
    for query in queries:
        seconds, _ = timed_call(lambda query=query: desk.searcher.search(query, mode=mode))
        millis.append(seconds * 1000)
    p50, p95 = np.percentile(millis, [50, 95])
    return Latency(float(p50), float(p95), float(np.mean(millis)), len(millis))


def stage_breakdown(clock: StageClock, total: float) -> dict[str, float]:
    seconds = clock.seconds
    stages = {
        "embed": seconds["embed"],
        "tokenize": seconds["tokenize"],
        "sqlite_write": seconds["sqlite_write"],
        "index_update": seconds["indexes_write"] - seconds["sqlite_write"],
    }
    stages["other"] = total - sum(stages.values())
    return stages


def directory_mb(path: Path, pattern: str = "*") -> float:
    return sum(p.stat().st_size for p in path.rglob(pattern) if p.is_file()) / 1e6


def run_size(
    target: int,
    sources: Sequence[SourceArticle],
    queries: Sequence[str],
    embedder: Embedder,
    clock: StageClock,
    args: argparse.Namespace,
) -> SizeResult:
    label = f"{target:,} chunks"
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-", dir=args.tmp_dir) as tmp:
        settings = Settings(data_dir=Path(tmp), vector_index="flat")
        desk = Newsdesk.open(settings, embedder=embedder)
        clock.wrap(desk.store, "write", "sqlite_write")
        clock.wrap(desk.indexes, "write", "indexes_write")
        clock.reset()
        note(f"{label}: ingesting into {tmp}")
        corpus = SyntheticCorpus(sources, args.seed)
        chunks, articles, ingest_seconds = ingest_until(desk, corpus, target, label)
        stages = stage_breakdown(clock, ingest_seconds)
        note(f"{label}: ingested {chunks:,} chunks in {ingest_seconds:.1f}s; searching")

        first_lexical, _ = timed_call(lambda: desk.searcher.search(queries[0], mode="lexical"))
        flush_seconds, _ = timed_call(desk.indexes.flush)
        search = {mode: measure_latency(desk, queries, mode) for mode in MODES}
        desk.close()

        reopen_seconds, reopened = timed_call(lambda: Newsdesk.open(settings, embedder=embedder))
        status = reopened.index_status
        reopened.close()
        return SizeResult(
            target_chunks=target,
            chunks=chunks,
            articles=articles,
            ingest_seconds=ingest_seconds,
            chunks_per_second=chunks / ingest_seconds,
            articles_per_second=articles / ingest_seconds,
            stage_seconds=stages,
            first_lexical_search_seconds=first_lexical,
            flush_seconds=flush_seconds,
            search=search,
            reopen_seconds=reopen_seconds,
            reopen_status=status,
            sqlite_mb=directory_mb(settings.data_dir, "newsdesk.sqlite3*"),
            index_mb=directory_mb(settings.index_dir),
            load_average=list(os.getloadavg()),
        )


# --- reporting -----------------------------------------------------------------------------
def machine_facts(embedder: Embedder, settings: Settings) -> dict[str, Any]:
    import faiss
    import sentence_transformers
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "faiss": faiss.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "model": settings.embedding_model,
        "dimension": embedder.dimension,
        "model_max_tokens": embedder.max_tokens,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap_sentences": settings.chunk_overlap_sentences,
        "embedding_batch_size": settings.embedding_batch_size,
        "embedding_device": settings.embedding_device,
        "vector_index": "flat",
        "git": git_state(),
        "load_average_at_start": list(os.getloadavg()),
    }


def git_state() -> str:
    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *argv], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD") or "unknown"
        return commit + (" (dirty tree)" if git("status", "--porcelain") else "")
    except OSError:
        return "unknown"


def _seconds_with_share(seconds: float, total: float) -> str:
    return f"{seconds:.1f} ({100 * seconds / total:.0f}%)"


def size_rows() -> list[tuple[str, Callable[[SizeResult], str]]]:
    rows: list[tuple[str, Callable[[SizeResult], str]]] = [
        ("articles ingested", lambda r: f"{r.articles:,}"),
        ("chunks ingested", lambda r: f"{r.chunks:,}"),
        ("ingest wall clock (s)", lambda r: f"{r.ingest_seconds:.1f}"),
        ("ingest chunks/s", lambda r: f"{r.chunks_per_second:.1f}"),
        ("ingest articles/s", lambda r: f"{r.articles_per_second:.1f}"),
    ]
    for stage in ("embed", "tokenize", "sqlite_write", "index_update", "other"):
        rows.append(
            (
                f"  {stage} (s, share)",
                lambda r, s=stage: _seconds_with_share(r.stage_seconds[s], r.ingest_seconds),
            )
        )
    rows += [
        (
            "first lexical search, rebuilds BM25 (s)",
            lambda r: f"{r.first_lexical_search_seconds:.2f}",
        ),
        ("flush, snapshot only (s)", lambda r: f"{r.flush_seconds:.2f}"),
    ]
    for mode in MODES:
        rows.append(
            (
                f"search {mode} p50 / p95 (ms)",
                lambda r, m=mode: f"{r.search[m].p50_ms:.1f} / {r.search[m].p95_ms:.1f}",
            )
        )
    rows += [
        ("reopen (s)", lambda r: f"{r.reopen_seconds:.2f} ({r.reopen_status})"),
        ("SQLite on disk (MB)", lambda r: f"{r.sqlite_mb:.0f}"),
        ("index snapshot on disk (MB)", lambda r: f"{r.index_mb:.0f}"),
        (
            "load average (1/5/15 min) at end",
            lambda r: " ".join(f"{x:.1f}" for x in r.load_average),
        ),
    ]
    return rows


def print_report(
    machine: dict[str, Any], baseline: EmbeddingBaseline, results: list[SizeResult], queries: int
) -> None:
    print(
        f"machine: {machine['cpu_count']} CPUs, torch {machine['torch']} "
        f"({machine['torch_threads']} threads), faiss {machine['faiss']}, "
        f"python {machine['python']}, git {machine['git']}"
    )
    print(
        f"model: {machine['model']} (dim {machine['dimension']}, max {machine['model_max_tokens']} "
        f"tokens), chunk_tokens {machine['chunk_tokens']}, overlap "
        f"{machine['chunk_overlap_sentences']} sentence(s), batch {machine['embedding_batch_size']}, "
        "vector index flat"
    )
    print()
    print(
        f"embedding throughput: {baseline.texts:,} chunk texts, mean {baseline.mean_tokens:.0f} "
        f"tokens, best of {baseline.repeats} pass(es) each"
    )
    print(f"  newsdesk embedder.embed        {baseline.ours_texts_per_second:8.1f} texts/s")
    print(f"  plain SentenceTransformer      {baseline.plain_texts_per_second:8.1f} texts/s")
    print(
        f"  ratio ours / plain             {baseline.ratio:8.2f}   "
        f"(max |difference| {baseline.max_abs_difference:.1e})"
    )
    print()
    rows = size_rows()
    label_width = max(len(label) for label, _ in rows) + 2
    header = "".join(f"{r.target_chunks:>20,}" for r in results)
    print(f"{'target size (chunks)':<{label_width}}{header}")
    for label, cell in rows:
        print(f"{label:<{label_width}}" + "".join(f"{cell(r):>20}" for r in results))
    print(
        f"\nsearch: {queries} queries per mode (top_k default), after {WARMUP_QUERIES} "
        "warm-up queries; BM25 rebuild measured separately and excluded."
    )


def write_json(
    path: Path,
    machine: dict[str, Any],
    baseline: EmbeddingBaseline,
    results: list[SizeResult],
    args: argparse.Namespace,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "ingest_search",
        "written_at": datetime.now(UTC).isoformat(),
        "options": {
            "sizes": args.sizes,
            "queries": args.queries,
            "embed_texts": baseline.texts,
            "seed": args.seed,
            "corpus": str(args.corpus),
        },
        "machine": machine,
        "embedding_baseline": asdict(baseline),
        "sizes": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")


# --- main ----------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x.replace("_", "")) for x in s.split(",") if x.strip()],
        default=[10_000, 100_000],
        help="comma-separated target collection sizes in chunks (default: 10000,100000)",
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="source JSONL")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per mode")
    parser.add_argument(
        "--embed-texts",
        type=int,
        default=None,
        help="chunk texts for the embedding baseline "
        "(default: 2000, capped at a fifth of the smallest size)",
    )
    parser.add_argument(
        "--embed-repeats",
        type=int,
        default=2,
        help="timed passes per encoder, alternated ABBA; the best is kept (default: 2)",
    )
    parser.add_argument("--seed", type=int, default=20240601, help="corpus and query seed")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--tmp-dir", default=None, help="parent of the temporary data dirs")
    args = parser.parse_args(argv)
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes needs positive integers")
    if args.embed_texts is None:
        args.embed_texts = max(64, min(2000, min(args.sizes) // 5))
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sources = load_sources(args.corpus)
    queries = make_queries(sources, args.queries, args.seed)
    note(f"{len(sources)} source articles, {sum(len(s.sentences) for s in sources):,} sentences")

    base_settings = Settings(vector_index="flat")
    embedder = build_embedder(base_settings)
    clock = StageClock()
    clock.wrap(embedder, "embed", "embed")
    clock.wrap(embedder, "token_spans", "tokenize")
    machine = machine_facts(embedder, base_settings)

    note(f"embedding baseline on {args.embed_texts:,} chunk texts")
    texts, mean_tokens = chunk_texts(
        SyntheticCorpus(sources, args.seed), embedder, base_settings, args.embed_texts
    )
    baseline = embedding_baseline(embedder, base_settings, texts, mean_tokens, args.embed_repeats)

    results: list[SizeResult] = []
    try:
        for size in args.sizes:
            results.append(run_size(size, sources, queries, embedder, clock, args))
            write_json(args.out, machine, baseline, results, args)  # keep partial results
    except KeyboardInterrupt:
        note(f"interrupted: reporting the {len(results)} size(s) that finished")
        write_json(args.out, machine, baseline, results, args)

    print_report(machine, baseline, results, args.queries)
    note(f"wrote {args.out}")


if __name__ == "__main__":
    main()

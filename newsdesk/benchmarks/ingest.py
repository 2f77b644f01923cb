"""`newsdesk bench ingest`: end-to-end ingestion against plain fp32 encode of its chunks.

Seeded synthetic news articles are ingested into a fresh temporary collection (chunking,
embedding, SQLite writes and index updates: ``Ingestor.ingest``, what `newsdesk ingest` runs
after reading files) until it holds at least the requested chunks; then the plain fp32
``SentenceTransformer.encode`` embeds exactly the chunk texts that were stored. The ratio says
how much faster the whole ingestion is than the old embedding step alone. Article generation
and model loading are outside the clock."""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

from newsdesk.benchmarks.baseline import plain_encoder
from newsdesk.benchmarks.corpus import DEFAULT_SEED, SyntheticCorpus, load_sources
from newsdesk.benchmarks.embed import WARMUP_TEXTS
from newsdesk.benchmarks.machine import load_average, machine_facts
from newsdesk.settings import Settings

# Synthetic articles of 3–7 paragraphs cut into ~160-token chunks give about 8 each.
FIRST_GUESS_CHUNKS_PER_ARTICLE = 8.0


def run(settings: Settings, *, chunks: int = 512, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    from newsdesk.container import Newsdesk, build_embedder

    machine = machine_facts()
    embedder = build_embedder(settings)
    embedder.embed(["Warm-up: the first call allocates the model's buffers."] * WARMUP_TEXTS)
    corpus = SyntheticCorpus(load_sources(), seed)
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-ingest-") as tmp:
        local = settings.model_copy(update={"data_dir": Path(tmp) / "data"})
        with Newsdesk.open(local, embedder=embedder) as desk:
            stored = articles = 0
            seconds = 0.0
            per_article = FIRST_GUESS_CHUNKS_PER_ARTICLE
            while stored < chunks:
                batch = corpus.take(max(1, math.ceil((chunks - stored) / per_article)))
                start = time.perf_counter()
                report = desk.ingestor.ingest(batch)
                seconds += time.perf_counter() - start
                stored += report.chunks
                articles += len(report.added)
                per_article = max(1.0, stored / max(1, articles))
            texts = [t for _, batch_texts in desk.store.iter_texts() for t in batch_texts]
    baseline = plain_encoder(settings)
    baseline(texts[:WARMUP_TEXTS])
    start = time.perf_counter()
    baseline(texts)
    baseline_seconds = time.perf_counter() - start
    return {
        "benchmark": "ingest",
        "backend": settings.embedding_backend,
        "model_id": embedder.model_id,
        "chunks": stored,
        "articles": articles,
        "seed": seed,
        "seconds": round(seconds, 3),
        "chunks_per_s": round(stored / seconds, 2),
        "baseline_chunks_per_s": round(len(texts) / baseline_seconds, 2),
        "ratio": round(baseline_seconds / seconds * stored / len(texts), 3),
        "machine": machine,
        "load_average_at_end": load_average(),
    }

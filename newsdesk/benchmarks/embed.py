"""`newsdesk bench embed`: the configured embedder against plain fp32 torch encode.

Both encoders embed the same seeded chunk texts (cut as ingestion cuts them) in alternating
order, best pass of each kept: the best pass is the least disturbed by other work on a shared
machine, and alternation gives both the same conditions. Model loading (and a first-use ONNX
export) happens before the clock starts, with an untimed warm-up batch each."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from newsdesk.benchmarks.baseline import plain_encoder
from newsdesk.benchmarks.corpus import DEFAULT_SEED, chunk_texts
from newsdesk.benchmarks.flops import encoder_shape
from newsdesk.benchmarks.machine import load_average, machine_facts
from newsdesk.settings import Settings

WARMUP_TEXTS = 32


def best_seconds(
    encoders: dict[str, Callable[[Sequence[str]], np.ndarray]],
    texts: Sequence[str],
    repeats: int,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Best wall-clock pass of each encoder over ``texts``, run in ABBA order."""
    for encode in encoders.values():
        encode(texts[:WARMUP_TEXTS])
    names = list(encoders)
    best = dict.fromkeys(names, math.inf)
    vectors: dict[str, np.ndarray] = {}
    for round_ in range(repeats):
        for name in names if round_ % 2 == 0 else reversed(names):
            start = time.perf_counter()
            vectors[name] = encoders[name](texts)
            best[name] = min(best[name], time.perf_counter() - start)
    return best, vectors


def run(
    settings: Settings, *, chunks: int = 512, repeats: int = 3, seed: int = DEFAULT_SEED
) -> dict[str, Any]:
    from newsdesk.container import build_embedder

    machine = machine_facts()
    embedder = build_embedder(settings)
    texts = chunk_texts(embedder, settings, chunks, seed)
    encoders = {"ours": embedder.embed, "baseline": plain_encoder(settings)}
    best, vectors = best_seconds(encoders, texts, repeats)
    cosines = np.sum(vectors["ours"] * vectors["baseline"], axis=1)
    token_counts = [len(s) + 2 for s in embedder.token_spans(texts)]  # + [CLS] and [SEP]
    token_counts = [min(t, embedder.max_tokens) for t in token_counts]
    shape = encoder_shape(settings.embedding_model)
    flops = shape.total_flops(token_counts) if shape else None
    return {
        "benchmark": "embed",
        "backend": settings.embedding_backend,
        "model_id": embedder.model_id,
        "chunks": len(texts),
        "mean_tokens": round(float(np.mean(token_counts)), 1),
        "repeats": repeats,
        "seed": seed,
        "chunks_per_s": round(len(texts) / best["ours"], 2),
        "baseline_chunks_per_s": round(len(texts) / best["baseline"], 2),
        "ratio": round(best["baseline"] / best["ours"], 3),
        "gflop_per_s": round(flops / best["ours"] / 1e9, 1) if flops else None,
        "baseline_gflop_per_s": round(flops / best["baseline"] / 1e9, 1) if flops else None,
        "min_cosine_to_baseline": round(float(cosines.min()), 5),
        "mean_cosine_to_baseline": round(float(cosines.mean()), 5),
        "machine": machine,
        "load_average_at_end": load_average(),
    }

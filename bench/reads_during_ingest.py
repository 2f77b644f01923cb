"""Search and /ask latency while idle and during a continuous ingest, in the same run.

A collection of ``--chunks`` chunks is written straight to the store (random unit vectors,
text made of the sample articles' words: the embedding cost is not what is measured here),
then a writer thread commits a batch of 64 one-chunk articles every ``--write-every``
seconds while readers time lexical and hybrid searches and extractive answers. Figures:
p50 / p95 / max per operation, idle and during the ingest, and their ratios.

Run the same script against older code to compare (its tree first on the path):

    .venv/bin/python bench/reads_during_ingest.py
    git worktree add /tmp/newsdesk-old <commit>
    PYTHONPATH=/tmp/newsdesk-old .venv/bin/python bench/reads_during_ingest.py
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import newsdesk
from newsdesk.container import Newsdesk, build_embedder
from newsdesk.settings import Settings
from newsdesk.stores.sqlite import ArticleWrite, ChunkWrite

REPO_ROOT = Path(__file__).resolve().parents[1]


def vocabulary() -> list[str]:
    text = (REPO_ROOT / "samples" / "articles.jsonl").read_text(encoding="utf-8")
    return sorted(set(re.findall(r"[a-z]{4,}", text.lower())))


def writes(first: int, count: int, words: list[str], dim: int, rng: random.Random) -> list:
    batch = []
    for n in range(first, first + count):
        text = " ".join(rng.choices(words, k=60)) + "."
        vector = np.array([rng.gauss(0, 1) for _ in range(dim)], dtype=np.float32)
        vector /= np.linalg.norm(vector)
        digest = hashlib.sha256(text.encode()).hexdigest()
        batch.append(
            ArticleWrite(
                id=f"bench-{n:07d}",
                title=f"Article {n}",
                text=text,
                url=None,
                source=None,
                author=None,
                published_at=None,
                metadata={},
                content_hash=digest,
                record_hash=digest,
                chunks=[ChunkWrite(0, 0, len(text), 60, vector)],
            )
        )
    return batch


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"p50 {statistics.median(ordered):8.1f}  p95 {p95:8.1f}  max {ordered[-1]:8.1f} ms"


def timed(operation: Callable[[], object]) -> float:
    started = time.perf_counter()
    operation()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=30_000)
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each phase")
    parser.add_argument("--write-every", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    words = vocabulary()
    print(f"code: {Path(newsdesk.__file__).resolve().parent}")
    embedder = build_embedder(Settings(_env_file=None))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), backend="extractive", _env_file=None)
        with Newsdesk.open(settings, embedder=embedder) as desk:
            started = time.perf_counter()
            for first in range(0, args.chunks, 1000):
                batch = writes(
                    first, min(1000, args.chunks - first), words, embedder.dimension, rng
                )
                desk.indexes.write(lambda batch=batch: desk.store.write(batch))
            desk.searcher.search("warmup", mode="lexical")  # old code: the first BM25 build
            print(f"collection: {args.chunks} chunks in {time.perf_counter() - started:.1f} s")
            answerer = desk.answerer()
            operations: dict[str, Callable[[], object]] = {
                "search lexical": lambda: desk.searcher.search(
                    " ".join(rng.sample(words, 3)), mode="lexical"
                ),
                "search hybrid": lambda: desk.searcher.search(" ".join(rng.sample(words, 3))),
                "ask (extractive)": lambda: answerer.ask(" ".join(rng.sample(words, 5)) + "?"),
            }
            idle = measure(operations, args.seconds)

            stop = threading.Event()
            written = [0]

            def writer() -> None:
                first = args.chunks
                while not stop.is_set():
                    batch = writes(first, 64, words, embedder.dimension, random.Random(first))
                    desk.indexes.write(lambda batch=batch: desk.store.write(batch))
                    first += 64
                    written[0] += 64
                    stop.wait(args.write_every)

            thread = threading.Thread(target=writer, daemon=True)
            thread.start()
            during = measure(operations, args.seconds)
            stop.set()
            thread.join()
            print(f"ingest during the second phase: {written[0]} articles")
            for name in operations:
                ratio_p50 = statistics.median(during[name]) / statistics.median(idle[name])
                ratio_max = max(during[name]) / max(idle[name])
                print(f"{name:18s} idle   {percentiles(idle[name])}  (n={len(idle[name])})")
                print(f"{'':18s} ingest {percentiles(during[name])}  (n={len(during[name])})")
                print(f"{'':18s} ratio  p50 x{ratio_p50:.2f}  max x{ratio_max:.2f}")


def measure(operations: dict[str, Callable[[], object]], seconds: float) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in operations}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, operation in operations.items():
            samples[name].append(timed(operation))
    return samples


if __name__ == "__main__":
    main()

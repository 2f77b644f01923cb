"""The article store on SQLite vs PostgreSQL: prints figures, asserts nothing.

For each store, in a fresh data directory (and, for PostgreSQL, a fresh database on the
development server, 127.0.0.1:5432 or NEWSDESK_TEST_DATABASE_URL): ingest the sample
articles (samples/articles.jsonl; the embedder is loaded and warmed once, so both stores pay
the same embedding cost), then time searches (hybrid, dense, lexical: p50/p95 over the
samples' titles and first sentences), an ingest of many small articles written one per call
(the store's write path dominates), and, for PostgreSQL, how long a second process's indexes
take to follow a write (another Newsdesk on its own data directory, same database).

Run from the repository root::

    PYTHONPATH=$PWD .venv/bin/python bench/store_compare.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from newsdesk.container import Newsdesk, build_embedder  # noqa: E402
from newsdesk.domain import ArticleInput, SearchFilters  # noqa: E402
from newsdesk.embedding import Embedder  # noqa: E402
from newsdesk.settings import Settings  # noqa: E402
from newsdesk.stores.sqlite import ArticleWrite, ChunkWrite  # noqa: E402
from tests.support.postgres import fresh_database  # noqa: E402
from tests.support.samples import load_samples  # noqa: E402


@contextmanager
def _database(kind: str) -> Iterator[str | None]:
    if kind == "sqlite":
        yield None
    else:
        with fresh_database() as url:
            yield url


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _small_articles(count: int) -> list[ArticleInput]:
    return [
        ArticleInput(
            id=f"small-{i}",
            title=f"Council notice {i}",
            text=f"The council published notice number {i} about road works on street {i}. "
            f"Residents of district {i % 17} may comment until the end of the month.",
            source=f"Outlet {i % 5}",
        )
        for i in range(count)
    ]


def measure(kind: str, embedder: Embedder, small: int, rounds: int) -> dict[str, float]:
    samples = load_samples()
    queries = [a.title for a in samples] + [a.text.split(". ")[0] for a in samples]
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, _database(kind) as url:
        settings = Settings(
            data_dir=Path(tmp) / "a",
            database_url=url,
            backend="extractive",
            follow_seconds=0.05,
            _env_file=None,
        )
        with Newsdesk.open(settings, embedder=embedder) as desk:
            started = time.perf_counter()
            desk.ingestor.ingest(samples)
            figures["ingest_samples_s"] = time.perf_counter() - started
            for mode in ("hybrid", "dense", "lexical"):
                took: list[float] = []
                for _ in range(rounds):
                    for query in queries:
                        started = time.perf_counter()
                        desk.searcher.search(query, mode=mode)  # type: ignore[arg-type]
                        took.append((time.perf_counter() - started) * 1000)
                figures[f"search_{mode}_p50_ms"] = statistics.median(took)
                figures[f"search_{mode}_p95_ms"] = _percentile(took, 0.95)
            figures.update(_store_only(desk, rounds))
            articles = _small_articles(small)
            desk.ingestor.ingest(articles[:1])  # warm
            started = time.perf_counter()
            for article in articles[1:]:
                desk.ingestor.ingest([article])
            figures["ingest_one_per_call_ms"] = (
                (time.perf_counter() - started) * 1000 / max(1, len(articles) - 1)
            )
            if url is not None:
                figures["follow_ms"] = _follow(desk, settings, url, embedder, Path(tmp))
    return figures


def _store_only(desk: Newsdesk, rounds: int) -> dict[str, float]:
    """The store alone, no model: hydrating 10 passages (what every search does), and
    writing one article of one chunk with a ready vector (one transaction, grouping included)."""
    ids = [int(i) for i in desk.store.chunk_ids_matching(SearchFilters())]
    reads: list[float] = []
    for round_ in range(rounds * 20):
        batch = ids[(round_ * 10) % max(1, len(ids) - 10) :][:10]
        started = time.perf_counter()
        desk.store.passages(batch)
        reads.append((time.perf_counter() - started) * 1000)
    writes: list[float] = []
    vector = np.ones(desk.embedder.dimension, dtype=np.float32)
    for i in range(rounds * 20):
        text = f"Store-only write {i}. It has a second sentence."
        chunk = ChunkWrite(0, 0, len(text), 10, vector)
        fields = (None, "Bench", None, None, {}, str(i), str(i), [chunk])
        article = ArticleWrite(f"store-only-{i}", f"Store only {i}", text, *fields)
        started = time.perf_counter()
        desk.store.write([article])
        writes.append((time.perf_counter() - started) * 1000)
    return {
        "store_passages10_p50_ms": statistics.median(reads),
        "store_passages10_p95_ms": _percentile(reads, 0.95),
        "store_write1_p50_ms": statistics.median(writes),
        "store_write1_p95_ms": _percentile(writes, 0.95),
    }


def _follow(desk: Newsdesk, settings: Settings, url: str, embedder: Embedder, tmp: Path) -> float:
    """Median time from a write returning in one process to another's indexes holding it."""
    other = settings.model_copy(update={"data_dir": tmp / "b"})
    took: list[float] = []
    with Newsdesk.open(other, embedder=embedder) as replica:
        for i in range(20):
            article = ArticleInput(
                id=f"follow-{i}", title=f"Follow {i}", text=f"Replica check number {i} here."
            )
            desk.ingestor.ingest([article])
            target = desk.store.generation()
            started = time.perf_counter()
            while replica.indexes.generation < target:
                time.sleep(0.001)
            took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=200, help="small articles, one per call")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the queries")
    args = parser.parse_args()
    embedder = build_embedder(Settings(_env_file=None))
    embedder.embed(["warm up"])
    results = {kind: measure(kind, embedder, args.small, args.rounds) for kind in STORES}
    print(f"{'figure':<28}" + "".join(f"{kind:>14}" for kind in STORES))
    for key in results["postgresql"]:
        row = "".join(
            f"{results[kind][key]:>14.2f}" if key in results[kind] else f"{'-':>14}"
            for kind in STORES
        )
        print(f"{key:<28}{row}")


STORES = ("sqlite", "postgresql")

if __name__ == "__main__":
    main()

"""Lexical search: the embedded BM25 index (bm25s) against PostgreSQL's lexical tables
(``lexical_store=postgres``) on the same chunks: query latency (unfiltered and with a source
filter), agreement of the top 10, write cost and storage.

    PYTHONPATH=. python bench/lexical_engine.py --chunks 100000 --queries 200

The collection is the synthetic one of `newsdesk bench search` (real news sentences in
seeded articles, chunked as the chunker packs them) but with a constant 4-dimensional vector
per chunk: lexical search reads no vectors, so none are computed. It is written into a
PostgreSQL database of its own (``--database``, created if missing, kept between runs and
reused when it holds the asked-for number of chunks) through the article store's own write
path, with the lexical tables kept, 500 articles per transaction. Both retrievers then answer
the same queries (the news suite's reference summaries' first sentences), one at a time,
alternating which goes first, for ``candidates`` = default_top_k x candidate_multiplier chunks
as a hybrid search asks. The filtered run restricts to one synthetic outlet: the embedded
index gets the allowed chunk ids read from the store (as a search does), PostgreSQL the
filter. Prints JSON."""

from __future__ import annotations

import argparse
import hashlib
import json
import time

import numpy as np
import psycopg

from newsdesk.benchmarks.collection import chunk_sentences, load_sources, synthetic_articles
from newsdesk.benchmarks.corpus import make_queries
from newsdesk.benchmarks.search import percentiles
from newsdesk.domain import SearchFilters
from newsdesk.settings import Settings
from newsdesk.stores.lexical import Bm25Index, tokenize
from newsdesk.stores.sqlite import ArticleStore, ArticleWrite, ChunkWrite

ARTICLES_PER_WRITE = 500


def ensure_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
    return admin_url.rpartition("/")[0] + "/" + name


def fill(
    store: ArticleStore, chunks: int, seed: int, per_write: int = ARTICLES_PER_WRITE
) -> dict[str, float]:
    """Write the synthetic collection through the store (lexical tables kept, unless the
    store was told otherwise)."""
    vector = np.ones(4, dtype=np.float32) / 2
    written, write_seconds = 0, 0.0
    batch: list[ArticleWrite] = []
    started = time.perf_counter()
    for article in synthetic_articles(load_sources(), seed):
        pieces = chunk_sentences(article)
        digest = hashlib.sha256(article.text.encode()).hexdigest()
        batch.append(
            ArticleWrite(
                article.id,
                article.title,
                article.text,
                None,
                article.source,
                None,
                article.published_at,
                {},
                digest,
                digest,
                [ChunkWrite(p.seq, p.char_start, p.char_end, p.words, vector) for p in pieces],
            )
        )
        written += len(pieces)
        if len(batch) >= per_write or written >= chunks:
            began = time.perf_counter()
            store.write(batch)
            write_seconds += time.perf_counter() - began
            batch = []
        if written >= chunks:
            break
    return {
        "chunks": written,
        "seconds": round(time.perf_counter() - started, 1),
        "store_write_seconds": round(write_seconds, 1),
    }


def write_cost(admin_url: str, chunks: int, seed: int) -> dict[str, object]:
    """The store's write time for ``chunks`` chunks (64 articles per transaction, as an
    ingest commits) into a fresh database without the lexical tables and into one with them."""
    figures: dict[str, object] = {}
    for mode in ("without_tables", "with_tables"):
        name = f"newsdesk_bench_lexical_writes_{mode}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        store = ArticleStore(ensure_database(admin_url, name))
        if mode == "with_tables":
            store.keep_lexical_tables()
        written = fill(store, chunks, seed, per_write=64)
        store.close()
        figures[mode] = {
            "chunks_per_second": round(written["chunks"] / written["store_write_seconds"], 1)
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--write-probe",
        type=int,
        default=0,
        help="only measure the write cost of the lexical tables on this many chunks",
    )
    args = parser.parse_args()
    if args.write_probe:
        print(json.dumps(write_cost(args.database, args.write_probe, args.seed), indent=2))
        return

    url = ensure_database(args.database, f"newsdesk_bench_lexical_{args.chunks}_{args.seed}")
    store = ArticleStore(url)
    report: dict[str, object] = {"chunks_requested": args.chunks}
    if store.chunk_count() < args.chunks:
        store.keep_lexical_tables()
        report["fill"] = fill(store, args.chunks, args.seed)
    else:
        report["fill_reconciled"] = store.keep_lexical_tables()
    # Statistics and the visibility map as autovacuum leaves them after a bulk load.
    raw = psycopg.connect(url, autocommit=True)
    for table in ("lexical_terms", "lexical_blocks", "lexical_documents"):
        raw.execute(f"VACUUM ANALYZE {table}")
    engine = store.lexical_view()

    started = time.perf_counter()
    ids, texts = [], []
    for batch_ids, batch_texts in store.iter_texts():
        ids.append(batch_ids)
        texts += batch_texts
    read_seconds = time.perf_counter() - started
    embedded = Bm25Index()
    started = time.perf_counter()
    embedded.rebuild(np.concatenate(ids), texts)
    report["chunks"] = len(embedded)
    report["bm25s_build_seconds"] = round(time.perf_counter() - started, 1)
    report["read_texts_seconds"] = round(read_seconds, 1)

    settings = Settings(_env_file=None)
    candidates = settings.default_top_k * settings.candidate_multiplier
    queries = make_queries(load_sources(), args.queries, args.seed)
    row = raw.execute("SELECT source FROM articles GROUP BY source ORDER BY count(*) LIMIT 1")
    source = row.fetchone()[0]
    only = SearchFilters(sources=[source])

    for query in queries[:5]:  # warm caches on both sides
        embedded.search(query, candidates)
        engine.search(query, candidates)
    # Blocks a query read, and the blocks its terms hold in all (what a full read costs).
    blocks_read: list[int] = []
    blocks_held: list[int] = []
    timings: dict[str, list[float]] = {
        "bm25s": [],
        "postgres": [],
        "bm25s_filtered": [],
        "postgres_filtered": [],
    }
    overlap, top1 = [], 0
    for n, query in enumerate(queries):

        def run_embedded(query: str = query) -> tuple[np.ndarray, np.ndarray]:
            began = time.perf_counter()
            found = embedded.search(query, candidates)
            timings["bm25s"].append(time.perf_counter() - began)
            began = time.perf_counter()
            allowed = store.chunk_ids_matching(only)
            embedded.search(query, candidates, allowed)
            timings["bm25s_filtered"].append(time.perf_counter() - began)
            return found

        def run_engine(query: str = query) -> tuple[np.ndarray, np.ndarray]:
            began = time.perf_counter()
            found = engine.search(query, candidates)
            timings["postgres"].append(time.perf_counter() - began)
            blocks_read.append(engine.last_blocks_read)
            blocks_held.append(
                raw.execute(
                    "SELECT count(*) FROM lexical_blocks b JOIN lexical_terms t USING (term_id)"
                    " WHERE t.term = ANY(%s)",
                    (sorted(set(tokenize([query])[0])),),
                ).fetchone()[0]
            )
            began = time.perf_counter()
            engine.search(query, candidates, filters=only)
            timings["postgres_filtered"].append(time.perf_counter() - began)
            return found

        if n % 2:
            ours, theirs = run_embedded(), run_engine()
        else:
            theirs, ours = run_engine(), run_embedded()
        expected, got = ours[1][:10], theirs[1][:10]
        overlap.append(len(set(expected.tolist()) & set(got.tolist())) / max(1, len(expected)))
        top1 += int(len(expected) > 0 and len(got) > 0 and expected[0] == got[0])

    total_bytes, postings, blocks = raw.execute(
        "SELECT pg_total_relation_size('lexical_terms') + pg_total_relation_size('lexical_blocks')"
        " + pg_total_relation_size('lexical_documents'),"
        " (SELECT sum(postings) FROM lexical_terms), (SELECT count(*) FROM lexical_blocks)"
    ).fetchone()
    report.update(
        {
            "queries": len(queries),
            "candidates": candidates,
            "filter": f"sources=[{source!r}]",
            "filtered_share": round(len(store.chunk_ids_matching(only)) / len(embedded), 3),
            **{name: percentiles(values) for name, values in timings.items()},
            "top10_overlap": round(float(np.mean(overlap)), 4),
            "top1_same": round(top1 / len(queries), 4),
            "postgres_bytes_per_chunk": round(int(total_bytes) / len(embedded)),
            "postings_per_chunk": round(int(postings) / len(embedded), 1),
            "blocks": int(blocks),
            "blocks_read_per_query": {
                "p50": int(np.percentile(blocks_read, 50)),
                "p95": int(np.percentile(blocks_read, 95)),
            },
            "blocks_of_query_terms": {
                "p50": int(np.percentile(blocks_held, 50)),
                "p95": int(np.percentile(blocks_held, 95)),
            },
        }
    )
    store.close()
    raw.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

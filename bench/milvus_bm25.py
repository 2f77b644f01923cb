"""milvus-lite's full-text search (BM25 function) against newsdesk's BM25 (bm25s) on the same
chunks: build time, query latency and how many of our top 10 it returns.

    PYTHONPATH=. python bench/milvus_bm25.py --data-dir ~/.cache/newsdesk-bench/chunks-100000-seed-13 \
        --chunks 20000 --queries 200

Reads the first ``--chunks`` chunk texts of an existing collection (e.g. one `newsdesk bench
search` built). milvus-lite's analyzers do not stem, so it is given our own stemmed tokens
(stop words removed) joined by spaces: both sides then index the same terms, and what differs
is the engine — milvus-lite's per-segment statistics against one index's. Prints JSON."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from newsdesk.benchmarks.collection import load_sources
from newsdesk.benchmarks.corpus import make_queries
from newsdesk.benchmarks.search import percentiles
from newsdesk.stores.lexical import Bm25Index, tokenize
from newsdesk.stores.sqlite import ArticleStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    store = ArticleStore(args.data_dir / "newsdesk.sqlite3")
    ids_parts, texts = [], []
    for ids, batch in store.iter_texts():
        ids_parts.append(ids)
        texts += batch
        if len(texts) >= args.chunks:
            break
    store.close()
    ids = np.concatenate(ids_parts)[: args.chunks]
    texts = texts[: args.chunks]
    queries = make_queries(load_sources(), args.queries, 13)

    started = time.perf_counter()
    ours = Bm25Index()
    ours.rebuild(ids, texts)
    ours_build = time.perf_counter() - started

    from pymilvus import DataType, Function, FunctionType, MilvusClient

    with tempfile.TemporaryDirectory() as scratch:
        client = MilvusClient(str(Path(scratch) / "bm25.db"))
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("terms", DataType.VARCHAR, max_length=65535, enable_analyzer=True)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        client.create_collection("chunks", schema=schema, index_params=index)
        started = time.perf_counter()
        tokens = tokenize(texts)
        for start in range(0, len(ids), 5_000):
            client.insert(
                "chunks",
                [
                    {"id": int(i), "terms": " ".join(t)}
                    for i, t in zip(
                        ids[start : start + 5_000], tokens[start : start + 5_000], strict=True
                    )
                ],
            )
        client.flush("chunks")
        client.load_collection("chunks")
        milvus_build = time.perf_counter() - started

        ours_times, milvus_times, overlaps = [], [], []
        for query in queries:
            started = time.perf_counter()
            _, our_ids = ours.search(query, 10)
            ours_times.append(time.perf_counter() - started)
            stemmed = " ".join(tokenize([query])[0]) or query
            started = time.perf_counter()
            hits = client.search(
                "chunks", data=[stemmed], anns_field="sparse", limit=10, output_fields=["id"]
            )[0]
            milvus_times.append(time.perf_counter() - started)
            if len(our_ids):
                theirs = {int(h["id"]) for h in hits}
                overlaps.append(len(theirs & set(our_ids.tolist())) / len(our_ids))
        client.close()

    print(
        json.dumps(
            {
                "chunks": len(ids),
                "queries": len(queries),
                "bm25s_build_seconds": round(ours_build, 2),
                "milvus_lite_build_seconds": round(milvus_build, 2),
                "bm25s_search": percentiles(ours_times),
                "milvus_lite_search": percentiles(milvus_times),
                "top10_overlap_with_bm25s": round(float(np.mean(overlaps)), 4),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

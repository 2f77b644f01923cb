"""HNSW tombstones: what skipping deleted vectors costs a dense search, two ways.

On a cached benchmark collection's HNSW snapshot (``newsdesk bench search --index hnsw``
builds it), a share of the vectors is marked deleted at random, then the same query vectors
are searched for the production candidate count (40):

- ``selector``: what newsdesk does: the deleted ids excluded inside faiss (an
  ``IDSelectorNot`` over a bitmap in ``SearchParametersHNSW``);
- ``overfetch``: the index searched as if nothing were deleted, for the candidates divided by
  the live share (rounded up), and the deleted ids dropped afterwards.

Per share: p50 / p95 of one search, recall@10 against exact search over the live vectors, and
how many searches came back with fewer than 40 live candidates.

    .venv/bin/python bench/hnsw_tombstones.py /tmp/h4-bench/chunks-100000-seed-13
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import faiss
import numpy as np

from newsdesk.benchmarks.collection import load_sources
from newsdesk.benchmarks.corpus import make_queries
from newsdesk.container import build_embedder
from newsdesk.settings import Settings
from newsdesk.stores.vectors import FaissVectorIndex

CANDIDATES = 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collection", type=Path, help="a chunks-N-seed-S directory")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--shares", default="0,0.01,0.1")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    index_dir = args.collection / "indexes-hnsw"
    snapshot = index_dir / (index_dir / "CURRENT").read_text().strip() / "vectors.faiss"
    settings = Settings(vector_index="hnsw", _env_file=None)
    model = build_embedder(settings)
    queries = model.embed(make_queries(load_sources(), args.queries, args.seed))
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    results = []
    for share in (float(s) for s in args.shares.split(",")):
        index = FaissVectorIndex(model.dimension, settings)
        index.load(snapshot)
        inner = index._index
        all_ids = faiss.vector_to_array(inner.id_map)
        deleted = rng.choice(all_ids, size=int(share * len(all_ids)), replace=False)
        index.remove(deleted)
        live = all_ids[~np.isin(all_ids, deleted)]
        exact = faiss.IndexIDMap2(faiss.IndexFlatIP(model.dimension))
        exact.add_with_ids(np.vstack([inner.reconstruct(int(i)) for i in live]), live)
        _, truth = exact.search(queries, 10)
        fetch = math.ceil(CANDIDATES / (1 - share))
        plain = faiss.SearchParametersHNSW(efSearch=settings.hnsw_ef_search)
        row: dict[str, object] = {"share_deleted": share, "vectors": int(inner.ntotal)}
        for way in ("selector", "overfetch"):
            times, found, short = [], [], 0
            for query in queries:
                started = time.perf_counter()
                if way == "selector":
                    _, ids = index.search(query[None, :], CANDIDATES)
                else:
                    _, raw = inner.search(query[None, :], fetch, params=plain)
                    ids = raw[0][(raw[0] >= 0) & ~np.isin(raw[0], deleted)][:CANDIDATES]
                times.append(time.perf_counter() - started)
                found.append(ids)
                short += len(ids) < CANDIDATES
            recall = np.mean(
                [
                    len(set(f[:10].tolist()) & set(t.tolist())) / 10
                    for f, t in zip(found, truth, strict=True)
                ]
            )
            ms = np.asarray(times) * 1000
            row[way] = {
                "p50_ms": round(float(np.percentile(ms, 50)), 3),
                "p95_ms": round(float(np.percentile(ms, 95)), 3),
                "recall_at_10": round(float(recall), 4),
                "short_of_candidates": int(short),
            }
        results.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps({"load_average": os.getloadavg(), "queries": len(queries)}))


if __name__ == "__main__":
    main()

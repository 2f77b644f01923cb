"""Time to put a collection's vectors into a searchable index: faiss HNSW (what
`vector_index=hnsw` builds) against milvus-lite (insert in 5,000-row batches, then flush: the
flush seals the segments and builds their HNSW indexes), same vectors, same parameters.

    PYTHONPATH=. python bench/milvus_build.py --data-dir ~/.cache/newsdesk-bench/chunks-100000-seed-13

Prints JSON: seconds for each, and milvus-lite's rows per second while inserting."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from newsdesk.settings import Settings
from newsdesk.stores.milvus import MilvusVectorIndex
from newsdesk.stores.sqlite import ArticleStore
from newsdesk.stores.vectors import FaissVectorIndex


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()

    store = ArticleStore(args.data_dir / "newsdesk.sqlite3")
    batches = list(store.iter_vectors(batch_size=50_000))
    ids = np.concatenate([b[0] for b in batches])
    vectors = np.vstack([b[1] for b in batches])
    dimension = vectors.shape[1]

    started = time.perf_counter()
    faiss_index = FaissVectorIndex(dimension, Settings(vector_index="hnsw", _env_file=None))
    faiss_index.rebuild(ids, vectors)
    faiss_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            vector_store="milvus",
            vector_index="hnsw",
            milvus_uri=str(Path(scratch) / "build.db"),
            _env_file=None,
        )
        milvus = MilvusVectorIndex(dimension, settings, "bench-model", store.chunk_attributes)
        started = time.perf_counter()
        milvus._create()
        milvus.add(ids, vectors)
        inserted = time.perf_counter() - started
        milvus._client.flush(milvus.collection)
        milvus_seconds = time.perf_counter() - started
        milvus.close()
    store.close()
    print(
        json.dumps(
            {
                "chunks": len(ids),
                "faiss_hnsw_build_seconds": round(faiss_seconds, 1),
                "milvus_lite_insert_seconds": round(inserted, 1),
                "milvus_lite_insert_rows_per_second": round(len(ids) / inserted),
                "milvus_lite_insert_and_flush_seconds": round(milvus_seconds, 1),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

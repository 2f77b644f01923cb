"""Run as a fresh process by `newsdesk bench search`: open a benchmark collection and answer
one search, printing how long each step took as one JSON line.

``python -m newsdesk.benchmarks.startup DATA_DIR INDEX SPAWNED_AT [VECTOR_STORE]`` (the
parent's wall clock when it started this process, so the figure includes the interpreter and
imports; the vector store is faiss unless given)."""

from __future__ import annotations

import time

STARTED = time.time()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def main() -> None:
    directory, kind, spawned = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    vector_store = sys.argv[4] if len(sys.argv) > 4 else "faiss"
    from newsdesk.benchmarks.collection import SentenceMeanEncoder, on_collection
    from newsdesk.container import Newsdesk, build_embedder
    from newsdesk.settings import Settings

    imported = time.time()
    settings = on_collection(Settings(), directory, kind, vector_store)
    encoder = SentenceMeanEncoder(build_embedder(settings))
    loaded_model = time.time()
    desk = Newsdesk.open(settings, embedder=encoder)
    opened = time.time()
    desk.searcher.search("What did the minister say about the economy?", top_k=10)
    answered = time.time()
    status = desk.index_status
    resident = resident_mb()
    desk.close()
    print(
        json.dumps(
            {
                "startup_seconds": round(answered - spawned, 3),
                "startup_stages": {
                    "interpreter": round(STARTED - spawned, 3),
                    "imports": round(imported - STARTED, 3),
                    "embedding_model": round(loaded_model - imported, 3),
                    "open_collection": round(opened - loaded_model, 3),
                    "first_search": round(answered - opened, 3),
                },
                "startup_index_status": status,
                # Memory of the process ready to answer: the model, the vector index in
                # memory, and only the pages of the memory-mapped BM25 matrix touched so far.
                "resident_mb": resident,
            }
        )
    )


def resident_mb() -> float | None:
    """Resident set size now (Linux /proc), in MB; None where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


if __name__ == "__main__":
    main()

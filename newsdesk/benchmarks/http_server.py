"""Run as a child process by `newsdesk bench http`: open a benchmark collection, measure the
in-process search rate at each concurrency (the same work without HTTP, in the same process
the server then runs in), then serve it over real uvicorn on loopback as `newsdesk serve`
does, until terminated.

``python -m newsdesk.benchmarks.http_server DATA_DIR INDEX PORT LEVELS REQUESTS OUT QUERIES``
(LEVELS comma-separated; the in-process figures go to the JSON file OUT before serving)."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np


def in_process_rate(
    desk: Any, queries: list[str], concurrency: int, requests: int
) -> dict[str, Any]:
    """What /search does behind HTTP (`operations.search`), from ``concurrency`` threads."""
    from newsdesk.api import operations
    from newsdesk.api.schemas import SearchBody

    bodies = [SearchBody(query=queries[i % len(queries)], top_k=10) for i in range(requests)]

    def one(body: SearchBody) -> float:
        started = time.perf_counter()
        operations.search(desk, body).model_dump_json()
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = np.asarray(list(pool.map(one, bodies))) * 1000
    seconds = time.perf_counter() - started
    return {
        "requests_per_s": round(requests / seconds, 2),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
    }


def main() -> None:
    directory, kind, port = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    levels = [int(x) for x in sys.argv[4].split(",")]
    requests, out, queries = int(sys.argv[5]), Path(sys.argv[6]), json.loads(sys.argv[7])
    import uvicorn

    from newsdesk.api.app import create_app
    from newsdesk.benchmarks.collection import SentenceMeanEncoder
    from newsdesk.container import Newsdesk, build_embedder
    from newsdesk.logs import configure_logging
    from newsdesk.settings import Settings

    # The extractive backend: no LLM server is started; /search never uses one anyway.
    settings = Settings(data_dir=directory, vector_index=kind, backend="extractive")
    configure_logging(settings)
    with Newsdesk.open(settings, embedder=SentenceMeanEncoder(build_embedder(settings))) as desk:
        in_process_rate(desk, queries, 1, 5)  # warm up
        figures = {c: in_process_rate(desk, queries, c, requests) for c in levels}
        out.write_text(json.dumps(figures))
        uvicorn.run(
            create_app(settings, desk=desk),
            host="127.0.0.1",
            port=port,
            log_level=settings.log_level,
            log_config=None,
            access_log=False,
        )


if __name__ == "__main__":
    main()

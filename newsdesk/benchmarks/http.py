"""`newsdesk bench http`: /search throughput and p95 at 1, 8 and 32 concurrent clients over
real uvicorn on loopback, against the in-process rate of the same work.

Three processes: this one prepares the cached collection (collection.py) and drives; the
server (http_server.py) first measures the in-process rate (``operations.search`` from a
thread pool, the work /search does without HTTP), then serves; the load generator
(loadgen.py) is a separate process of closed-loop keep-alive clients. /search is a plain
``def`` route, so FastAPI runs it in its thread pool and the event loop never waits for the
embedding, faiss or BM25 work."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from newsdesk.benchmarks.collection import DEFAULT_WORK_DIR
from newsdesk.benchmarks.search import INDEX_NAMES, VECTORS_SOURCE, open_desk, prepare
from newsdesk.settings import Settings

LEVELS = (1, 8, 32)
READY_TIMEOUT_S = 600.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(port: int, server: subprocess.Popen[bytes], figures: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        if figures.is_file():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
        time.sleep(0.2)
    raise TimeoutError("the server did not start")


def _load(port: int, concurrency: int, requests: int, queries: Sequence[str]) -> dict[str, Any]:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsdesk.benchmarks.loadgen",
            str(port),
            str(concurrency),
            str(requests),
            json.dumps(list(queries)),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=_child_env(),
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def run(
    settings: Settings,
    *,
    chunks: int,
    index: str = "auto",
    requests: int = 200,
    levels: Sequence[int] = LEVELS,
    work_dir: Path = DEFAULT_WORK_DIR,
    seed: int = 13,
) -> dict[str, Any]:
    kind = INDEX_NAMES[index]
    collection, encoder, pool = prepare(settings, chunks, work_dir, seed)
    desk, _, _ = open_desk(settings, collection, kind, encoder)  # builds the index once
    effective, stored = desk.indexes.vectors.kind, len(desk.indexes.vectors)
    desk.close()
    queries = pool[:200]
    port = _free_port()
    with tempfile.TemporaryDirectory() as scratch:
        in_process_file = Path(scratch) / "in_process.json"
        log_file = Path(scratch) / "server.log"
        with log_file.open("wb") as server_log:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "newsdesk.benchmarks.http_server",
                    str(collection.directory),
                    kind,
                    str(port),
                    ",".join(str(c) for c in levels),
                    str(requests),
                    str(in_process_file),
                    json.dumps(queries),
                ],
                stdout=server_log,
                stderr=server_log,
                env=_child_env(),
            )
            try:
                _wait_ready(port, server, in_process_file)
                _load(port, 1, 5, queries)  # warm up the connection path
                over_http = {c: _load(port, c, requests, queries) for c in levels}
            finally:
                server.terminate()
                server.wait(timeout=60)
        in_process = {int(c): v for c, v in json.loads(in_process_file.read_text()).items()}
    per_level = {}
    for c in levels:
        figures = over_http[c]
        local = in_process[c]
        per_level[str(c)] = {
            "requests_per_s": figures["requests_per_s"],
            "p50_ms": figures["p50_ms"],
            "p95_ms": figures["p95_ms"],
            "errors": figures["errors"],
            "requests": figures["requests"],
            "in_process_requests_per_s": local["requests_per_s"],
            "in_process_p95_ms": local["p95_ms"],
            "ratio_to_in_process": round(figures["requests_per_s"] / local["requests_per_s"], 3),
        }
    return {
        "benchmark": "http",
        "index": effective,
        "chunks": stored,
        "concurrency": per_level,
        "requests_per_s": {c: v["requests_per_s"] for c, v in per_level.items()},
        "p95_ms": {c: v["p95_ms"] for c, v in per_level.items()},
        "in_process_requests_per_s": {
            c: v["in_process_requests_per_s"] for c, v in per_level.items()
        },
        "load_generator": "newsdesk.benchmarks.loadgen: asyncio keep-alive HTTP/1.1 clients, "
        "closed loop, in a separate process",
        "server": "uvicorn on 127.0.0.1, one worker, the app of `newsdesk serve`",
        "vectors_source": VECTORS_SOURCE,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }

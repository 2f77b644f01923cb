"""A closed-loop HTTP load generator, run as its own process by `newsdesk bench http`.

``concurrency`` clients, each on one keep-alive HTTP/1.1 connection, send ``POST /search``
back to back (the next as soon as the previous answer is read) until ``requests`` have been
sent in all. Plain asyncio streams rather than an HTTP library: the generator shares the 2
cores with the server, so it must cost as little as it can.

``python -m newsdesk.benchmarks.loadgen PORT CONCURRENCY REQUESTS QUERIES_JSON``
prints one JSON line: requests, errors, seconds, requests_per_s, p50_ms, p95_ms."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import numpy as np


async def _client(
    port: int, bodies: list[bytes], next_index: list[int], latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while next_index[0] < len(bodies):
            body = bodies[next_index[0]]
            next_index[0] += 1
            head = (
                "POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if b" 200 " not in status_line:
                errors.append(1)
    finally:
        writer.close()


async def _run(port: int, concurrency: int, bodies: list[bytes]) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    next_index = [0]
    started = time.perf_counter()
    await asyncio.gather(
        *(_client(port, bodies, next_index, latencies, errors) for _ in range(concurrency))
    )
    seconds = time.perf_counter() - started
    array = np.asarray(latencies) * 1000
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": round(seconds, 3),
        "requests_per_s": round(len(latencies) / seconds, 2),
        "p50_ms": round(float(np.percentile(array, 50)), 2),
        "p95_ms": round(float(np.percentile(array, 95)), 2),
    }


def main() -> None:
    port, concurrency, requests = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    queries: list[str] = json.loads(sys.argv[4])
    bodies = [
        json.dumps({"query": queries[i % len(queries)], "top_k": 10}).encode()
        for i in range(requests)
    ]
    print(json.dumps(asyncio.run(_run(port, concurrency, bodies))))


if __name__ == "__main__":
    main()

"""What observability costs: the per-request time of the outermost middleware (request id,
route template lookup, HTTP metrics, one JSON access line written to a file) around an app
that answers at once, against the bare app; and the time of one /metrics scrape of a
collection of the sample articles (SQLite counts, index sizes, every family rendered).

    python bench/observability.py [--rounds 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from newsdesk.api.app import create_app
from newsdesk.api.observability import Observability, RouteTable
from newsdesk.container import Newsdesk
from newsdesk.index.readers import read_paths
from newsdesk.logs import configure_logging
from newsdesk.metrics import HttpMetrics
from newsdesk.settings import Settings

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "articles.jsonl"


async def _answer(scope: dict, receive: object, send: object) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"{}"})  # type: ignore[operator]


async def _sent(message: dict) -> None:
    return None


async def _received() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


def _per_request_us(app: object, path: str, rounds: int) -> float:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
    }

    async def run() -> float:
        start = time.perf_counter()
        for _ in range(rounds):
            await app(dict(scope), _received, _sent)  # type: ignore[operator]
        return (time.perf_counter() - start) / rounds * 1e6

    return statistics.median(asyncio.run(run()) for _ in range(5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", backend="extractive", _env_file=None)
        configure_logging(settings)
        # Lines formatted as in production, written to a file rather than the terminal.
        handler = logging.getLogger().handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(Path(tmp, "access.log").open("w"))  # noqa: SIM115
        with Newsdesk.open(settings) as desk:
            desk.ingestor.ingest(read_paths([SAMPLES]))
            app = create_app(settings, desk=desk)
            app.state.desk = desk
            wrapped = Observability(_answer, RouteTable(app), HttpMetrics(CollectorRegistry()))
            bare = _per_request_us(_answer, "/articles/some-id", args.rounds)
            for path in ("/health", "/articles/some-id", "/no/such/route"):
                with_it = _per_request_us(wrapped, path, args.rounds)
                print(f"middleware, {path:<20} {with_it - bare:7.1f} µs a request")
            # The access line's share: the same without it (NEWSDESK_LOG_LEVEL=warning).
            logging.getLogger("newsdesk.access").setLevel(logging.WARNING)
            without_line = _per_request_us(wrapped, "/articles/some-id", args.rounds)
            print(f"middleware without the access line {without_line - bare:7.1f} µs a request")
            registry = app.state.metrics_registry
            samples = []
            for _ in range(50):
                start = time.perf_counter()
                body = generate_latest(registry)
                samples.append((time.perf_counter() - start) * 1000)
            print(
                f"/metrics scrape, {desk.store.article_count()} articles: "
                f"{statistics.median(samples):.2f} ms median, {len(body):,} bytes"
            )


if __name__ == "__main__":
    main()

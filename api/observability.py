"""Request ids, access lines and HTTP metrics: pure ASGI middleware around everything else.

Outermost (installed last in ``create_app``), so it also sees the requests that web security,
authentication and limits refuse, and times a streamed (SSE) response until its last byte —
the app's call returns only when the body is sent. For each HTTP request it

- takes a well-formed incoming ``X-Request-ID`` or makes one (uuid4 hex), sets it in
  :data:`newsdesk.logs.REQUEST_ID` for everything the request runs, and returns it in the
  ``X-Request-ID`` header of every response;
- counts and times the request by method, route template and status
  (``newsdesk_http_requests_total``, ``newsdesk_http_request_duration_seconds``); the route
  label is the template (``/articles/{article_id}``) or ``unmatched``, never the raw path,
  which a caller could vary without bound;
- logs one access line: method, path *without its query string*, route, status, duration,
  client address and the caller's key name (never the key);
- answers an exception that escaped the app with a 500 of its own (a problem document, with
  the request id) before letting it propagate to the server, which logs it."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.routing import Mount, Route, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsdesk import __version__
from newsdesk.api.openai_errors import refusal_response
from newsdesk.container import Newsdesk
from newsdesk.logs import REQUEST_ID
from newsdesk.metrics import HttpMetrics, JudgeMetrics, LlmMetrics
from newsdesk.settings import Settings

log = logging.getLogger(__name__)
access_log = logging.getLogger("newsdesk.access")

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only if it is short and plain (it is echoed in headers and logs).
_WELL_FORMED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNMATCHED = "unmatched"
METRICS_PATH = "/metrics"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id_from(headers: Headers) -> str:
    offered = headers.get(REQUEST_ID_HEADER, "")
    return offered if _WELL_FORMED_ID.fullmatch(offered) else uuid.uuid4().hex


@dataclass(frozen=True)
class _Template:
    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str] | None  # None: any (a mounted app)


class RouteTable:
    """Which route template a request is for, decided before the app runs: requests refused
    before routing (401, 413, 429, a bad Host) get their route's label too. Built on first use
    from the OpenAPI schema (public and stable, unlike the router's internals) and the
    routes left out of it (the page, the docs, mounted files)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._templates: list[_Template] | None = None

    def label(self, method: str, path: str) -> str:
        partial = None
        for entry in self._templates or self._build():
            if entry.pattern.match(path):
                if entry.methods is None or method in entry.methods:
                    return entry.template
                partial = partial or entry.template  # a 405 for this route
        return partial or UNMATCHED

    def _build(self) -> list[_Template]:
        templates = []
        try:
            paths = self.app.openapi().get("paths", {})
        except Exception:
            # A schema that cannot be built breaks /openapi.json, not every request.
            log.exception("route labels: the OpenAPI schema could not be built")
            paths = {}
        for template, operations in paths.items():
            methods = {m.upper() for m in operations}
            templates.append(_template(template, methods))
        for route in self.app.routes:
            if isinstance(route, Mount):
                templates.append(_template(route.path + "/{path:path}", None, route.path))
            elif isinstance(route, Route | APIRoute) and not route.include_in_schema:
                templates.append(_template(route.path, route.methods or set()))
        self._templates = templates
        return templates


def _template(path: str, methods: set[str] | None, label: str | None = None) -> _Template:
    pattern, _, _ = compile_path(path)
    if methods is not None and "GET" in methods:
        methods = methods | {"HEAD"}
    return _Template(label or path, pattern, None if methods is None else frozenset(methods))


class Observability:
    def __init__(self, app: ASGIApp, routes: RouteTable, metrics: HttpMetrics) -> None:
        self.app = app
        self.routes = routes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope))
        # Not reset afterwards: each request is served in a task of its own (its context a
        # copy), and the server's own line about an exception that escapes below is logged in
        # this context after we return — so it carries the id too.
        REQUEST_ID.set(request_id)
        method = scope["method"] if scope["method"] in _METHODS else "other"
        route = self.routes.label(scope["method"], scope["path"])
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        started = time.perf_counter()
        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not started_response:
                await _server_error(scope["path"])(scope, receive, send_with_id)
            raise
        finally:
            seconds = time.perf_counter() - started
            self.metrics.in_progress.dec()
            self.metrics.observe(method, route, status, seconds)
            _log_access(scope, method, route, status, seconds)


def _server_error(path: str) -> Response:
    return refusal_response(
        path,
        500,
        slug="internal-error",
        title="Internal Server Error",
        detail="Internal error; the service's log has the details under this request's id.",
    )


def _log_access(scope: Scope, method: str, route: str, status: int, seconds: float) -> None:
    # The path only: query strings may carry text (search words), and the Authorization
    # header is never read here.
    path: str = scope["path"]
    client = scope.get("client")
    principal = scope.get("state", {}).get("principal")
    access_log.info(
        "%s %s %d",
        method,
        path,
        status,
        extra={
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": client[0] if client else None,
            "principal": getattr(principal, "name", None),
        },
    )


class DeskCollector:
    """The collection's state, read at scrape time (nothing on the hot paths): sizes, the
    LLM's state, and the counters of the components (ingestion, rebuilds, LLM calls)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # Shown (at zero) until the LLM starts, so dashboards find the series from the start.
        self._no_llm = LlmMetrics()
        self._no_judge = JudgeMetrics()

    def collect(self) -> Iterator[Metric]:
        desk: Newsdesk | None = getattr(self.app.state, "desk", None)
        if desk is None:  # before the lifespan opened it
            return
        settings = desk.settings
        info = InfoMetricFamily("newsdesk_build", "What the service runs.")
        info.add_metric(
            [],
            {
                "version": __version__,
                "backend": settings.backend,
                "embedding_model": desk.embedder.model_id,
                "vector_index": settings.vector_index,
            },
        )
        yield info
        yield GaugeMetricFamily(
            "newsdesk_articles", "Articles stored.", value=desk.store.article_count()
        )
        yield GaugeMetricFamily("newsdesk_chunks", "Chunks stored.", value=desk.store.chunk_count())
        yield GaugeMetricFamily(
            "newsdesk_index_vectors",
            "Vectors in the faiss index (live: those searches can return).",
            value=len(desk.indexes.vectors),
        )
        yield GaugeMetricFamily(
            "newsdesk_index_vectors_deleted",
            "Vectors of removed chunks the HNSW index still holds, skipped by searches "
            "until the index is rebuilt without them in the background.",
            value=desk.indexes.vectors.deleted,
        )
        lexical = desk.indexes.fresh_lexical()
        yield GaugeMetricFamily(
            "newsdesk_index_lexical_base_chunks",
            "Chunks in the BM25 base index (as of its last rebuild; with "
            "lexical_store=postgres, in PostgreSQL's lexical tables).",
            value=lexical.indexed_chunks,
        )
        yield GaugeMetricFamily(
            "newsdesk_index_lexical_pending",
            "Chunks written or removed since the BM25 base was built: searched beside it "
            "until the next background rebuild folds them in.",
            value=lexical.pending,
        )
        yield _llm_state(desk.llm_state())
        yield from desk.ingestor.metrics.collect()
        yield from desk.indexes.rebuild_metrics.collect()
        # Read without starting the LLM (desk.chat_model() would start it).
        llm_metrics = getattr(desk._chat, "metrics", None)
        yield from (llm_metrics if isinstance(llm_metrics, LlmMetrics) else self._no_llm).collect()
        judge = desk._judge  # likewise read without building it
        yield from (judge.metrics if judge is not None else self._no_judge).collect()


# The words before the colon of Newsdesk.llm_state(); another word gets a series of its own.
_LLM_STATES = (
    "none",
    "not started",
    "starting",
    "ready",
    "restarting",
    "open circuit",
    "failing",
    "unavailable",
)


def _llm_state(state: str) -> Metric:
    # `failing: <error>` → `failing`: the label values stay a small fixed set.
    current = state.split(":", 1)[0]
    family = GaugeMetricFamily(
        "newsdesk_llm_state",
        "1 for the LLM's current state (as /health's `llm` field says it), 0 for the others.",
        labels=["state"],
    )
    for name in dict.fromkeys((*_LLM_STATES, current)):
        family.add_metric([name], 1.0 if name == current else 0.0)
    return family


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class OpenMetrics:
    """With ``NEWSDESK_METRICS_OPEN``: answers ``GET /metrics`` before authentication (installed
    inside the web-security middleware, outside auth), so a scraper needs no key."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_http = scope["type"] == "http"
        if is_http and scope["path"] == METRICS_PATH and scope["method"] in ("GET", "HEAD"):
            # The scrape reads counts from SQLite: off the event loop.
            response = await run_in_threadpool(metrics_response, self.registry)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install_observability(app: FastAPI) -> CollectorRegistry:
    """Add the middleware (call this last in create_app: the last added is outermost) and
    return the app's own metrics registry, also kept on ``app.state.metrics_registry``."""
    registry = _registry(app)
    app.add_middleware(Observability, routes=RouteTable(app), metrics=HttpMetrics(registry))
    return registry


def install_open_metrics(app: FastAPI, settings: Settings) -> None:
    """With ``NEWSDESK_METRICS_OPEN``, serve /metrics without a key: call this after
    installing authentication and before web security (it goes between them)."""
    if settings.metrics_open:
        app.add_middleware(OpenMetrics, registry=_registry(app))


def _registry(app: FastAPI) -> CollectorRegistry:
    """The app's own registry (not the process-wide one: tests build many apps)."""
    registry: CollectorRegistry | None = getattr(app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry()
        registry.register(DeskCollector(app))
        app.state.metrics_registry = registry
    return registry

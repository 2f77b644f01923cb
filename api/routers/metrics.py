"""/metrics: the service's Prometheus metrics (reference: docs/operations.md#metrics)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from newsdesk.api.observability import METRICS_PATH, metrics_response
from newsdesk.api.problems import problem_doc

router = APIRouter(tags=["service"])


@router.get(
    METRICS_PATH,
    response_class=Response,
    summary="Prometheus metrics",
    description="Prometheus text format: HTTP requests by route and status, ingestion, LLM "
    "calls, index sizes and rebuilds. Needs a key (any role) when API keys are configured, "
    "unless `NEWSDESK_METRICS_OPEN` is set.",
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "The metrics"},
        401: problem_doc("No API key, or an unknown one (when keys are configured)"),
    },
)
def metrics(request: Request) -> Response:
    # A plain (threadpool) route: the scrape reads counts from SQLite.
    return metrics_response(request.app.state.metrics_registry)

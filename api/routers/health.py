"""/health: is the service up (and, for key holders, what is it running); /ready: can it do
its work, for an orchestrator."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from newsdesk.api import operations
from newsdesk.api.auth import identified
from newsdesk.api.deps import DeskDep
from newsdesk.api.schemas import Health, Readiness, ServiceStatus

router = APIRouter(tags=["service"])


@router.get(
    "/health",
    response_model=Health | ServiceStatus,
    summary="Service status",
    description="Open to all. With API keys configured, only callers with a valid key get "
    "the details (version, counts, models, index and LLM state with its last error); others "
    'get `{"status": "ok"}`.',
)
def health(desk: DeskDep, request: Request) -> Health | ServiceStatus:
    if identified(request) is None:
        return ServiceStatus(status="ok")
    return operations.health(desk)


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Readiness of the model, index and LLM",
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
def ready(desk: DeskDep, response: Response) -> Readiness:
    readiness = operations.readiness(desk)
    if readiness.status != "ready":
        response.status_code = 503
    return readiness

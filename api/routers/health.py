"""/health: is the service up, and what is it running."""

from __future__ import annotations

from fastapi import APIRouter

from newsdesk.api import operations
from newsdesk.api.deps import DeskDep
from newsdesk.api.schemas import Health

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health, summary="Service status")
def health(desk: DeskDep) -> Health:
    return operations.health(desk)

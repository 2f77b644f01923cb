"""/timeline: a topic in; its dated events out, in date order, each a cited article sentence."""

from __future__ import annotations

from fastapi import APIRouter

from newsdesk.answers import Timeline, TimelineRequest
from newsdesk.api import operations
from newsdesk.api.deps import DeskDep
from newsdesk.api.limits import SlotsDep
from newsdesk.api.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["answers"], responses=PROBLEM_RESPONSES)


@router.post(
    "/timeline",
    response_model=Timeline,
    summary="Dated events of a topic in date order, every event a cited sentence",
)
def timeline(desk: DeskDep, slots: SlotsDep, body: TimelineRequest) -> Timeline:
    with slots.held():
        return operations.timeline(desk, body)

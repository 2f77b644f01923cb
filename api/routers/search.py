"""/search: ranked passages for a query, hybrid by default."""

from __future__ import annotations

from fastapi import APIRouter

from newsdesk.api import operations
from newsdesk.api.deps import DeskDep
from newsdesk.api.problems import PROBLEM_RESPONSES
from newsdesk.api.schemas import SearchBody, SearchResponse

router = APIRouter(tags=["search"], responses=PROBLEM_RESPONSES)


@router.post("/search", response_model=SearchResponse, summary="Search passages")
def search(desk: DeskDep, body: SearchBody) -> SearchResponse:
    return operations.search(desk, body)

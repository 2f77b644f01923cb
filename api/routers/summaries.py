"""/summaries: one article, several, or a topic in; a cited, checked summary out (JSON, or
Server-Sent Events)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from pydantic import Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from newsdesk.answers import CitedSummary, SummaryRequest
from newsdesk.api.deps import DeskDep
from newsdesk.api.problems import PROBLEM_RESPONSES
from newsdesk.api.sse import pipeline_events
from newsdesk.container import Newsdesk
from newsdesk.generation.summarize import SummaryEvent

router = APIRouter(tags=["summaries"], responses=PROBLEM_RESPONSES)


class SummaryBody(SummaryRequest):
    stream: bool = Field(
        default=False,
        description="Stream Server-Sent Events: `token` events ({text}, markers removed; LLM "
        "backends only), `sentence` events ({text, sentence, citations}: each sentence once "
        "checked, with its final [n] markers), then one `summary` event with the full summary.",
    )

    def request(self) -> SummaryRequest:
        return SummaryRequest.model_validate(self.model_dump(exclude={"stream"}))


@router.post(
    "/summaries",
    response_model=CitedSummary,
    summary="Summarise an article, several articles or a topic, every sentence cited",
    responses={200: {"content": {"text/event-stream": {}}}},
)
def summarize(desk: DeskDep, body: SummaryBody) -> CitedSummary | EventSourceResponse:
    summarizer = desk.summarizer()
    request = body.request()
    if not body.stream:
        return summarizer.summarize(request)
    summarizer.validate(request)  # a bad request is still a plain 4xx problem
    return EventSourceResponse(_events(desk, request))


def _events(desk: Newsdesk, request: SummaryRequest) -> Iterator[ServerSentEvent]:
    return pipeline_events(
        desk.summarizer().stream(request),
        final="summary",
        result=lambda event: event.summary if isinstance(event, SummaryEvent) else None,
        instance="/summaries",
    )

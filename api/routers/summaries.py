"""/summaries: one article, several, or a topic in; a cited, checked summary out (JSON, or
Server-Sent Events)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from pydantic import Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from newsdesk.answers import CitedSummary, SummaryRequest
from newsdesk.api import operations
from newsdesk.api.deps import DeskDep
from newsdesk.api.limits import SlotsDep
from newsdesk.api.problems import PROBLEM_RESPONSES
from newsdesk.api.sse import pipeline_events
from newsdesk.generation.summarize import SummaryEvent, SummaryStreamEvent

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
def summarize(
    desk: DeskDep, slots: SlotsDep, body: SummaryBody
) -> CitedSummary | EventSourceResponse:
    request = body.request()
    if not body.stream:
        with slots.held():
            return operations.summarize(desk, request)
    # Checked before the stream starts, so a bad request (or no free slot) is still a plain
    # 4xx (503) problem; the stream holds its slot until it ends.
    events = slots.stream(lambda: operations.summary_stream(desk, request))
    return EventSourceResponse(_events(events))


def _events(events: Iterator[SummaryStreamEvent]) -> Iterator[ServerSentEvent]:
    return pipeline_events(
        events,
        final="summary",
        result=lambda event: event.summary if isinstance(event, SummaryEvent) else None,
        instance="/summaries",
    )

"""/ask: a question in, a cited and checked answer out (JSON, or Server-Sent Events)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from newsdesk.answers import AS_OF_DESCRIPTION, CitedAnswer
from newsdesk.api import operations
from newsdesk.api.deps import DeskDep
from newsdesk.api.limits import SlotsDep
from newsdesk.api.problems import PROBLEM_RESPONSES
from newsdesk.api.sse import pipeline_events
from newsdesk.domain import AsOf, SearchFilters
from newsdesk.generation.answer import AnswerEvent, StreamEvent

router = APIRouter(tags=["answers"], responses=PROBLEM_RESPONSES)


class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000)
    top_k: int | None = Field(default=None, description="Passages to retrieve (1 to max_top_k).")
    filters: SearchFilters | None = None
    as_of: AsOf = Field(default=None, description=AS_OF_DESCRIPTION)
    stream: bool = Field(
        default=False,
        description="Stream Server-Sent Events: `token` events ({text}: generated text as it "
        "arrives, markers removed), `sentence` events ({text, sentence, citations}: each "
        "sentence once finished and checked, with its final [n] markers), then one `answer` "
        "event with the full checked answer.",
    )


@router.post(
    "/ask",
    response_model=CitedAnswer,
    summary="Answer a question with cited, checked sentences",
    responses={200: {"content": {"text/event-stream": {}}}},
)
def ask(desk: DeskDep, slots: SlotsDep, body: AskBody) -> CitedAnswer | EventSourceResponse:
    if not body.stream:
        with slots.held():
            return operations.ask(desk, body.question, body.top_k, body.filters, as_of=body.as_of)
    # Checked before the stream starts, so a bad request (or no free slot) is still a plain
    # 4xx (503) problem; the stream holds its slot until it ends.
    events = slots.stream(
        lambda: operations.ask_stream(
            desk, body.question, body.top_k, body.filters, as_of=body.as_of
        )
    )
    return EventSourceResponse(_events(events))


def _events(events: Iterator[StreamEvent]) -> Iterator[ServerSentEvent]:
    return pipeline_events(
        events,
        final="answer",
        result=lambda event: event.answer if isinstance(event, AnswerEvent) else None,
        instance="/ask",
    )

"""/ask: a question in, a cited and checked answer out (JSON, or Server-Sent Events)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from newsdesk.answers import CitedAnswer
from newsdesk.api.deps import DeskDep
from newsdesk.api.problems import PROBLEM_RESPONSES, problem_for
from newsdesk.container import Newsdesk
from newsdesk.domain import SearchFilters
from newsdesk.errors import NewsdeskError
from newsdesk.generation.answer import AnswerEvent, SentenceEvent, TokenEvent

router = APIRouter(tags=["answers"], responses=PROBLEM_RESPONSES)


class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000)
    top_k: int | None = Field(default=None, description="Passages to retrieve (1 to max_top_k).")
    filters: SearchFilters | None = None
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
def ask(desk: DeskDep, body: AskBody) -> CitedAnswer | EventSourceResponse:
    answerer = desk.answerer()
    if not body.stream:
        return answerer.ask(body.question, body.top_k, body.filters)
    # Validate before the stream starts, so a bad request is still a plain 4xx problem.
    desk.searcher.request(body.question, body.top_k, body.filters)
    return EventSourceResponse(_events(desk, body))


def _events(desk: Newsdesk, body: AskBody) -> Iterator[ServerSentEvent]:
    try:
        for event in desk.answerer().stream(body.question, body.top_k, body.filters):
            if isinstance(event, TokenEvent):
                yield ServerSentEvent(json.dumps({"text": event.text}), event="token")
            elif isinstance(event, SentenceEvent):
                yield ServerSentEvent(sentence_json(event), event="sentence")
            elif isinstance(event, AnswerEvent):
                yield ServerSentEvent(event.answer.model_dump_json(), event="answer")
    except NewsdeskError as exc:
        problem = problem_for(exc, "/ask").model_dump(exclude_none=True)
        yield ServerSentEvent(json.dumps(problem), event="error")


def sentence_json(event: SentenceEvent) -> str:
    return json.dumps(
        {
            "text": event.text,
            "sentence": event.sentence.model_dump(mode="json"),
            "citations": [c.model_dump(mode="json") for c in event.citations],
        }
    )

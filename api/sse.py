"""Server-Sent Events for the streaming endpoints (/ask, /summaries): one event per pipeline
event, the final result under its own name, and a problem document if the stream fails."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from pydantic import BaseModel
from sse_starlette import ServerSentEvent

from newsdesk.api.problems import problem_for
from newsdesk.errors import NewsdeskError
from newsdesk.generation.streaming import SentenceEvent, TokenEvent


def pipeline_events(
    events: Iterator[object],
    *,
    final: str,
    result: Callable[[object], BaseModel | None],
    instance: str,
) -> Iterator[ServerSentEvent]:
    """`token` {text} · `sentence` {text, sentence, citations} · `<final>` (the result JSON,
    from the event for which `result` returns a model) · `error` (an RFC 9457 problem)."""
    try:
        for event in events:
            if isinstance(event, TokenEvent):
                yield ServerSentEvent(json.dumps({"text": event.text}), event="token")
            elif isinstance(event, SentenceEvent):
                yield ServerSentEvent(sentence_json(event), event="sentence")
            elif (model := result(event)) is not None:
                yield ServerSentEvent(model.model_dump_json(), event=final)
    except NewsdeskError as exc:
        problem = problem_for(exc, instance).model_dump(exclude_none=True)
        yield ServerSentEvent(json.dumps(problem), event="error")


def sentence_json(event: SentenceEvent) -> str:
    return json.dumps(
        {
            "text": event.text,
            "sentence": event.sentence.model_dump(mode="json"),
            "citations": [c.model_dump(mode="json") for c in event.citations],
        }
    )

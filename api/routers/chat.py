"""/v1: OpenAI-compatible chat completions over the cited-answer engine.

The conversation becomes one standalone question (generation/conversation.py), the answerer
answers it, and the reply carries the answer with its [n] markers plus a readable sources
list; the structured answer travels in the extra `newsdesk` field."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent

from newsdesk.answers import CitedAnswer
from newsdesk.api import operations
from newsdesk.api.deps import DeskDep
from newsdesk.api.limits import SlotsDep
from newsdesk.api.openai_errors import (
    OpenAIRequestError,
    error_json,
    error_type,
    from_newsdesk_error,
)
from newsdesk.api.openai_schemas import (
    MAX_QUESTION_CHARS,
    MODEL_ID,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ModelCard,
    ModelList,
    NewsdeskAnswer,
    OpenAIErrorBody,
    OpenAIErrorResponse,
    Usage,
)
from newsdesk.container import Newsdesk
from newsdesk.errors import NewsdeskError
from newsdesk.generation.answer import AnswerEvent
from newsdesk.generation.conversation import (
    QuestionRewriter,
    StandaloneQuestion,
    Turn,
    render_sources,
)
from newsdesk.generation.llm import GenerationOptions
from newsdesk.generation.streaming import SentenceEvent
from newsdesk.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/v1",
    tags=["chat (OpenAI-compatible)"],
    responses={
        status: {"model": OpenAIErrorResponse, "description": text}
        for status, text in {
            400: "Invalid request",
            401: "Missing or wrong API key",
            413: "Request too large",
            429: "Too many requests (when a rate limit is set)",
            503: "Busy: retry after Retry-After seconds",
        }.items()
    },
)

# When the model list was "created": fixed, so the listing is stable across restarts.
_MODEL_CREATED = 1_735_689_600  # 2025-01-01
# Shown when the checked answer differs from the sentences already streamed (an LLM that
# failed half-way, or a check that abstained after the fact).
_CORRECTION = "\n\nCorrection — the checked answer is: "


@router.get("/models", response_model=ModelList, summary="The one model: newsdesk")
def list_models() -> ModelList:
    return ModelList(data=[ModelCard(created=_MODEL_CREATED)])


@router.get(
    "/models/{model_id}",
    response_model=ModelCard,
    summary="Describe a model",
    responses={404: {"model": OpenAIErrorResponse, "description": "No such model"}},
)
def get_model(model_id: str) -> ModelCard:
    if model_id != MODEL_ID:
        raise OpenAIRequestError(
            f"The model '{model_id}' does not exist; this service offers '{MODEL_ID}'.",
            status=404,
            param="model",
            code="model_not_found",
        )
    return ModelCard(created=_MODEL_CREATED)


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="Answer the conversation's last question, cited (OpenAI chat completions)",
    responses={200: {"content": {"text/event-stream": {}}}},
)
def chat_completions(
    desk: DeskDep, slots: SlotsDep, body: ChatCompletionRequest
) -> ChatCompletion | EventSourceResponse:
    _within_caps(body, desk.settings)
    turns = _turns(body)
    rewriter = operations.question_rewriter(desk)
    reply = _Reply(desk, body, turns)
    if not body.stream:
        with slots.held():
            standalone = rewriter.rewrite(turns)
            answer = operations.ask(
                desk, standalone.text, filters=body.filters, options=reply.options, as_of=body.as_of
            )
            return reply.completion(answer, standalone)
    # The slot is taken before the stream starts (a 503 is still a plain error) and held
    # until it ends.
    return EventSourceResponse(slots.stream(lambda: _chunks(reply, rewriter)))


def _within_caps(body: ChatCompletionRequest, settings: Settings) -> None:
    """Conversation size caps, checked before any work: every message is read (rewriting,
    usage counting), so the cost grows with the whole conversation."""
    most = settings.max_chat_message_chars
    for index, message in enumerate(body.messages):
        if len(message.text) > most:
            raise OpenAIRequestError(
                f"message {index} holds {len(message.text):,} characters; a message may hold "
                f"at most {most:,}",
                param=f"messages.{index}.content",
                code="string_above_max_length",
            )
    total = sum(len(message.text) for message in body.messages)
    if total > settings.max_chat_chars:
        raise OpenAIRequestError(
            f"the messages hold {total:,} characters together; a request may hold at most "
            f"{settings.max_chat_chars:,}: send fewer or shorter messages",
            param="messages",
            code="context_length_exceeded",
        )


def _turns(body: ChatCompletionRequest) -> list[Turn]:
    """User and assistant turns; system prompts cannot steer cited answers, so they are
    accepted and left out."""
    turns = [
        Turn(role=m.role, text=m.text) for m in body.messages if m.role in ("user", "assistant")
    ]
    users = [i for i, m in enumerate(body.messages) if m.role == "user"]
    if not users:
        raise OpenAIRequestError("messages must contain a user message", param="messages")
    last = body.messages[users[-1]].text.strip()
    if not last:
        raise OpenAIRequestError(
            "the last user message is empty", param=f"messages.{users[-1]}.content"
        )
    if len(last) > MAX_QUESTION_CHARS:
        raise OpenAIRequestError(
            f"the last user message is longer than {MAX_QUESTION_CHARS} characters",
            param=f"messages.{users[-1]}.content",
            code="string_above_max_length",
        )
    return turns


class _Reply:
    """Builds the response objects of one request: ids, content, usage."""

    def __init__(self, desk: Newsdesk, body: ChatCompletionRequest, turns: list[Turn]) -> None:
        self.desk = desk
        self.body = body
        self.turns = turns
        self.typed = " ".join(next(t.text for t in reversed(turns) if t.role == "user").split())
        self.prompt_text = "\n".join(m.text for m in body.messages)
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        # The request's sampling options for the answer's LLM call; max_tokens can only lower
        # the configured limit (the answerer caps it).
        self.options = GenerationOptions(temperature=body.temperature, max_tokens=body.token_limit)

    def newsdesk(self, answer: CitedAnswer, standalone: StandaloneQuestion) -> NewsdeskAnswer:
        return NewsdeskAnswer(
            **answer.model_dump(),
            conversation_question=self.typed,
            rewrite=standalone.method,
            rewrite_note=standalone.note,
        )

    def usage(self, content: str) -> Usage:
        """Counted with the embedding model's tokenizer: free to run here, and close to (not
        the same as) an LLM's own count — the extractive backend has no other."""
        prompt, completion = (
            len(spans) for spans in self.desk.embedder.token_spans([self.prompt_text, content])
        )
        return Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )

    def completion(self, answer: CitedAnswer, standalone: StandaloneQuestion) -> ChatCompletion:
        content = full_content(answer)
        return ChatCompletion(
            id=self.id,
            created=self.created,
            choices=[Choice(message=AssistantMessage(content=content))],
            usage=self.usage(content),
            newsdesk=self.newsdesk(answer, standalone),
        )

    def chunk(
        self,
        delta: dict[str, Any],
        *,
        finish_reason: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> ServerSentEvent:
        payload: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": MODEL_ID,
            "system_fingerprint": None,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if self.body.include_usage:
            payload["usage"] = None  # as OpenAI does: only the last chunk carries usage
        payload.update(extra or {})
        return ServerSentEvent(json.dumps(payload, ensure_ascii=False))

    def usage_chunk(self, content: str) -> ServerSentEvent:
        payload = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": MODEL_ID,
            "system_fingerprint": None,
            "choices": [],
            "usage": self.usage(content).model_dump(),
        }
        return ServerSentEvent(json.dumps(payload))


def full_content(answer: CitedAnswer) -> str:
    """The answer with its markers, a blank line, then the sources list."""
    sources = render_sources(answer)
    return f"{answer.answer}\n\n{sources}" if sources else answer.answer


def _chunks(reply: _Reply, rewriter: QuestionRewriter) -> Iterator[Any]:
    """role chunk → sentence deltas → sources delta → finish chunk with `newsdesk` →
    usage chunk (if asked) → [DONE]. A failure after the first chunk is an error chunk."""
    yield reply.chunk({"role": "assistant", "content": ""})
    try:
        standalone = rewriter.rewrite(reply.turns)
        streamed: list[str] = []
        final: CitedAnswer | None = None
        events = operations.ask_stream(
            reply.desk,
            standalone.text,
            filters=reply.body.filters,
            options=reply.options,
            as_of=reply.body.as_of,
        )
        for event in events:
            if isinstance(event, SentenceEvent):
                text = event.text if not streamed else " " + event.text
                streamed.append(text)
                yield reply.chunk({"content": text})
            elif isinstance(event, AnswerEvent):
                final = event.answer
        assert final is not None, "an answer stream always ends with the answer"
        sent = "".join(streamed)
        if sent != final.answer:
            correction = final.answer if not sent else _CORRECTION + final.answer
            streamed.append(correction)
            yield reply.chunk({"content": correction})
        if sources := render_sources(final):
            streamed.append("\n\n" + sources)
            yield reply.chunk({"content": "\n\n" + sources})
        newsdesk = reply.newsdesk(final, standalone).model_dump(mode="json")
        yield reply.chunk({}, finish_reason="stop", extra={"newsdesk": newsdesk})
        if reply.body.include_usage:
            yield reply.usage_chunk("".join(streamed))
    except NewsdeskError as exc:
        yield ServerSentEvent(json.dumps(error_json(from_newsdesk_error(exc)[1])))
    except Exception:
        # The status line is long gone: the client can only learn of the failure in-stream.
        log.exception("chat completion stream failed")
        body = OpenAIErrorBody(message="internal error while answering", type=error_type(500))
        yield ServerSentEvent(json.dumps(error_json(body)))
    yield ServerSentEvent("[DONE]")

"""Request and response models of OpenAI's chat completions protocol, as far as newsdesk
speaks it (see docs/chat-api.md for what is honoured and what is ignored).

Requests are lenient the way OpenAI's own API is with clients: unknown parameters are accepted
and ignored, so chat front ends that send their usual options work unchanged."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from newsdesk.answers import AS_OF_DESCRIPTION, CitedAnswer
from newsdesk.domain import AsOf, SearchFilters, check_text

MODEL_ID = "newsdesk"
# A question longer than /ask accepts is refused before retrieval.
MAX_QUESTION_CHARS = 2000
MAX_MESSAGES = 200
MAX_MESSAGE_CHARS = 100_000

MessageRole = Literal["system", "developer", "user", "assistant"]


class ChatMessage(BaseModel):
    # Extra members (name, tool_calls, …) are accepted and ignored.
    model_config = ConfigDict(extra="allow")

    role: MessageRole = Field(
        description="`system` and `developer` messages are accepted but do not steer answers."
    )
    content: str | list[dict[str, Any]] | None = Field(
        default=None,
        description="A string, or a list of content parts of which only `text` parts are "
        "supported.",
    )

    @field_validator("content")
    @classmethod
    def _text_parts_only(
        cls, value: str | list[dict[str, Any]] | None
    ) -> str | list[dict[str, Any]] | None:
        if isinstance(value, list):
            for part in value:
                kind = part.get("type")
                if kind != "text" or not isinstance(part.get("text"), str):
                    raise ValueError(
                        "only text content parts ({'type': 'text', 'text': ...}) are "
                        f"supported, got type {kind!r}"
                    )
        if len(_joined(value)) > MAX_MESSAGE_CHARS:
            raise ValueError(f"a message may hold at most {MAX_MESSAGE_CHARS} characters")
        check_text(_joined(value))  # a lone surrogate reached the tokenizer: a 500
        return value

    @property
    def text(self) -> str:
        return _joined(self.content)


def _joined(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(str(part.get("text", "")) for part in content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(
        default=MODEL_ID,
        description="Any name is accepted (chat front ends send their own default); the "
        "response always names `newsdesk`.",
    )
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(
        default=None, ge=1, description="Capped at NEWSDESK_LLM_MAX_TOKENS; LLM backends only."
    )
    max_completion_tokens: int | None = Field(
        default=None, ge=1, description="Same as `max_tokens` (OpenAI's newer name)."
    )
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="Sampling temperature of the answer (LLM backends)."
    )
    n: int | None = Field(default=None, ge=1, le=1, description="Only one choice is produced.")
    # newsdesk extensions (OpenAI clients send them in `extra_body`).
    filters: SearchFilters | None = Field(
        default=None, description="newsdesk extension: restrict the passages, as in /ask."
    )
    as_of: AsOf = Field(default=None, description="newsdesk extension. " + AS_OF_DESCRIPTION)

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


# --- responses -------------------------------------------------------------------------------


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class NewsdeskAnswer(CitedAnswer):
    """The `/ask` answer, where `question` is the standalone question that was answered."""

    conversation_question: str = Field(description="The user's last message as typed.")
    rewrite: Literal["as asked", "llm", "rules"] = Field(
        description="How `question` was made from the conversation: unchanged, by the LLM, or "
        "by the rule-based fallback."
    )
    rewrite_note: str | None = Field(
        default=None, description="Why the LLM rewrite was not used, when it was tried."
    )


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[Choice]
    usage: Usage
    system_fingerprint: None = None
    newsdesk: NewsdeskAnswer


class ModelCard(BaseModel):
    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "newsdesk"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorResponse(BaseModel):
    error: OpenAIErrorBody

"""The data model of a cited answer, defined once and used by /ask, /summaries,
/v1/chat/completions, the CLI and the evals: answer sentences → citation numbers → passages →
quote spans with character offsets into the article."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from newsdesk.domain import ChunkOrigin

BackendName = Literal["local", "openai", "extractive"]


class Citation(ChunkOrigin):
    number: int = Field(description="The n of the [n] markers in the answer text.")
    passage: str = Field(description="Text of the cited chunk.")
    quote: str = Field(description="The sentence(s) of the passage that support the claim.")
    char_start: int = Field(description="Offset of the quote in the article text.")
    char_end: int = Field(description="article.text[char_start:char_end] == quote.")


class AnswerSentence(BaseModel):
    text: str = Field(description="The sentence without its markers.")
    citations: list[int] = Field(description="Citation numbers backing this sentence.")
    support: float = Field(ge=0, le=1, description="How well the cited quotes support it.")
    supported: bool = Field(description="support ≥ the configured threshold.")


class CitationCheck(BaseModel):
    """What the checker found and changed, so a reader can audit it."""

    invalid_markers: list[int] = Field(
        default_factory=list, description="Markers that pointed to no retrieved passage (dropped)."
    )
    unmarked_sentences: list[int] = Field(
        default_factory=list, description="Indexes of generated sentences that carried no marker."
    )
    reassigned_sentences: list[int] = Field(
        default_factory=list,
        description="Sentences whose marker named a passage that does not support them; "
        "the checker cited the passage that does.",
    )
    removed_sentences: list[str] = Field(
        default_factory=list, description="Unsupported sentences removed from the answer."
    )


class CitedText(BaseModel):
    """Checked, cited prose: the shared core of answers and summaries."""

    text: str = Field(description="Sentences with inline [n] markers.")
    sentences: list[AnswerSentence]
    citations: list[Citation]
    check: CitationCheck = Field(default_factory=CitationCheck)


class Timings(BaseModel):
    retrieval_ms: float = 0.0
    generation_ms: float = 0.0
    first_token_ms: float | None = Field(
        default=None, description="Streaming only: until the first generated text."
    )
    check_ms: float = 0.0
    total_ms: float = 0.0


class CitedAnswer(BaseModel):
    """The response of /ask: checked, cited prose plus how it was produced."""

    question: str
    answer: str = Field(description="The answer with inline [n] markers.")
    citations: list[Citation]
    sentences: list[AnswerSentence]
    check: CitationCheck = Field(default_factory=CitationCheck)
    abstained: bool = Field(description="True when the articles do not answer the question.")
    abstain_reason: str | None = None
    degraded: bool = Field(
        default=False, description="True when the configured LLM failed and a fallback answered."
    )
    degraded_reason: str | None = None
    backend: BackendName
    model: str | None = None
    timings: Timings = Field(default_factory=Timings)

"""The data model of a cited answer, defined once and used by /ask, /summaries,
/v1/chat/completions, the CLI and the evals: answer sentences → citation numbers → passages →
quote spans with character offsets into the article."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from newsdesk.domain import AsOf, ChunkOrigin, SearchFilters, UnicodeText

BackendName = Literal["local", "openai", "extractive"]


class Citation(ChunkOrigin):
    number: int = Field(description="The n of the [n] markers in the answer text.")
    passage: str = Field(description="Text of the cited chunk.")
    quote: str = Field(description="The sentence(s) of the passage that support the claim.")
    char_start: int = Field(description="Offset of the quote in the article text.")
    char_end: int = Field(description="article.text[char_start:char_end] == quote.")


MismatchKind = Literal["name", "number", "date", "negation", "attribution", "missing"]


class Mismatch(BaseModel):
    """Why a sentence is not supported: one of its facts is not in the quote it cites."""

    kind: MismatchKind = Field(
        description="name, number or date: not in the quote; negation: the sentence affirms "
        "what the quote negates, or the reverse; attribution: the quote has someone else say "
        "it; missing: the sentence's words are not in the quote at all."
    )
    claim: str = Field(description="The words of the sentence that are not supported.")
    evidence: str | None = Field(
        description="The nearest words of the cited quote (null when it has none)."
    )


JudgeVerdict = Literal["supported", "unsupported", "unknown"]


class Judgement(BaseModel):
    """The LLM judge's verdict on one sentence (NEWSDESK_LLM_JUDGE): does it follow from the
    quotes it cites?"""

    verdict: JudgeVerdict = Field(
        description="unknown: the judge gave no usable verdict (it failed, timed out, answered "
        "malformed, or the sentence cites no quote); the checker's verdict then stands."
    )
    reason: str | None = Field(
        default=None, description="The judge's reason, or why there is no verdict."
    )
    model: str = Field(description="The model that judged.")


class Corroboration(BaseModel):
    """How many sources support a sentence (generation/corroboration.py): the retrieved
    passages the checker finds supporting it, cited or not."""

    sources: int = Field(default=0, ge=0, description="Supporting passages.")
    outlets: int = Field(
        default=0,
        ge=0,
        description="Distinct named outlets that carried a supporting text, syndicated copies "
        "included.",
    )
    groups: int = Field(
        default=0,
        ge=0,
        description="Distinct near-duplicate groups among the supporting passages: independent "
        "reports, copies of one story counting once.",
    )


class AnswerSentence(BaseModel):
    text: str = Field(description="The sentence without its markers.")
    citations: list[int] = Field(description="Citation numbers backing this sentence.")
    support: float = Field(ge=0, le=1, description="How well the cited quotes support it.")
    supported: bool = Field(
        description="support ≥ the configured threshold, and (with the LLM judge on) the "
        "judge did not find it unsupported."
    )
    mismatches: list[Mismatch] = Field(
        default_factory=list,
        description="Why the checker doubts the sentence (empty when every fact was found).",
    )
    judge: Judgement | None = Field(
        default=None, description="The LLM judge's verdict; null when the judge did not run."
    )
    corroboration: Corroboration = Field(
        default_factory=Corroboration,
        description="Counts of the passages, outlets and independent stories that support the "
        "sentence (all 0 when none does).",
    )


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


class TimeRange(BaseModel):
    """The publication range a request's time words resolved to (docs/answers.md, "Time")."""

    published_after: datetime | None = Field(description="Inclusive lower bound applied.")
    published_before: datetime | None = Field(description="Inclusive upper bound applied.")
    resolved_from: str = Field(description="The words that were resolved, e.g. `last week`.")


AS_OF_DESCRIPTION = (
    "The date relative time words (`last week`, `on Monday`, `the latest`) are resolved "
    "against: an ISO 8601 date or datetime, naive values in UTC. Default: now."
)


class Timings(BaseModel):
    retrieval_ms: float = 0.0
    generation_ms: float = 0.0
    first_token_ms: float | None = Field(
        default=None, description="Streaming only: until the first generated text."
    )
    check_ms: float = 0.0
    total_ms: float = 0.0


ConflictKind = Literal["number", "date", "name", "attribution", "outcome"]


class SourceRelation(BaseModel):
    """How another article bears on a summary or answer sentence."""

    sentence: int = Field(description="Index into `sentences`.")
    relation: Literal["agrees", "disagrees"] = Field(
        description="agrees: another article states the same; disagrees: another article "
        "reports the same matter with a different fact in the same place — a number, date, "
        "name, speaker or outcome (both sides are cited)."
    )
    article_id: str
    citation: int = Field(description="The citation number of the other article's quote.")
    similarity: float
    kind: ConflictKind | None = Field(
        default=None,
        description="disagrees: which fact conflicts — number, date, name (another person, "
        "organisation or place in the same role), attribution (another speaker of the same "
        "statement) or outcome (opposite outcome or polarity). Null for agrees.",
    )
    claim: str | None = Field(
        default=None, description="disagrees: the conflicting words of the sentence's own source."
    )
    evidence: str | None = Field(
        default=None, description="disagrees: the conflicting words of the other article's quote."
    )


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
    fallback_reason: str | None = Field(
        default=None,
        description="Set when the LLM declined, or wrote nothing the checker supports, while a "
        "passage sentence answers the question (`llm_answerability` `extractive`): why the "
        "model's answer was set aside for the story's own sentences (`backend` extractive).",
    )
    backend: BackendName
    model: str | None = None
    timings: Timings = Field(default_factory=Timings)
    time_range: TimeRange | None = Field(
        default=None,
        description="The publication range resolved from the question's time words and "
        "applied; null when the question has none, or the request's filters set the range.",
    )
    relations: list[SourceRelation] = Field(
        default_factory=list,
        description="Where another retrieved article reports the same matter as an answer "
        "sentence with a different number, date, name, speaker or outcome (`disagrees`, with "
        "its `kind`; both sides are cited).",
    )


# --- summaries ----------------------------------------------------------------------------

SummaryLength = Literal["short", "medium", "long"]
SummaryStyle = Literal["paragraph", "bullets"]


class SummaryRequest(BaseModel):
    """What to summarise (exactly one of article_id, article_ids, topic) and how."""

    model_config = ConfigDict(extra="forbid")

    article_id: UnicodeText | None = Field(default=None, description="Summarise one article.")
    article_ids: list[UnicodeText] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="Summarise several articles together (e.g. coverage of one event).",
    )
    topic: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Retrieve the passages about this topic across the collection and "
        "summarise them.",
    )
    length: SummaryLength = Field(
        default="medium",
        description="short ≈ 1–2 sentences, medium ≈ a paragraph, long ≈ several paragraphs.",
    )
    max_words: int | None = Field(
        default=None, ge=10, le=1000, description="A word budget; overrides `length`'s."
    )
    style: SummaryStyle = Field(default="paragraph", description="Prose, or one bullet a line.")
    top_k: int | None = Field(
        default=None, description="Topic only: passages to retrieve (1 to max_top_k)."
    )
    filters: SearchFilters | None = Field(
        default=None, description="Topic only: restrict the passages retrieved."
    )
    as_of: AsOf = Field(default=None, description="Topic only. " + AS_OF_DESCRIPTION)

    @model_validator(mode="after")
    def _one_target(self) -> SummaryRequest:
        targets = [self.article_id is not None, self.article_ids is not None, bool(self.topic)]
        if sum(targets) != 1:
            raise ValueError("give exactly one of article_id, article_ids or topic")
        if self.topic is None and (
            self.top_k is not None or self.filters is not None or self.as_of is not None
        ):
            raise ValueError("top_k, filters and as_of apply to topic summaries only")
        return self

    def target_ids(self) -> list[str]:
        if self.article_id is not None:
            return [self.article_id]
        return list(dict.fromkeys(self.article_ids or []))


class CitedSummary(BaseModel):
    """The response of /summaries: checked, cited summary sentences plus how they were made."""

    summary: str = Field(description="The summary with inline [n] markers (bullets: '- ' lines).")
    sentences: list[AnswerSentence]
    citations: list[Citation]
    check: CitationCheck = Field(default_factory=CitationCheck)
    articles: list[str] = Field(description="Ids of the articles the summary covers.")
    relations: list[SourceRelation] = Field(
        default_factory=list,
        description="Multi-article summaries: where other sources agree or disagree.",
    )
    length: SummaryLength
    style: SummaryStyle
    max_words: int = Field(description="The word budget applied.")
    topic: str | None = None
    abstained: bool = Field(
        default=False, description="Topic summaries: nothing relevant enough was found."
    )
    abstain_reason: str | None = None
    hierarchical: bool = Field(
        default=False,
        description="True when the passages did not fit the model's context and were "
        "summarised in parts first (map), then combined (reduce).",
    )
    backend: BackendName
    model: str | None = None
    degraded: bool = Field(
        default=False, description="True when the configured LLM failed and a fallback answered."
    )
    degraded_reason: str | None = None
    cached: bool = Field(default=False, description="Served from the summary cache.")
    timings: Timings = Field(default_factory=Timings)
    time_range: TimeRange | None = Field(
        default=None,
        description="Topic summaries: the publication range resolved from the topic's time "
        "words and applied (as in /ask).",
    )


# --- timelines ----------------------------------------------------------------------------

DateSource = Literal["explicit", "relative", "publication"]
DatePrecision = Literal["day", "week", "month", "year"]


class TimelineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(
        min_length=1,
        max_length=500,
        description="What the timeline is about. Time words resolve as in /ask; `what changed "
        "since DATE` (or `since DATE`) keeps only the facts that are new after DATE.",
    )
    filters: SearchFilters | None = Field(default=None, description="Restrict the passages.")
    as_of: AsOf = Field(default=None, description=AS_OF_DESCRIPTION)
    top_k: int | None = Field(
        default=None,
        description="Passages to retrieve (1 to max_top_k; default NEWSDESK_TIMELINE_PASSAGES).",
    )


class TimelineEvent(BaseModel):
    date: dt.date = Field(description="The day the event is about (its first day if coarser).")
    date_source: DateSource = Field(
        description="explicit: a calendar date in the sentence (`March 3, 2015`, `on "
        "September 14`, `in 2010`); relative: a word resolved against the article's "
        "publication date (`on Monday`, `yesterday`, `last week`); publication: the sentence "
        "names no date, so its article's publication date."
    )
    precision: DatePrecision = Field(
        default="day", description="How exact `date` is: `in March` is a month."
    )
    text: str = Field(description="The sentence from the article (extractive).")
    citations: list[Citation] = Field(description="Shaped as /ask's citations.")
    support: float = Field(ge=0, le=1, description="How well the cited quote supports it.")


class Timeline(BaseModel):
    """The response of /timeline: dated, cited events in date order."""

    topic: str
    events: list[TimelineEvent]
    abstained: bool = Field(description="True when no dated, relevant event was found.")
    abstain_reason: str | None = None
    time_range: TimeRange | None = Field(
        default=None, description="The publication range resolved from the topic's time words."
    )
    since: dt.date | None = Field(
        default=None,
        description="`what changed since DATE`: the events are those after DATE whose facts "
        "no earlier event states.",
    )
    timings: Timings = Field(default_factory=Timings)

"""Compose a cited answer: retrieve → decide whether the articles can answer at all →
generate (LLM or extractive) → check every sentence against the passages → cite.

An LLM failure never fails the request: the extractive backend answers instead and the
response says so (`degraded`). Nothing falls back silently."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime

from newsdesk.answers import (
    AnswerSentence,
    BackendName,
    CitationCheck,
    CitedAnswer,
    CitedText,
    SourceRelation,
    Timings,
)
from newsdesk.domain import Passage, SearchFilters
from newsdesk.embedding import Embedder
from newsdesk.generation import answerability, local_models
from newsdesk.generation.agreement import relate_sources
from newsdesk.generation.budgets import (
    GenerationDeadline,
    check_retrieval_time,
    passages_within,
)
from newsdesk.generation.citations import CitationChecker
from newsdesk.generation.extractive import ExtractiveAnswerer, unmentioned
from newsdesk.generation.judge import SentenceJudge
from newsdesk.generation.llm import ChatModel, GenerationOptions, LLMError
from newsdesk.generation.markers import end_of_markers
from newsdesk.generation.prompting import answer_messages, answer_prompt
from newsdesk.generation.story_judge import StoryJudge
from newsdesk.generation.streaming import (
    CheckedSentences,
    MarkerStripper,
    SentenceEvent,
    TokenEvent,
    sentence_events,
    without_unfinished_sentence,
)
from newsdesk.index.text import sentence_spans
from newsdesk.retrieval.search import Searcher
from newsdesk.retrieval.time_scope import TimeScope, time_scope
from newsdesk.settings import Settings


@dataclass(frozen=True)
class AnswerEvent:
    """The final, checked answer; always the last event of a stream."""

    answer: CitedAnswer


StreamEvent = TokenEvent | SentenceEvent | AnswerEvent


class Answerer:
    def __init__(
        self,
        searcher: Searcher,
        embedder: Embedder,
        settings: Settings,
        chat_model: ChatModel | None,
        backend: BackendName,
        checker: CitationChecker,
        *,
        judge: SentenceJudge | None = None,
    ) -> None:
        self.searcher = searcher
        self.embedder = embedder
        self.settings = settings
        self.chat_model = chat_model
        self.backend = backend
        self.checker = checker
        self.prompts = local_models.prompt_set(settings)
        self.judge = judge  # a second opinion on LLM answers (NEWSDESK_LLM_JUDGE)
        self.extractive = ExtractiveAnswerer(embedder, min_binding=settings.extractive_min_binding)
        # The LLM's word on the story check (NEWSDESK_STORY_GATE_JUDGE), LLM backends only.
        self.story_judge = (
            StoryJudge(
                chat_model,
                min_log_odds=settings.story_gate_judge_min_log_odds,
                timeout=settings.llm_timeout_seconds,
            )
            if chat_model is not None and settings.story_gate_judge == "llm"
            else None
        )

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        filters: SearchFilters | None = None,
        *,
        options: GenerationOptions = GenerationOptions(),
        as_of: datetime | None = None,
    ) -> CitedAnswer:
        events = list(
            self.stream(question, top_k, filters, stream_tokens=False, options=options, as_of=as_of)
        )
        final = events[-1]
        assert isinstance(final, AnswerEvent)
        return final.answer

    def stream(
        self,
        question: str,
        top_k: int | None = None,
        filters: SearchFilters | None = None,
        *,
        stream_tokens: bool = True,
        options: GenerationOptions = GenerationOptions(),
        as_of: datetime | None = None,
    ) -> Iterator[StreamEvent]:
        """The answer's events: tokens (if `stream_tokens`), checked sentences, the answer.
        `options` tune this request's LLM call (the extractive backend ignores them); the
        question's time words resolve against `as_of` (default now) into the filters."""
        scope = self.scope(question, filters, as_of)
        for event in self._events(question, top_k, scope, stream_tokens, options):
            if isinstance(event, AnswerEvent) and scope.time_range is not None:
                event = AnswerEvent(
                    event.answer.model_copy(update={"time_range": scope.time_range})
                )
            yield event

    def scope(
        self, question: str, filters: SearchFilters | None, as_of: datetime | None
    ) -> TimeScope:
        return time_scope(question, filters, as_of, self.settings.recency_half_life_days)

    def _events(
        self,
        question: str,
        top_k: int | None,
        scope: TimeScope,
        stream_tokens: bool,
        options: GenerationOptions,
    ) -> Iterator[StreamEvent]:
        clock = _Clock()
        request = self.searcher.request(question, top_k, scope.filters, recency=scope.recency)
        started = time.monotonic()
        passages = self.searcher.run(request)
        clock.mark("retrieval_ms")
        check_retrieval_time(started, self.settings.retrieval_timeout_seconds)
        # top_k passages were retrieved; the answer is composed and checked from the best
        # of them only, within a budget of characters (the cost grows with the text read).
        passages = passages_within(passages, self.settings.max_answer_context_chars)

        # What the story must say: the question without the time words the filters handle.
        asked = scope.content_question(request.query)
        reason, cleared = self._why_unanswerable(asked, passages)
        if reason:
            yield from _finish(self._abstain(request.query, reason, clock), released=0)
            return

        if self.chat_model is None:
            yield from _finish(self._extractive(request.query, passages, clock, asked), released=0)
            return
        fallback: list[str] | None = None  # the story's own answer, when the rules decide
        if self._extractive_decides():
            fallback = self._extractive_sentences(asked, passages, story_cleared=cleared)
            if not fallback:
                clock.mark("generation_ms")
                reason = self._no_answer_reason(asked, passages)
                yield from _finish(self._abstain(request.query, reason, clock), released=0)
                return
        shown = passages[: self.settings.llm_max_passages]
        release = CheckedSentences(self.checker, shown, answer_prompt(self.prompts).max_sentences)
        # The answer's LLM calls (generation, then the judge's) share one deadline.
        deadline = GenerationDeadline(self.settings.generation_timeout_seconds)
        try:
            raw = yield from self._generate(
                request.query,
                shown,
                clock,
                release,
                deadline,
                stream_tokens=stream_tokens,
                options=options,
            )
        except LLMError as exc:
            answer = self._extractive(request.query, passages, clock, asked, story_cleared=cleared)
            degraded = answer.model_copy(update={"degraded": True, "degraded_reason": str(exc)})
            # Sentences released before the failure cannot be taken back; the fallback
            # follows in full and the final answer (degraded) is what holds.
            yield from _finish(degraded, released=0)
            return
        # The checker sees the passages the model saw, numbered as it saw them.
        answer = self._checked(request.query, raw, shown, clock, deadline)
        if fallback and (set_aside := self._set_aside(asked, answer, passages)):
            # The rules found the answer in a passage sentence: a model that declines it,
            # writes nothing the checker supports, or nothing that answers, gives way to that
            # sentence. Sentences already released stay; the fallback follows in full.
            cited = self.checker.cite(fallback, passages)
            answer = self._answer(request.query, cited, passages, clock, backend="extractive")
            answer = answer.model_copy(update={"fallback_reason": set_aside})
            yield from _finish(answer, released=0)
            return
        yield from _finish(answer, released=release.released)

    # --- steps -----------------------------------------------------------------------------
    def _extractive_decides(self) -> bool:
        """Whether the extractive decision (`extractive_answerability`), not the LLM, decides
        that the passages answer."""
        choice = self.settings.llm_answerability
        if choice == "auto":
            return self.backend == "local"
        return choice == "extractive"

    def _extractive_sentences(
        self, asked: str, passages: list[Passage], *, story_cleared: bool = False
    ) -> list[str]:
        """The passage sentences that answer, by the configured extractive decision;
        `story_cleared`: the story judge found that the story answers, whatever words it
        lacks."""
        choice = self.settings.extractive_answerability
        if choice in ("learned", "hybrid"):
            model = answerability.packaged_model(hybrid=choice == "hybrid")
            return answerability.answer(
                self.extractive, model, asked, passages, story_cleared=story_cleared
            )
        return self.extractive.answer(asked, passages, story_cleared=story_cleared)

    def _no_answer_reason(self, asked: str, passages: list[Passage]) -> str:
        """Why no passage sentence answers. The learned decision weighs what the stories
        lack instead of declining on it first; when they lack a focus word, that says why."""
        return _never_mentioned(asked, passages) or "no passage sentence answers the question"

    def _why_unanswerable(self, question: str, passages: list[Passage]) -> tuple[str | None, bool]:
        """Why the passages cannot answer (None: they may), and whether the story judge
        cleared the story check."""
        if not passages:
            return "no passage matches the question", False
        relevance = self._relevance(question, passages)
        if relevance < self.settings.abstain_threshold:
            irrelevant = (
                f"no passage is relevant enough (best similarity {relevance:.2f} < "
                f"{self.settings.abstain_threshold})"
            )
            return irrelevant, False
        # Similarity cannot tell "what did the mayor say?" from a question the story answers:
        # both are about the story. Asking about something no retrieved story mentions can.
        # The learned decision weighs what the story lacks itself (a reworded background word
        # is not a missing mayor), per sentence; an LLM backend still needs this gate. The
        # hybrid decision keeps it: without it the learned one answered "how many pilgrims
        # were injured?" from a story reporting no injured pilgrims.
        learned = self.settings.extractive_answerability == "learned"
        if learned and (self.chat_model is None or self._extractive_decides()):
            return None, False
        reason = _never_mentioned(question, passages)
        if reason is None or self.story_judge is None:
            return reason, False
        verdict = self.story_judge.judge(question, passages)
        if verdict.cleared:
            return None, True
        return f"{reason} ({verdict.said})", False

    def _set_aside(self, asked: str, answer: CitedAnswer, passages: list[Passage]) -> str | None:
        """Why the model's answer gives way to the rules' sentence; None when it stands."""
        if answer.abstained:
            return answer.abstain_reason
        if self._answers(asked, answer, passages):
            return None
        return "no supported sentence of the model's answers the question"

    def _answers(self, asked: str, answer: CitedAnswer, passages: list[Passage]) -> bool:
        """Whether a supported sentence of the model's passes the rules' check of an answer,
        read as a sentence of the article it cites: "NATO refused to impose a no-fly zone" is
        supported, but gives no reason for "why did NATO refuse …?"."""
        article_of = {c.number: c.article_id for c in answer.citations}
        first_passage: dict[str, Passage] = {}
        for passage in passages:
            first_passage.setdefault(passage.article_id, passage)
        read_as: list[Passage] = []
        for sentence in answer.sentences:
            if sentence.supported and sentence.citations:
                source = first_passage.get(article_of.get(sentence.citations[0], ""))
                if source is not None:
                    read_as.append(source.model_copy(update={"text": sentence.text}))
        if not read_as:
            return False
        # Only the model's sentences are checked; the stories (with them in) are read once.
        reading = self.extractive.read(asked, [*passages, *read_as])
        return any(reading.answers(p.text, p.article_id) for p in read_as)

    def _relevance(self, question: str, passages: list[Passage]) -> float:
        scores = [p.similarity for p in passages if p.similarity is not None]
        if scores:
            return max(scores)
        # Lexical mode: the query was never embedded, so measure here (passages are already
        # within the answer's character budget).
        vectors = self.embedder.embed([question, *(p.text for p in passages)])
        return float((vectors[1:] @ vectors[0]).max())

    def _generate(
        self,
        question: str,
        passages: list[Passage],
        clock: _Clock,
        release: CheckedSentences,
        deadline: GenerationDeadline,
        *,
        stream_tokens: bool,
        options: GenerationOptions,
    ) -> Generator[StreamEvent, None, str]:
        """Sentence events (and token events, if `stream_tokens`); returns the raw text."""
        assert self.chat_model is not None
        prompt = answer_prompt(self.prompts)
        max_tokens = options.max_tokens_within(self.settings.llm_max_tokens)
        temperature = options.temperature_or(self.settings.llm_temperature)
        messages = answer_messages(question, passages, self.prompts)
        if not stream_tokens:
            completion = self.chat_model.complete(
                messages, max_tokens=max_tokens, temperature=temperature, stop=prompt.stop
            )
            clock.mark("generation_ms")
            return completion.text
        # One call, so without a stream llm_timeout_seconds bounds it; a stream is checked
        # at every token against the generation deadline.
        stripper = MarkerStripper()
        pieces: list[str] = []
        deltas = self.chat_model.stream(
            messages, max_tokens=max_tokens, temperature=temperature, stop=prompt.stop
        )
        for delta in deltas:
            deadline.check()  # an LLMError: the answer falls back to extractive, degraded
            if not pieces:
                clock.first_token()
            pieces.append(delta)
            visible = stripper.feed(delta)
            if visible:
                yield TokenEvent(visible)
            if not _is_abstention("".join(pieces), prompt.abstain_phrase, partial=True):
                yield from release.feed("".join(pieces))
        if tail := stripper.flush():
            yield TokenEvent(tail)
        clock.mark("generation_ms")
        return "".join(pieces)

    def _checked(
        self,
        question: str,
        raw: str,
        passages: list[Passage],
        clock: _Clock,
        deadline: GenerationDeadline,
    ) -> CitedAnswer:
        prompt = answer_prompt(self.prompts)
        text = _within_budget(without_unfinished_sentence(raw), prompt.max_sentences)
        if _is_abstention(text, prompt.abstain_phrase):
            return self._abstain(question, "the model found no answer in the passages", clock)
        cited = self.checker.check(text, passages)
        if self.judge is not None:
            cited = self.judge.judge(cited, deadline)  # check_ms includes its call
        clock.mark("check_ms")
        if not any(s.supported for s in cited.sentences):
            return self._abstain(
                question, "no generated sentence is supported by the passages", clock, cited
            )
        return self._answer(question, cited, passages, clock, backend=self.backend)

    def _extractive(
        self,
        question: str,
        passages: list[Passage],
        clock: _Clock,
        asked: str,
        *,
        story_cleared: bool = False,
    ) -> CitedAnswer:
        """The story's own sentences that answer `asked` (the question without its time
        words); the answer reports `question` as asked."""
        sentences = self._extractive_sentences(asked, passages, story_cleared=story_cleared)
        clock.mark("generation_ms")
        if not sentences:
            return self._abstain(
                question, self._no_answer_reason(asked, passages), clock, backend="extractive"
            )
        cited = self.checker.cite(sentences, passages)
        clock.mark("check_ms")
        return self._answer(question, cited, passages, clock, backend="extractive")

    def _answer(
        self,
        question: str,
        cited: CitedText,
        passages: list[Passage],
        clock: _Clock,
        *,
        backend: BackendName,
    ) -> CitedAnswer:
        cited, relations = self._disagreements(cited, passages)
        return CitedAnswer(
            question=question,
            answer=cited.text,
            citations=cited.citations,
            sentences=cited.sentences,
            check=cited.check,
            abstained=False,
            backend=backend,
            model=self._model_name(backend),
            timings=clock.timings(),
            relations=relations,
        )

    def _disagreements(
        self, cited: CitedText, passages: list[Passage]
    ) -> tuple[CitedText, list[SourceRelation]]:
        """Where another article among the answer's passages reports a sentence's matter with
        a conflicting number, date, name, speaker or outcome, cite it too. Agreement is not looked for: corroboration already
        counts the supporting sources, and extra citations would change every answer."""
        related, relations = relate_sources(
            cited,
            passages,
            self.embedder,
            self.checker.scorer,
            self.checker.threshold,
            kinds=frozenset({"disagrees"}),
        )
        # Without a disagreement the checked answer stays exactly as it was.
        return (related, relations) if relations else (cited, [])

    def _abstain(
        self,
        question: str,
        reason: str,
        clock: _Clock,
        cited: CitedText | None = None,
        *,
        backend: BackendName | None = None,
    ) -> CitedAnswer:
        backend = backend or self.backend
        return CitedAnswer(
            question=question,
            answer=answer_prompt(self.prompts).abstain_phrase,
            citations=[],
            sentences=[],
            check=cited.check if cited else CitationCheck(),
            abstained=True,
            abstain_reason=reason,
            backend=backend,
            model=self._model_name(backend),
            timings=clock.timings(),
        )

    def _model_name(self, backend: BackendName) -> str | None:
        return model_name(backend, self.chat_model, self.embedder)


def _never_mentioned(question: str, passages: list[Passage]) -> str | None:
    """The story-coverage reason: what the question asks about that no passage mentions."""
    if missing := unmentioned(question, passages):
        return f"the articles never mention {', '.join(repr(w) for w in missing)}"
    return None


def _within_budget(raw: str, max_sentences: int) -> str:
    """Keep the first sentences only (and the markers right after them): small models
    ramble, then invent."""
    spans = sentence_spans(raw)
    if len(spans) <= max_sentences:
        return raw.strip()
    end = spans[max_sentences - 1].end
    return raw[: end_of_markers(raw, end)].strip()


def _is_abstention(text: str, phrase: str, *, partial: bool = False) -> bool:
    """Whether the text is (``partial``: may still become) the abstention phrase."""
    normalised = " ".join(text.lower().replace("’", "'").split())
    expected = phrase.lower().rstrip(".")
    if partial and len(normalised) < len(expected):
        return expected.startswith(normalised)
    return not normalised or normalised.startswith(expected)


def _finish(answer: CitedAnswer, *, released: int) -> Iterator[StreamEvent]:
    """The sentences not yet released, then the answer. An abstention is one sentence with
    no citations, unless sentences were already released (they cannot be taken back; the
    final answer says what holds)."""
    if answer.abstained:
        if released == 0:
            empty = AnswerSentence(text=answer.answer, citations=[], support=0.0, supported=False)
            yield SentenceEvent(answer.answer, empty, [])
    else:
        yield from sentence_events(answer.sentences[released:], answer.citations)
    yield AnswerEvent(answer)


class _Clock:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.last = self.start
        self.values: dict[str, float] = {}
        self.first_token_at: float | None = None

    def mark(self, name: str) -> None:
        now = time.perf_counter()
        self.values[name] = round((now - self.last) * 1000, 2)
        self.last = now

    def first_token(self) -> None:
        self.first_token_at = time.perf_counter()

    def timings(self) -> Timings:
        first = round((self.first_token_at - self.start) * 1000, 2) if self.first_token_at else None
        total = round((time.perf_counter() - self.start) * 1000, 2)
        return Timings(**self.values, first_token_ms=first, total_ms=total)


def model_name(backend: BackendName, chat_model: ChatModel | None, embedder: Embedder) -> str:
    """What wrote a text: the LLM, or for extractive text the embedder that selected it."""
    if backend == "extractive" or chat_model is None:
        return embedder.model_id
    return chat_model.name

"""Compose a cited summary of one article, several, or a topic.

gather passages → (cache) → extractive selection, or the LLM: one call when the passages fit
its context, otherwise map (summarise groups of passages) then reduce (combine the partial
summaries' sentences, each reduced sentence keeping the citations of those it came from) →
check every sentence against its passages → relate sources (multi-article) → render.

An LLM failure falls back to the extractive summary, marked `degraded` and never cached."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from newsdesk.answers import BackendName, CitedSummary, CitedText, SummaryRequest, Timings
from newsdesk.domain import Article, Passage
from newsdesk.embedding import Embedder
from newsdesk.errors import NotFound
from newsdesk.generation import extractive_summary, local_models
from newsdesk.generation.agreement import relate_sources
from newsdesk.generation.answer import model_name
from newsdesk.generation.budgets import (
    GenerationDeadline,
    OverCostCap,
    check_retrieval_time,
    passages_within,
)
from newsdesk.generation.citations import CitationChecker
from newsdesk.generation.cited_text import render, unbullet, within_budget, without_repeats
from newsdesk.generation.judge import SentenceJudge
from newsdesk.generation.llm import ChatModel, LLMError
from newsdesk.generation.markers import parse_markers
from newsdesk.generation.prompting import (
    SummaryBudget,
    estimate_tokens,
    reduce_messages,
    summary_messages,
    summary_prompt,
)
from newsdesk.generation.streaming import (
    CheckedSentences,
    MarkerStripper,
    SentenceEvent,
    TokenEvent,
    cited_by,
    sentence_events,
    without_unfinished_sentence,
)
from newsdesk.retrieval.search import Searcher
from newsdesk.retrieval.time_scope import TimeScope, time_scope
from newsdesk.settings import Settings
from newsdesk.stores.sqlite import ArticleStore


@dataclass(frozen=True)
class SummaryEvent:
    """The final, checked summary; always the last event of a stream."""

    summary: CitedSummary


SummaryStreamEvent = TokenEvent | SentenceEvent | SummaryEvent


@dataclass(frozen=True)
class _Material:
    articles: list[str]
    cache_key: str
    # Loads the passages: whole articles are read only when the cache misses.
    load: Callable[[], list[Passage]]


@dataclass(frozen=True)
class _Composed:
    cited: CitedText
    backend: BackendName
    generation_ms: float
    hierarchical: bool = False
    degraded_reason: str | None = None
    released: int = 0  # sentences already streamed


class Summarizer:
    def __init__(
        self,
        store: ArticleStore,
        searcher: Searcher,
        embedder: Embedder,
        checker: CitationChecker,
        settings: Settings,
        chat_model: ChatModel | None,
        backend: BackendName,
        *,
        judge: SentenceJudge | None = None,
    ) -> None:
        self.store = store
        self.searcher = searcher
        self.embedder = embedder
        self.checker = checker
        self.settings = settings
        self.chat_model = chat_model
        self.backend = backend
        self.prompts = local_models.prompt_set(settings)
        self.judge = judge  # a second opinion on LLM summaries (NEWSDESK_LLM_JUDGE)

    def validate(self, request: SummaryRequest) -> None:
        """Raise the error a request would fail with, without doing the work (so a stream
        can refuse with a plain 4xx before it starts)."""
        if request.topic is not None:
            self.searcher.request(request.topic, request.top_k, self._scope(request).filters)
            return
        ids = request.target_ids()
        self._content_hashes(ids)
        self._within_caps(ids)

    def _within_caps(self, article_ids: list[str]) -> None:
        """Refuse, before reading any article, a summary that would cover more articles or
        characters than allowed (the work grows with both)."""
        most = self.settings.max_summary_articles
        if len(article_ids) > most:
            raise OverCostCap(
                f"{len(article_ids)} articles in one summary; the limit is {most} "
                "(NEWSDESK_MAX_SUMMARY_ARTICLES)"
            )
        chars = sum(self.store.article_lengths(article_ids).values())
        if chars > self.settings.max_summary_chars:
            raise OverCostCap(
                f"the articles hold {chars:,} characters; one summary may cover at most "
                f"{self.settings.max_summary_chars:,} (NEWSDESK_MAX_SUMMARY_CHARS)"
            )

    def _content_hashes(self, article_ids: list[str]) -> dict[str, str]:
        hashes = self.store.stored_hashes(article_ids)
        missing = [a for a in article_ids if a not in hashes]
        if missing:
            raise NotFound(f"no article with id {missing[0]!r}")
        return {a: hashes[a].content_hash for a in article_ids}

    def summarize(self, request: SummaryRequest) -> CitedSummary:
        *_, final = self.stream(request, stream_tokens=False)
        assert isinstance(final, SummaryEvent)
        return final.summary

    def stream(
        self, request: SummaryRequest, *, stream_tokens: bool = True
    ) -> Iterator[SummaryStreamEvent]:
        started = time.perf_counter()
        budget = summary_prompt(self.prompts).budget(request.length, request.max_words)
        scope = self._scope(request)
        material = self._material(request, scope)
        base = {
            "articles": material.articles,
            "length": request.length,
            "style": request.style,
            "max_words": budget.max_words,
            "topic": request.topic,
            "time_range": scope.time_range,
        }
        if not material.articles:
            reason = "no passage is relevant enough to the topic"
            yield SummaryEvent(self._abstained(base, reason, started))
            return
        if (hit := self.store.cached_summary(material.cache_key)) is not None:
            summary = CitedSummary.model_validate_json(hit)
            summary = summary.model_copy(
                update={
                    "cached": True,
                    "timings": Timings(total_ms=_ms(started)),
                    "time_range": scope.time_range,  # the same passages, maybe another as_of
                }
            )
            yield from sentence_events(summary.sentences, summary.citations)
            yield SummaryEvent(summary)
            return
        passages = material.load()
        retrieval_ms = _ms(started)

        composed = yield from self._compose(passages, request, budget, stream_tokens)
        check_started = time.perf_counter()
        cited, relations = relate_sources(
            composed.cited, passages, self.embedder, self.checker.scorer, self.checker.threshold
        )
        summary = CitedSummary(
            **base,
            summary=render(cited.sentences, request.style),
            sentences=cited.sentences,
            citations=cited.citations,
            check=cited.check,
            relations=relations,
            hierarchical=composed.hierarchical,
            backend=composed.backend,
            model=self._model_name(composed.backend),
            degraded=composed.degraded_reason is not None,
            degraded_reason=composed.degraded_reason,
            timings=Timings(
                retrieval_ms=retrieval_ms,
                generation_ms=composed.generation_ms,
                check_ms=_ms(check_started),
                total_ms=_ms(started),
            ),
        )
        # A judge that gave no verdict may give one next time: such a summary is not kept.
        judged = all(s.judge is None or s.judge.verdict != "unknown" for s in summary.sentences)
        if not summary.degraded and judged:
            self.store.cache_summary(
                material.cache_key, material.articles, summary.model_dump_json()
            )
        yield from sentence_events(summary.sentences[composed.released :], summary.citations)
        yield SummaryEvent(summary)

    # --- what to summarise -----------------------------------------------------------------
    def _scope(self, request: SummaryRequest) -> TimeScope:
        """A topic's time words, resolved against `as_of` into its filters (as in /ask)."""
        return time_scope(
            request.topic or "",
            request.filters,
            request.as_of,
            self.settings.recency_half_life_days,
        )

    def _material(self, request: SummaryRequest, scope: TimeScope) -> _Material:
        if request.topic is not None:
            return self._topic_material(request, scope)
        ids = request.target_ids()
        hashes = self._content_hashes(ids)
        self._within_caps(ids)

        def load() -> list[Passage]:
            passages: list[Passage] = []
            for article_id in ids:
                article = self.store.get_article(article_id)
                if article is None:  # deleted since validate()
                    raise NotFound(f"no article with id {article_id!r}")
                passages += _article_passages(article)
            return passages

        return _Material(ids, self._cache_key(request, hashes, None), load)

    def _topic_material(self, request: SummaryRequest, scope: TimeScope) -> _Material:
        assert request.topic is not None
        top_k = request.top_k or self.settings.summary_topic_passages
        search = self.searcher.request(request.topic, top_k, scope.filters, recency=scope.recency)
        started = time.monotonic()
        found = self.searcher.run(search)
        check_retrieval_time(started, self.settings.retrieval_timeout_seconds)
        relevant = self._within_topic_caps(
            [
                p
                for p in found
                if p.similarity is None or p.similarity >= self.settings.summary_min_similarity
            ]
        )
        rank = {a: i for i, a in enumerate(dict.fromkeys(p.article_id for p in relevant))}
        # Article by article in ranking order, each in reading order: summaries read better.
        ordered = sorted(relevant, key=lambda p: (rank[p.article_id], p.char_start))
        hashes = self._content_hashes(list(rank))
        key = self._cache_key(request, hashes, [p.chunk_id for p in ordered])
        return _Material(list(rank), key, lambda: ordered)

    def _within_topic_caps(self, ranked: list[Passage]) -> list[Passage]:
        """The best-ranked passages within the summary caps: the lower-ranked ones beyond
        max_summary_chars, or from more than max_summary_articles articles, are left out."""
        kept = passages_within(ranked, self.settings.max_summary_chars)
        articles: set[str] = set()
        within: list[Passage] = []
        for passage in kept:
            if passage.article_id not in articles:
                if len(articles) == self.settings.max_summary_articles:
                    continue
                articles.add(passage.article_id)
            within.append(passage)
        return within

    def _cache_key(
        self, request: SummaryRequest, hashes: dict[str, str], chunk_ids: list[int] | None
    ) -> str:
        key = {
            "articles": list(hashes.items()),  # request order: it orders the summary
            "chunks": chunk_ids,
            "options": request.model_dump(
                mode="json", include={"length", "max_words", "style", "topic"}
            ),
            "backend": self.backend,
            "model": self._model_name(self.backend),
            "embedding": self.embedder.model_id,
            "prompts": _prompt_version(),
            "threshold": self.checker.threshold,
            "judge": self.judge is not None,
            # Summaries cached before sentences carried corroboration, or before relations
            # named the kind of conflict (names, speakers, outcomes too), are not served.
            "corroboration": 1,
            "conflicts": 1,
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()

    # --- composing -------------------------------------------------------------------------
    def _compose(
        self,
        passages: list[Passage],
        request: SummaryRequest,
        budget: SummaryBudget,
        stream_tokens: bool,
    ) -> Generator[SummaryStreamEvent, None, _Composed]:
        """The checked summary sentences (a generator only so that a stream can show them)."""
        started = time.perf_counter()
        if self.chat_model is None:
            return _Composed(self._extractive(passages, budget), "extractive", _ms(started))
        articles = len({p.article_id for p in passages})
        instructions = summary_prompt(self.prompts).instructions(budget, request.style, articles)
        groups = self._groups(passages)
        release = CheckedSentences(self.checker, passages, budget.max_sentences)
        # All the calls of this summary share one deadline; running out is an LLMError.
        deadline = GenerationDeadline(self.settings.generation_timeout_seconds)
        try:
            if len(groups) == 1:
                messages = summary_messages(passages, instructions, self.prompts)
                raw = yield from self._generate(messages, budget, stream_tokens, release, deadline)
                cited = self.checker.check(without_unfinished_sentence(unbullet(raw)), passages)
                hierarchical = False
            else:
                cited = self._map_reduce(groups, budget, instructions, deadline)
                hierarchical = True
        except LLMError as exc:
            fallback = self._extractive(passages, budget)
            return _Composed(fallback, "extractive", _ms(started), degraded_reason=str(exc))
        cited = within_budget(without_repeats(cited), budget.max_sentences, budget.max_words)
        if self.judge is not None:
            cited = self.judge.judge(cited, deadline)
        if not any(s.supported for s in cited.sentences):
            # A summary none of whose sentences the passages support is worse than none.
            reason = "no sentence the model wrote is supported by the passages"
            fallback = self._extractive(passages, budget)
            return _Composed(fallback, "extractive", _ms(started), degraded_reason=reason)
        return _Composed(cited, self.backend, _ms(started), hierarchical, released=release.released)

    def _extractive(self, passages: list[Passage], budget: SummaryBudget) -> CitedText:
        candidates = extractive_summary.candidate_sentences(passages)
        chosen = extractive_summary.select(
            candidates, self.embedder, budget.max_sentences, budget.max_words
        )
        return self.checker.cite([c.text for c in chosen], passages)

    def _generate(
        self,
        messages: list[dict[str, str]],
        budget: SummaryBudget,
        stream_tokens: bool,
        release: CheckedSentences | None,
        deadline: GenerationDeadline,
    ) -> Generator[SummaryStreamEvent, None, str]:
        """Token and sentence events (if `stream_tokens`); returns the raw text."""
        if not stream_tokens or release is None:
            return self._complete(messages, budget, deadline)
        assert self.chat_model is not None
        stripper = MarkerStripper()
        pieces: list[str] = []
        deltas = self.chat_model.stream(
            messages,
            max_tokens=budget.max_tokens,
            temperature=self.settings.llm_temperature,
            stop=summary_prompt(self.prompts).stop,
        )
        for delta in deltas:
            deadline.check()
            pieces.append(delta)
            if visible := stripper.feed(delta):
                yield TokenEvent(visible)
            yield from release.feed(unbullet("".join(pieces)))
        if tail := stripper.flush():
            yield TokenEvent(tail)
        return "".join(pieces)

    def _groups(self, passages: list[Passage]) -> list[list[Passage]]:
        """Consecutive passages packed into groups that fit the model's context."""
        room = self._context_tokens() - summary_prompt(self.prompts).context_reserve_tokens
        room = max(room, 256)
        groups: list[list[Passage]] = [[]]
        used = 0
        for passage in passages:
            cost = estimate_tokens(passage.text) + 8
            if groups[-1] and used + cost > room:
                groups.append([])
                used = 0
            groups[-1].append(passage)
            used += cost
        return groups

    def _context_tokens(self) -> int:
        if self.backend == "local":
            return self.settings.local_context_tokens
        return self.settings.openai_context_tokens

    def _map_reduce(
        self,
        groups: list[list[Passage]],
        budget: SummaryBudget,
        instructions: str,
        deadline: GenerationDeadline,
    ) -> CitedText:
        """Summarise each group, then combine the partial sentences; a reduced sentence cites
        the passages its statements cited, and is checked against them."""
        prompt = summary_prompt(self.prompts)
        partial_budget = prompt.budget("medium", None)
        statements: list[tuple[str, list[int]]] = []  # text, chunk ids it cites
        passages: list[Passage] = []
        index_of: dict[int, int] = {}
        for group in groups:
            part_instructions = prompt.instructions(partial_budget, "paragraph", 1)
            raw = self._complete(
                summary_messages(group, part_instructions, self.prompts), partial_budget, deadline
            )
            part = self.checker.check(without_unfinished_sentence(unbullet(raw)), group)
            for sentence in part.sentences:
                if not sentence.supported:
                    continue  # an unsupported partial claim must not reach the final summary
                chunk_ids = [c.chunk_id for c in cited_by(sentence, part.citations)]
                statements.append((sentence.text, chunk_ids))
            for passage in group:
                if passage.chunk_id not in index_of:
                    index_of[passage.chunk_id] = len(passages)
                    passages.append(passage)
        if not statements:
            return CitedText(text="", sentences=[], citations=[])
        raw = self._complete(
            reduce_messages([s for s, _ in statements], instructions, self.prompts),
            budget,
            deadline,
        )
        marked: list[tuple[str, list[int]]] = []
        for parsed in parse_markers(without_unfinished_sentence(unbullet(raw))):
            numbers = [
                index_of[chunk] + 1
                for statement in parsed.markers
                if 1 <= statement <= len(statements)
                for chunk in statements[statement - 1][1]
            ]
            marked.append((parsed.text, numbers))
        return self.checker.check_marked(marked, passages)

    def _complete(
        self, messages: list[dict[str, str]], budget: SummaryBudget, deadline: GenerationDeadline
    ) -> str:
        assert self.chat_model is not None
        deadline.check()
        return self.chat_model.complete(
            messages,
            max_tokens=budget.max_tokens,
            temperature=self.settings.llm_temperature,
            stop=summary_prompt(self.prompts).stop,
        ).text

    # --- results ---------------------------------------------------------------------------
    def _abstained(self, base: dict, reason: str, started: float) -> CitedSummary:
        return CitedSummary(
            **base,
            summary="",
            sentences=[],
            citations=[],
            abstained=True,
            abstain_reason=reason,
            backend=self.backend,
            model=self._model_name(self.backend),
            timings=Timings(total_ms=_ms(started)),
        )

    def _model_name(self, backend: BackendName) -> str | None:
        return model_name(backend, self.chat_model, self.embedder)


def _article_passages(article: Article) -> list[Passage]:
    origin: dict[str, Any] = {
        "article_id": article.id,
        "title": article.title,
        "url": article.url,
        "source": article.source,
        "published_at": article.published_at,
    }
    if article.group is not None:  # copies of one story corroborate as one (corroboration.py)
        origin["group_id"] = article.group.id
        origin["original_id"] = article.group.original_id
        origin["carried_by"] = list(
            dict.fromkeys(m.source for m in article.group.members if m.source)
        )
    return [
        Passage(
            **origin,
            chunk_id=chunk.chunk_id,
            text=chunk.text,
            char_start=chunk.char_start,
            char_end=chunk.char_end,
            score=0.0,
            dense_score=None,
            lexical_score=None,
        )
        for chunk in article.chunks
    ]


@cache
def _prompt_version() -> str:
    """Summaries made with other prompt files are not served from the cache."""
    digest = hashlib.sha256()
    prompts = resources.files("newsdesk.prompts")
    for name in sorted(
        n.name for n in prompts.iterdir() if n.name.startswith(("summary", "instruct_summary"))
    ):
        digest.update(prompts.joinpath(name).read_bytes())
    return digest.hexdigest()[:16]


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)

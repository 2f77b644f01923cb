"""Cited timelines: the dated events of a topic, in date order.

retrieve the topic's passages (its time words resolved as in /ask) → their sentences →
those close enough to the topic (timeline_min_similarity) → one sentence per fact (a later
copy as similar as timeline_same_fact_similarity is dropped) → the date each is about
(generation/event_dates.py) → checked and cited like extractive /ask sentences → date order.

Every event is a sentence of an article (extractive): nothing is generated, so nothing can be
invented. "What changed since DATE" (any `since ...` in the topic) retrieves the passages
published before and after DATE alike, and keeps an event dated after DATE only if no sentence
dated on or before DATE states the same fact (same-fact similarity): what is new, cited."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from newsdesk.answers import (
    Timeline,
    TimelineEvent,
    TimelineRequest,
    TimeRange,
    Timings,
)
from newsdesk.domain import Passage
from newsdesk.embedding import Embedder
from newsdesk.generation.citations import CitationChecker
from newsdesk.generation.event_dates import EventDate, event_date
from newsdesk.generation.extractive_summary import candidate_sentences
from newsdesk.generation.markers import tidy
from newsdesk.generation.streaming import cited_by
from newsdesk.retrieval.search import Searcher
from newsdesk.retrieval.time_scope import TimeScope, time_scope
from newsdesk.settings import Settings

# Words that frame a "what changed" request rather than name its topic: left out of the query.
_FRAMING = re.compile(
    r"^\s*(?:what(?:'s|\s+is|\s+has)?\s+(?:changed|new|happened)|news|updates?)\b\s*"
    r"(?:on|about|in|with|for)?\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Sentence:
    text: str
    passage: Passage
    when: EventDate


class Timeliner:
    def __init__(
        self,
        searcher: Searcher,
        embedder: Embedder,
        checker: CitationChecker,
        settings: Settings,
    ) -> None:
        self.searcher = searcher
        self.embedder = embedder
        self.checker = checker
        self.settings = settings

    def build(self, request: TimelineRequest) -> Timeline:
        started = time.perf_counter()
        scope = time_scope(
            request.topic, request.filters, request.as_of, self.settings.recency_half_life_days
        )
        since = _since(scope)
        filters = scope.filters
        if since is not None:
            # Earlier facts are needed to tell what is new: only the upper bound applies.
            filters = filters.model_copy(update={"published_after": None})
        query = _query(request.topic, scope.time_range)
        top_k = self.settings.timeline_passages if request.top_k is None else request.top_k
        search = self.searcher.request(query, top_k, filters)  # top_k 0 is a 422, not the default
        passages = [
            p
            for p in self.searcher.run(search)
            if p.similarity is None or p.similarity >= self.settings.summary_min_similarity
        ]
        retrieval_ms = _ms(started)
        events = self._events(query, passages, since)
        check_started = time.perf_counter()
        cited = self._cited(events, passages)
        timings = Timings(retrieval_ms=retrieval_ms, check_ms=_ms(check_started))
        reason = None
        if not cited:
            reason = (
                "no dated sentence is relevant enough to the topic"
                if since is None
                else f"nothing relevant is new since {since.isoformat()}"
            )
        timings.total_ms = _ms(started)
        return Timeline(
            topic=request.topic,
            events=cited,
            abstained=not cited,
            abstain_reason=reason,
            time_range=scope.time_range,
            since=since,
            timings=timings,
        )

    def _events(self, query: str, passages: list[Passage], since: date | None) -> list[_Sentence]:
        """The relevant dated sentences, one per fact, most relevant first."""
        sentences = _sentences(passages)
        if not sentences:
            return []
        vectors = self.embedder.embed([query, *(s.text for s in sentences)])
        topic, rows = vectors[0], vectors[1:]
        relevance = rows @ topic
        relevant = [i for i in np.argsort(-relevance) if relevance[i] >= self._min_similarity]
        same = self.settings.timeline_same_fact_similarity
        kept: list[int] = []
        earlier = [i for i in relevant if since is not None and sentences[i].when.date <= since]
        for i in relevant:
            if since is not None and (i in earlier or _states_any(rows, i, earlier, same)):
                continue
            # The earliest report of a fact stands for its copies.
            if _states_any(rows, i, kept, same):
                continue
            kept.append(i)
            if len(kept) == self.settings.timeline_max_events:
                break
        return [sentences[i] for i in kept]

    @property
    def _min_similarity(self) -> float:
        return self.settings.timeline_min_similarity

    def _cited(self, events: list[_Sentence], passages: list[Passage]) -> list[TimelineEvent]:
        """Each event checked and cited as an extractive /ask sentence is; unsupported ones
        (a sentence the checker cannot find support for) are left out."""
        if not events:
            return []
        cited = self.checker.cite([e.text for e in events], passages)
        by_text = {s.text: s for s in cited.sentences}
        dated: list[tuple[tuple[date, datetime, int], TimelineEvent]] = []
        for event in events:
            sentence = by_text.get(tidy(event.text))
            if sentence is None or not sentence.supported:
                continue
            key = (event.when.date, _published(event.passage), event.passage.char_start)
            dated.append(
                (
                    key,
                    TimelineEvent(
                        date=event.when.date,
                        date_source=event.when.source,
                        precision=event.when.precision,
                        text=sentence.text,
                        citations=cited_by(sentence, cited.citations),
                        support=sentence.support,
                    ),
                )
            )
        # Same day: the earlier report first, then reading order.
        return [event for _, event in sorted(dated, key=lambda pair: pair[0])]


def _sentences(passages: list[Passage]) -> list[_Sentence]:
    """Each article sentence once, with the date it is about (undated ones are left out)."""
    found: list[_Sentence] = []
    for candidate in candidate_sentences(passages):
        passage = next(
            p
            for p in passages
            if p.article_id == candidate.article_id
            and p.char_start <= candidate.offset < p.char_end
        )
        published = passage.published_at.date() if passage.published_at else None
        when = event_date(candidate.text, published)
        if when is not None:
            found.append(_Sentence(candidate.text, passage, when))
    return found


def _states_any(rows: np.ndarray, index: int, others: list[int], threshold: float) -> bool:
    return bool(others) and float((rows[others] @ rows[index]).max()) >= threshold


def _since(scope: TimeScope) -> date | None:
    time_range = scope.time_range
    if time_range is None or time_range.published_after is None:
        return None
    if not re.match(r"(?:.*;\s*)?since\b", time_range.resolved_from, re.IGNORECASE):
        return None
    return time_range.published_after.date()


def _query(topic: str, time_range: TimeRange | None) -> str:
    """The topic without its time words and "what changed" framing: they would only dilute
    the similarity of its sentences."""
    query = topic
    if time_range is not None:
        for words in time_range.resolved_from.split("; "):
            query = query.replace(words, " ")
    query = _FRAMING.sub("", query)
    query = " ".join(query.split()).strip(" ?.,")
    return query or topic


def _published(passage: Passage) -> datetime:
    return passage.published_at or _UNDATED


# Sorts an undated article's report after dated ones of the same day.
_UNDATED = datetime.max.replace(tzinfo=UTC)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)

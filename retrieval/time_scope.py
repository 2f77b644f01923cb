"""Turn a request's text, filters and `as_of` into what retrieval uses: the filters with the
resolved time range filled in, the range to report (`time_range`), and the recency preference.

The rule (docs/answers.md, "Time"): explicit request filters win. When the request sets
`published_after` or `published_before`, the question's time words are not applied (mixing a
bound from the request with one from the words could make a range nobody asked for); the
recency preference of a "latest" question still applies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from newsdesk.answers import TimeRange
from newsdesk.domain import SearchFilters
from newsdesk.retrieval.recency import Recency
from newsdesk.retrieval.time_expressions import resolve


@dataclass(frozen=True)
class TimeScope:
    filters: SearchFilters
    time_range: TimeRange | None
    recency: Recency | None
    # The time words resolved ("last year"; "latest; last year"), whether applied or not.
    words: str | None = None

    def content_question(self, question: str) -> str:
        """The question without its time words, for the checks of what the story must
        mention: the filter (or the caller's) answers the time, which a story need not
        state ("How many crossed the Channel last year?" from a story that never says
        "last year")."""
        if not self.words:
            return question
        for phrase in self.words.split("; "):
            pattern = r"\s+".join(re.escape(w) for w in phrase.split())
            question = re.sub(rf"\b{pattern}\b", " ", question, count=1, flags=re.IGNORECASE)
        return " ".join(question.split()).replace(" ?", "?")


def reference_time(as_of: datetime | None) -> datetime:
    """`as_of`, or now (UTC) when the request gives none."""
    return as_of if as_of is not None else datetime.now(UTC)


def time_scope(
    text: str,
    filters: SearchFilters | None,
    as_of: datetime | None,
    half_life_days: float,
) -> TimeScope:
    filters = filters or SearchFilters()
    reference = reference_time(as_of)
    resolved = resolve(text, reference)
    if resolved is None:
        return TimeScope(filters, None, None)
    recency = Recency(reference, half_life_days) if resolved.latest and half_life_days > 0 else None
    if filters.published_after is not None or filters.published_before is not None:
        return TimeScope(filters, None, recency, resolved.resolved_from)
    scoped = filters.model_copy(
        update={
            "published_after": resolved.published_after,
            "published_before": resolved.published_before,
            # Bounds read from words keep undated articles (many feeds and the summarisation
            # suite carry no date): nothing shows them outside the range. A request's own
            # bounds (above) keep excluding them.
            "include_undated": True,
        }
    )
    time_range = TimeRange(
        published_after=resolved.published_after,
        published_before=resolved.published_before,
        resolved_from=resolved.resolved_from,
    )
    return TimeScope(scoped, time_range, recency, resolved.resolved_from)

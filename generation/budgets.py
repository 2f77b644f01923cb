"""What one answer or summary may cost: a budget of passage characters, caps checked before
any work, and deadlines for its stages (see docs/operations.md, "Limits and their settings").

Stages that cannot be interrupted (a search, one embedding batch) are bounded by the size of
their input instead, and their deadline is checked when they end; LLM generation is checked
before each call and at every streamed token."""

from __future__ import annotations

import time
from collections.abc import Sequence

from newsdesk.domain import Passage
from newsdesk.errors import InvalidInput, NewsdeskError
from newsdesk.generation.llm import LLMError


class OverCostCap(InvalidInput):
    """A request that would cost more than a configured cap: refused before any work."""

    title = "Request over a cost cap"
    slug = "over-cost-cap"


class StageTimeout(NewsdeskError):
    status = 504
    title = "Stage timed out"
    slug = "stage-timeout"


class GenerationTimeout(LLMError):
    """Generation ran out of time: handled like any LLM failure (an extractive answer,
    marked `degraded`)."""


def passages_within(passages: Sequence[Passage], budget_chars: int) -> list[Passage]:
    """The best-ranked passages whose texts fit in ``budget_chars`` (always the first one):
    the work of composing and checking an answer grows with the text it reads."""
    kept: list[Passage] = []
    used = 0
    for passage in passages:
        used += len(passage.text)
        if kept and used > budget_chars:
            break
        kept.append(passage)
    return kept


def check_retrieval_time(started: float, limit_seconds: float) -> None:
    """After retrieval (``started`` from time.monotonic()): nothing more is done when it took
    longer than allowed."""
    elapsed = time.monotonic() - started
    if elapsed > limit_seconds:
        raise StageTimeout(
            f"retrieval took {elapsed:.1f} s, longer than the {limit_seconds:g} s allowed "
            "(NEWSDESK_RETRIEVAL_TIMEOUT_SECONDS); try again, or narrow the request"
        )


class GenerationDeadline:
    """All the LLM calls of one answer or summary share one deadline."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (0 when the time is up): what a later call of the same answer, such
        as the LLM judge's, may still take."""
        return max(self.ends - time.monotonic(), 0.0)

    def check(self) -> None:
        if time.monotonic() > self.ends:
            raise GenerationTimeout(
                f"generation took longer than {self.seconds:g} s "
                "(NEWSDESK_GENERATION_TIMEOUT_SECONDS)"
            )

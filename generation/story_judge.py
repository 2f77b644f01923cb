"""The LLM as judge of the story check (NEWSDESK_STORY_GATE_JUDGE).

The story check declines a question whose focus word no retrieved story uses ("the articles
never mention 'manager'"). It is right about four times in five, and wrong where the story
names the asked thing its own way ("interim manager Andy Hessenthaler" for "who is in
temporary charge?", "TLC" for "which channel?"): knowing that is a language model's job. So,
when the check would decline and the judge is on, the answering LLM is shown the closest
story's passages and asked whether they answer the question (prompts/answerability_*.txt),
and its first reply token is read: the check is cleared when log P(yes) − log P(no) reaches
`story_gate_judge_min_log_odds`. One short call (one reply token), only for the questions the
check would decline.

The judge never fails an answer: a failed call, or a reply without log probabilities, leaves
the check's decline standing (logged)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from newsdesk.domain import Passage
from newsdesk.generation.llm import ChatModel, LLMError
from newsdesk.generation.prompting import answerability_messages

log = logging.getLogger(__name__)

_YES = frozenset({"yes", "y"})
_NO = frozenset({"no", "n"})
_ALTERNATIVES = 10  # reply tokens asked for: yes and no are among them unless very unlikely


@dataclass(frozen=True)
class StoryVerdict:
    log_odds: float | None  # log P(yes) − log P(no) of the first reply token; None: no reading
    cleared: bool
    said: str  # what the judge said, for the decline's reason


class StoryJudge:
    def __init__(self, model: ChatModel, *, min_log_odds: float, timeout: float) -> None:
        self.model = model
        self.min_log_odds = min_log_odds
        self.timeout = timeout

    def judge(self, question: str, passages: list[Passage]) -> StoryVerdict:
        """Whether the closest story (the best passage's article) answers the question."""
        if not passages:
            return StoryVerdict(None, cleared=False, said="no passages to judge")
        story = passages[0].article_id
        evidence = [p.text for p in passages if p.article_id == story]
        try:
            completion = self.model.complete(
                answerability_messages(question, evidence),
                max_tokens=1,
                temperature=0.0,
                timeout=self.timeout,
                top_logprobs=_ALTERNATIVES,
            )
        except LLMError as exc:
            log.warning("story judge call failed, the story check stands: %s", exc)
            return StoryVerdict(None, cleared=False, said="the LLM judge could not be asked")
        odds = yes_log_odds(completion.first_token_logprobs or {})
        if odds is None:
            said = "the LLM judge agrees: no yes among its likely replies"
            return StoryVerdict(None, cleared=False, said=said)
        said = f"the LLM judge agrees: log-odds {odds:.2f} < {self.min_log_odds}"
        return StoryVerdict(round(odds, 3), cleared=odds >= self.min_log_odds, said=said)


def yes_log_odds(first_token: dict[str, float]) -> float | None:
    """log P(yes) − log P(no) over the first token's alternatives (any case, any spacing);
    None without a "yes" among them (no clearance). A "no" missing from them is at most as
    likely as the least likely alternative: the odds are then a lower bound."""
    yes = [p for token, p in first_token.items() if token.strip().lower() in _YES]
    no = [p for token, p in first_token.items() if token.strip().lower() in _NO]
    if not yes:
        return None
    floor = min(first_token.values())
    return _logsumexp(yes) - (_logsumexp(no) if no else floor)


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(math.fsum(math.exp(v - top) for v in values))

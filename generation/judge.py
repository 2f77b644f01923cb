"""The LLM judge (NEWSDESK_LLM_JUDGE): a second opinion on checked text from the LLM itself.

After the citation checker has cited every sentence, one request asks the LLM, for all the
sentences at once (numbered, each with its quotes), whether each follows from its quotes; the
reply must be one JSON object of verdicts. Both opinions are kept on each sentence
(`support`/`mismatches` from the checker, `judge` from the LLM), and they combine into
`supported`: a sentence is supported when the checker finds it supported and the judge does
not find it unsupported (an `unknown` verdict leaves the checker's).

The judge never fails an answer: a failed or timed-out call, or a reply that is not exactly
the JSON asked for, leaves every verdict `unknown` (counted in /metrics, logged)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Literal

import openai
from pydantic import BaseModel, ConfigDict, ValidationError

from newsdesk.answers import AnswerSentence, CitedText, Judgement
from newsdesk.generation.budgets import GenerationDeadline
from newsdesk.generation.cited_text import renumbered
from newsdesk.generation.llm import ChatModel, LLMError
from newsdesk.generation.prompting import sanitise_passage_text
from newsdesk.metrics import JudgeMetrics

log = logging.getLogger(__name__)

# Below this many seconds left, a judge call could not finish: it is not made.
_MIN_SECONDS = 0.5
# A reply may arrive wrapped in one Markdown code fence (hosted models like to); nothing else
# around the JSON is accepted.
_FENCE = re.compile(r"^```(?:json)?\s*\n(?P<body>.*)\n```$", re.DOTALL)


@dataclass(frozen=True)
class JudgePrompt:
    system: str
    user: Template
    statement_format: Template
    quote_format: Template
    base_tokens: int
    tokens_per_statement: int
    max_reason_chars: int

    def max_tokens(self, statements: int) -> int:
        return self.base_tokens + self.tokens_per_statement * statements


def _read(name: str) -> str:
    return resources.files("newsdesk.prompts").joinpath(name).read_text(encoding="utf-8")


@cache
def judge_prompt() -> JudgePrompt:
    limits = json.loads(_read("judge.json"))
    return JudgePrompt(
        system=_read("judge_system.txt").strip(),
        user=Template(_read("judge_user.txt")),
        statement_format=Template(limits["statement_format"]),
        quote_format=Template(limits["quote_format"]),
        base_tokens=int(limits["base_tokens"]),
        tokens_per_statement=int(limits["tokens_per_statement"]),
        max_reason_chars=int(limits["max_reason_chars"]),
    )


def judge_messages(statements: list[tuple[str, list[str]]]) -> list[dict[str, str]]:
    """The request: statements numbered from 1, each with its quotes (article text, treated
    as data like every passage shown to a model)."""
    prompt = judge_prompt()
    blocks = [
        prompt.statement_format.substitute(
            number=number,
            statement=" ".join(text.split()),
            evidence="\n".join(
                prompt.quote_format.substitute(quote=sanitise_passage_text(q)) for q in quotes
            ),
        )
        for number, (text, quotes) in enumerate(statements, start=1)
    ]
    user = prompt.user.substitute(statements="\n\n".join(blocks))
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]


# --- the reply --------------------------------------------------------------------------------


class MalformedVerdicts(ValueError):
    """The judge's reply is not the JSON object asked for."""


class _Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    statement: int
    verdict: Literal["supported", "unsupported"]
    reason: str


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    verdicts: list[_Verdict]


def parse_verdicts(text: str, statements: int) -> dict[int, _Verdict]:
    """The verdicts of a reply by statement number (1..statements). Strict: one JSON object
    (optionally in one code fence) of exactly the shape asked for, each number in range and
    given once; anything else raises MalformedVerdicts. A statement left out has no verdict."""
    body = text.strip()
    if fenced := _FENCE.match(body):
        body = fenced.group("body").strip()
    try:
        reply = _Reply.model_validate_json(body)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "the reply"
        raise MalformedVerdicts(f"{where}: {problem['msg']}") from None
    found: dict[int, _Verdict] = {}
    for verdict in reply.verdicts:
        if not 1 <= verdict.statement <= statements:
            raise MalformedVerdicts(
                f"a verdict for statement {verdict.statement}, not 1–{statements}"
            )
        if verdict.statement in found:
            raise MalformedVerdicts(f"two verdicts for statement {verdict.statement}")
        found[verdict.statement] = verdict
    return found


# --- the pass ---------------------------------------------------------------------------------


class SentenceJudge:
    """Judges the sentences of checked text with one LLM call (see the module docstring)."""

    def __init__(
        self,
        chat_model: ChatModel,
        *,
        timeout_seconds: float,
        json_output: bool = True,
        drop_unsupported: bool = False,
    ) -> None:
        self.chat_model = chat_model
        self.timeout_seconds = timeout_seconds
        self.json_output = json_output
        self.drop_unsupported = drop_unsupported
        self.metrics = JudgeMetrics()  # read by /metrics

    def judge(self, cited: CitedText, deadline: GenerationDeadline | None = None) -> CitedText:
        """`cited` with every sentence's `judge` set and `supported` combined; with the
        `drop` policy, sentences the judge finds unsupported are removed like the checker's."""
        if not cited.sentences:
            return cited
        quotes = {c.number: c.quote for c in cited.citations}
        asked = [i for i, s in enumerate(cited.sentences) if s.citations]
        judgements = self._verdicts(
            [
                (cited.sentences[i].text, [quotes[n] for n in cited.sentences[i].citations])
                for i in asked
            ],
            deadline,
        )
        by_sentence = dict(zip(asked, judgements, strict=True))
        no_quote = self._judgement("unknown", "the sentence cites no quote to judge against")
        kept: list[AnswerSentence] = []
        check = cited.check.model_copy(deep=True)
        for index, sentence in enumerate(cited.sentences):
            judgement = by_sentence.get(index, no_quote)
            self.metrics.verdicts.labels(judgement.verdict).inc()
            supported = sentence.supported and judgement.verdict != "unsupported"
            if self.drop_unsupported and not supported:
                check.removed_sentences.append(sentence.text)
                continue
            kept.append(sentence.model_copy(update={"judge": judgement, "supported": supported}))
        return renumbered(cited.model_copy(update={"check": check}), kept, cited.citations)

    def _verdicts(
        self, statements: list[tuple[str, list[str]]], deadline: GenerationDeadline | None
    ) -> list[Judgement]:
        if not statements:
            return []
        timeout = self.timeout_seconds
        if deadline is not None:
            timeout = min(timeout, deadline.remaining())
        if timeout < _MIN_SECONDS:
            return self._unknown(
                statements, "timeout", "no time was left for the judge within the answer's "
                "deadline (NEWSDESK_GENERATION_TIMEOUT_SECONDS)"
            )  # fmt: skip
        prompt = judge_prompt()
        try:
            completion = self.chat_model.complete(
                judge_messages(statements),
                max_tokens=prompt.max_tokens(len(statements)),
                temperature=0.0,
                timeout=timeout,
                json_output=self.json_output,
            )
        except LLMError as exc:
            timed_out = isinstance(exc.__cause__, openai.APITimeoutError)
            outcome = "timeout" if timed_out else "failed"
            return self._unknown(statements, outcome, f"the judge call failed: {exc}")
        try:
            found = parse_verdicts(completion.text, len(statements))
        except MalformedVerdicts as exc:
            return self._unknown(statements, "malformed", f"the judge's reply was malformed: {exc}")
        self.metrics.passes.labels("ok").inc()
        return [
            self._judgement(v.verdict, _shorten(v.reason, prompt.max_reason_chars))
            if (v := found.get(number)) is not None
            else self._judgement("unknown", "the judge gave no verdict for this sentence")
            for number in range(1, len(statements) + 1)
        ]

    def _unknown(
        self, statements: list[tuple[str, list[str]]], outcome: str, reason: str
    ) -> list[Judgement]:
        self.metrics.passes.labels(outcome).inc()
        # Only the outcome: the reason may quote the endpoint's reply, which can echo the text.
        log.warning("LLM judge gave no verdicts (%s); the checker's stand", outcome)
        return [self._judgement("unknown", reason) for _ in statements]

    def _judgement(self, verdict: str, reason: str | None) -> Judgement:
        return Judgement.model_validate(
            {"verdict": verdict, "reason": reason, "model": self.chat_model.name}
        )


def _shorten(text: str, limit: int) -> str | None:
    text = " ".join(text.split())
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

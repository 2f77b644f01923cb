"""Render the prompt files in prompts/ into chat messages.

Article text is untrusted: it is only ever placed inside the numbered passage block, with
anything that looks like our own markers or prompt scaffolding neutralised, and the system
prompt tells the model to treat it as quoted data."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Any, Literal

from newsdesk.domain import Passage
from newsdesk.generation.markers import neutralise_markers
from newsdesk.index.text import sentence_spans

# Lines an article could use to impersonate the prompt's own structure.
_SCAFFOLDING = re.compile(r"\b(question|answer|passages|system|assistant|user)\s*:", re.I)
# Sentences that address a language model rather than a reader: an article carrying them is
# attempting prompt injection. They are withheld from the model (the article itself is kept).
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:\w+\s+){0,4}?(?:instructions?|prompts?|directives)\b"
    r"|\b(?:answer|reply|respond)\b.{0,30}\b(?:every|all|any) questions?\b"
    r"|\b(?:reply|respond|answer) (?:only )?with\b"
    r"|\byou are now\b|\bsystem prompt\b|\bas an ai\b",
    re.IGNORECASE,
)
WITHHELD = "(text withheld: it addressed the assistant)"
# `plain`: one-shot completion prompts for a base model; `instruct`: instructions in chat turns
# for an instruction-tuned model (files prefixed `instruct_`; any file without such a variant
# is shared).
PromptSet = Literal["plain", "instruct"]


@dataclass(frozen=True)
class AnswerPrompt:
    system: str
    user: Template
    example: dict[str, Any]
    stop: list[str]
    max_sentences: int
    abstain_phrase: str
    passage_format: Template


def _read(name: str, prompts: PromptSet = "plain") -> str:
    folder = resources.files("newsdesk.prompts")
    if prompts != "plain" and (variant := folder.joinpath(f"{prompts}_{name}")).is_file():
        return variant.read_text(encoding="utf-8")
    return folder.joinpath(name).read_text(encoding="utf-8")


@cache
def answer_prompt(prompts: PromptSet = "plain") -> AnswerPrompt:
    limits = json.loads(_read("answer.json", prompts))
    return AnswerPrompt(
        system=_read("answer_system.txt", prompts).strip(),
        user=Template(_read("answer_user.txt", prompts)),
        example=json.loads(_read("answer_example.json", prompts)),
        stop=list(limits["stop"]),
        max_sentences=int(limits["max_sentences"]),
        abstain_phrase=str(limits["abstain_phrase"]),
        passage_format=Template(limits["passage_format"]),
    )


def addresses_assistant(sentence: str) -> bool:
    """Whether a sentence speaks to a language model ("ignore all previous instructions…")."""
    return bool(_INSTRUCTION.search(sentence))


def sanitise_passage_text(text: str) -> str:
    """Keep article text from posing as prompt structure, citation markers or instructions."""
    text = " ".join(
        WITHHELD if addresses_assistant(sentence) else sentence
        for sentence in (text[span.start : span.end] for span in sentence_spans(text))
    )
    text = neutralise_markers(text)
    return _SCAFFOLDING.sub(lambda m: m.group(0).replace(":", " -"), " ".join(text.split()))


def _passage_block(number: int, title: str, source: str | None, date: str | None, text: str) -> str:
    return answer_prompt().passage_format.substitute(
        number=number,
        text=sanitise_passage_text(text),
        title=" ".join(title.split()),
        source=source or "unknown",
        date=date or "undated",
    )


def render_passages(passages: list[Passage]) -> str:
    return "\n".join(
        _passage_block(
            number,
            p.title,
            p.source,
            p.published_at.date().isoformat() if p.published_at else None,
            p.text,
        )
        for number, p in enumerate(passages, start=1)
    )


def _render_example(example: dict[str, Any]) -> str:
    blocks = "\n".join(
        _passage_block(n, p["title"], p.get("source"), p.get("date"), p["text"])
        for n, p in enumerate(example["passages"], start=1)
    )
    return f"Passages:\n{blocks}\n\nQuestion: {example['question']}\nAnswer: {example['answer']}"


def answer_messages(
    question: str, passages: list[Passage], prompts: PromptSet = "plain"
) -> list[dict[str, str]]:
    prompt = answer_prompt(prompts)
    user = prompt.user.substitute(
        example=_render_example(prompt.example),
        passages=render_passages(passages),
        question=" ".join(question.split()),
    )
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]


def answerability_messages(question: str, evidence: list[str]) -> list[dict[str, str]]:
    """Ask an instruction-tuned model whether the numbered evidence texts (passages or
    sentences) state the answer, yes or no: its next-token probability of "yes" scores
    answerability (bench/llm_answerability.py)."""
    block = "\n".join(
        f"[{number}] {sanitise_passage_text(text)}" for number, text in enumerate(evidence, 1)
    )
    user = Template(_read("answerability_user.txt")).substitute(
        passages=block, question=" ".join(question.split())
    )
    return [
        {"role": "system", "content": _read("answerability_system.txt").strip()},
        {"role": "user", "content": user},
    ]


# --- summaries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryBudget:
    max_sentences: int
    max_words: int
    max_tokens: int
    instruction: str


@dataclass(frozen=True)
class SummaryPrompt:
    system: str
    user: Template
    reduce_user: Template
    lengths: dict[str, dict[str, Any]]
    word_budget_instruction: Template
    styles: dict[str, str]
    multi_source_instruction: Template
    stop: list[str]
    context_reserve_tokens: int
    chars_per_token: float

    def budget(self, length: str, max_words: int | None) -> SummaryBudget:
        """The length preset, or a word budget (which scales sentences and tokens with it)."""
        preset = self.lengths[length]
        if max_words is None:
            return SummaryBudget(
                int(preset["max_sentences"]),
                int(preset["max_words"]),
                int(preset["max_tokens"]),
                str(preset["instruction"]),
            )
        return SummaryBudget(
            max_sentences=max(1, max_words // 12),
            max_words=max_words,
            max_tokens=min(1024, int(max_words * 2) + 32),
            instruction=self.word_budget_instruction.substitute(max_words=max_words),
        )

    def instructions(self, budget: SummaryBudget, style: str, sources: int) -> str:
        parts = [budget.instruction, self.styles[style]]
        if sources > 1:
            parts.append(self.multi_source_instruction.substitute(count=sources))
        return " ".join(p for p in parts if p)


@cache
def summary_prompt(prompts: PromptSet = "plain") -> SummaryPrompt:
    options = json.loads(_read("summary.json", prompts))
    return SummaryPrompt(
        system=_read("summary_system.txt", prompts).strip(),
        user=Template(_read("summary_user.txt", prompts)),
        reduce_user=Template(_read("summary_reduce_user.txt", prompts)),
        lengths=options["lengths"],
        word_budget_instruction=Template(options["word_budget_instruction"]),
        styles=options["styles"],
        multi_source_instruction=Template(options["multi_source_instruction"]),
        stop=list(options["stop"]),
        context_reserve_tokens=int(options["context_reserve_tokens"]),
        chars_per_token=float(options["chars_per_token"]),
    )


def summary_messages(
    passages: list[Passage], instructions: str, prompts: PromptSet = "plain"
) -> list[dict[str, str]]:
    prompt = summary_prompt(prompts)
    # No worked example here: Gemma 270M copied the example's summary verbatim, whereas
    # with the passages first and the task after them it summarises what it was given.
    user = prompt.user.substitute(passages=render_passages(passages), instructions=instructions)
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]


def reduce_messages(
    statements: list[str], instructions: str, prompts: PromptSet = "plain"
) -> list[dict[str, str]]:
    """Combine partial-summary sentences, numbered [1..n], into one summary."""
    prompt = summary_prompt(prompts)
    block = "\n".join(
        f"[{n}] {sanitise_passage_text(text)}" for n, text in enumerate(statements, start=1)
    )
    user = prompt.reduce_user.substitute(passages=block, instructions=instructions)
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate for context budgeting (errs on the long side for news)."""
    return int(len(text) / summary_prompt().chars_per_token) + 1

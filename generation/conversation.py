"""A conversation in, one standalone question out: retrieval only ever sees a single
question, so a follow-up such as "and what did Biden say about him?" must first name who
"him" is.

With an LLM configured, the LLM rewrites the follow-up (prompts/rewrite_*); its output is
checked and, if implausible or if the call fails, rules take over: pronouns are resolved to
names from the previous question (or from the reply to a "who" question), and elliptical
follow-ups carry over the previous question's key terms. Questions that read as
self-contained are never rewritten. This module also owns how an answer is written into the
conversation (its sources list), so it can read assistant turns back without it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Any, Literal

from newsdesk.answers import BackendName, CitedAnswer
from newsdesk.generation.extractive import content_stems, question_kind
from newsdesk.generation.llm import ChatModel, LLMError
from newsdesk.generation.markers import strip_markers
from newsdesk.settings import ChatRewrite

TurnRole = Literal["user", "assistant"]
RewriteMethod = Literal["as asked", "llm", "rules"]

SOURCES_HEADING = "Sources:"
_QUOTE_CHARS = 160


@dataclass(frozen=True)
class Turn:
    role: TurnRole
    text: str


@dataclass(frozen=True)
class StandaloneQuestion:
    text: str
    method: RewriteMethod
    note: str | None = None  # why the LLM's rewrite was not used, when it was tried


# --- the reply as written into the conversation ---------------------------------------------


def render_sources(answer: CitedAnswer) -> str:
    """`Sources:` then one line per citation: number, title, date, URL and the quote."""
    if not answer.citations:
        return ""
    lines = [SOURCES_HEADING]
    for citation in answer.citations:
        parts = [f"[{citation.number}] {' '.join(citation.title.split())}"]
        if citation.published_at:
            parts[0] += f" ({citation.published_at.date().isoformat()})"
        if citation.url:
            parts.append(citation.url)
        parts.append(f'"{_shortened(citation.quote)}"')
        lines.append(" — ".join(parts))
    return "\n".join(lines)


def _shortened(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _QUOTE_CHARS:
        return text
    cut = text[:_QUOTE_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


def reply_text(content: str) -> str:
    """An assistant turn as prose: without our sources list and citation markers."""
    prose = content.split("\n\n" + SOURCES_HEADING, 1)[0]
    return " ".join(strip_markers(prose).split())


# --- rules ---------------------------------------------------------------------------------

_CONNECTOR = re.compile(r"^\s*(?:and|but|so|also|then|ok(?:ay)?|well)\b[\s,]*", re.I)
_WHAT_ABOUT = re.compile(r"^\s*(?:what|how) about\b", re.I)
# Singular person pronouns are resolved to a name; "they" and "it" usually stand for a
# group or a thing ("the hackers", "the crane"), so the earlier topic travels along instead.
_PERSON_PRONOUN = re.compile(r"\b(he|she|him|his|hers|her)\b", re.I)
_THING_PRONOUN = re.compile(
    r"\b(it|its|they|them|their|theirs|ones)\b|\b(this|that|these|those|there)\s*[?.!]*\s*$",
    re.I,
)
_SUBJECT = {"he", "she"}
_POSSESSIVE = {"his", "hers"}
_WH_WORD = re.compile(r"\b(who|whom|whose|what|when|where|why|how|which)\b", re.I)
_NAME = re.compile(
    r"\b[A-ZÀ-Þ][\w’'.-]*(?:\s+(?:(?:de|van|von|al|bin|of|the)\s+)?[A-ZÀ-Þ][\w’'.-]*)*"
)
_NOT_A_NAME = {
    "what", "who", "whom", "whose", "when", "where", "why", "how", "which", "did", "does",
    "do", "is", "are", "was", "were", "can", "could", "will", "would", "should", "has",
    "have", "had", "and", "but", "so", "also", "then", "the", "a", "an", "in", "on", "at",
    "i", "he", "she", "they", "it", "we", "you", "tell", "please", "according", "after",
    "before", "okay", "ok", "well", "me", "give", "list", "explain", "describe", "former",
    "late",
}  # fmt: skip
_PREPOSITIONS = {
    "of", "over", "in", "on", "at", "to", "for", "from", "with", "by", "about", "into",
    "after", "before", "during", "under", "near", "against", "between", "when", "while",
    "despite", "since", "until", "without", "than",
}  # fmt: skip
# Phrases end where a verb probably starts (no tagger: -ed/-ing and common irregular pasts).
_VERBISH = re.compile(
    r"^(?:\w+(?:ed|ing)|fell|went|said|made|took|came|saw|gave|got|ran|hit|won|lost|left|"
    r"began|broke|fought|led|met|paid|sent|spoke|stood|told|thought|wrote|is|are|was|were)$",
    re.I,
)
# Nouns too generic to name a topic ("how many people …").
_GENERIC = {"people", "person", "persons", "thing", "things", "time", "times", "year", "years"}
_DETERMINER_PHRASE = re.compile(
    r"\b(?:the|a|an|how many|how much|which)\s+(?=((?:[\w’'-]+\s*){1,3}))", re.I
)
_CARRIED = re.compile(r"\(([^()]+)\)\??\s*$")  # the terms an earlier rewrite carried over
_PRONOUN_STEMS = content_stems("he she they him them his their theirs hers her it its this that")


def names_in(text: str) -> list[str]:
    """Capitalised word runs, question words and sentence openers dropped, in order."""
    found: list[str] = []
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        while words and words[0].lower() in _NOT_A_NAME:
            words.pop(0)
        name = re.sub(r"[’']s$", "", " ".join(words)).rstrip(".")
        if name and name.lower() not in _NOT_A_NAME and name not in found:
            found.append(name)
    return found


def _mentioned(term: str, text: str) -> bool:
    return term.lower() in text.lower()


def is_follow_up(question: str) -> bool:
    """Whether the question leans on the conversation: it opens with a connector ("and …",
    "what about …"), uses a pronoun, ends on "that"/"there", or has almost no words of its
    own. A self-contained question is answered as asked."""
    return bool(
        _CONNECTOR.search(question)
        or _WHAT_ABOUT.search(question)
        or _PERSON_PRONOUN.search(question)
        or _THING_PRONOUN.search(question)
        or len(content_stems(question) - _PRONOUN_STEMS) < 2
    )


def _key_phrases(text: str) -> list[str]:
    """Noun phrases after an article or "how many" ("the crane", "how many asylum seekers"):
    cheap, POS-free."""
    phrases = []
    for match in _DETERMINER_PHRASE.finditer(text):
        words = []
        for word in match.group(1).split():
            bare = word.strip("?.,!")
            if (
                bare.lower() in _PREPOSITIONS | _GENERIC
                or _VERBISH.match(bare)
                or not content_stems(bare)
                or bare[:1].isupper()
            ):
                break
            words.append(bare)
        if words:
            phrases.append(" ".join(words))
    return phrases


def rewrite_with_rules(question: str, history: Sequence[Turn]) -> str:
    position = _last(history, "user")
    if position is None:
        return question
    previous = history[position]
    earlier = history[:position]
    if _last(earlier, "user") is not None and is_follow_up(previous.text):
        # The previous question was a follow-up too: build on what it stood for.
        previous = Turn("user", rewrite_with_rules(previous.text, earlier))
    body = _CONNECTOR.sub("", question, count=1).strip() or question.strip()
    candidates = [n for n in names_in(previous.text) if not _mentioned(n, body)]
    reply = next((t for t in history[position + 1 :] if t.role == "assistant"), None)
    if reply and question_kind(previous.text) == "person":
        # "Who …?" is answered by a name in the reply: "he" in the next question is that one.
        answered = [
            n
            for n in names_in(reply_text(reply.text))
            if len(n.split()) >= 2 and not _mentioned(n, previous.text + " " + body)
        ]
        candidates = answered[:1] + candidates
    resolved, handled = _substitute(body, candidates)
    leans = (
        not handled
        or _THING_PRONOUN.search(resolved)
        or _WHAT_ABOUT.search(resolved)
        or len(content_stems(resolved) - _PRONOUN_STEMS) < 2
    )
    if not leans:
        return _capitalised(resolved)
    terms = [n for n in candidates if not _mentioned(n, resolved)]
    terms += [p for p in _key_phrases(previous.text) if not _mentioned(p, resolved)]
    if carried_before := _CARRIED.search(previous.text):
        terms += [t for t in carried_before.group(1).split(", ") if not _mentioned(t, resolved)]
    if not terms:  # no names, no noun phrases: fall back to its content words
        words = re.findall(r"[\w’'-]+", previous.text)
        terms = [w for w in words if content_stems(w) and not _mentioned(w, resolved)]
    if not terms:
        return _capitalised(resolved)
    ending = "?" if resolved.rstrip().endswith("?") else ""
    carried = ", ".join(list(dict.fromkeys(terms))[:4])
    return _capitalised(f"{resolved.rstrip(' ?.!')} ({carried}){ending}")


def _substitute(body: str, candidates: list[str]) -> tuple[str, bool]:
    """Person pronouns → names: subjects take the previous question's first name, objects
    its last (the usual parallelism: "What did X say about Y?" → "…about him?" is Y).
    Also says whether every person pronoun is now accounted for."""
    first_own_name = next((m.start() for m in _NAME.finditer(body) if names_in(m.group(0))), None)
    unresolved = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unresolved
        word = match.group(0).lower()
        following = body[match.end() :].lstrip()
        possessive = word in _POSSESSIVE or (
            word == "her" and bool(following) and bool(content_stems(following.split()[0]))
        )
        if possessive and first_own_name is not None and first_own_name < match.start():
            return match.group(0)  # "Biden … his": bound to the question's own name
        if not candidates:
            unresolved = True
            return match.group(0)
        if possessive:
            return candidates[0] + "'s"
        return candidates[0] if word in _SUBJECT else candidates[-1]

    return _PERSON_PRONOUN.sub(replace, body), not unresolved


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _last(turns: Sequence[Turn], role: TurnRole) -> int | None:
    """Position of the last non-empty turn of that role."""
    found = [i for i, t in enumerate(turns) if t.role == role and t.text.strip()]
    return found[-1] if found else None


# --- the LLM rewrite ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RewritePrompt:
    system: str
    user: Template
    options: dict[str, Any]


def _read(name: str) -> str:
    return resources.files("newsdesk.prompts").joinpath(name).read_text(encoding="utf-8")


@cache
def rewrite_prompt() -> RewritePrompt:
    return RewritePrompt(
        system=_read("rewrite_system.txt").strip(),
        user=Template(_read("rewrite_user.txt")),
        options=json.loads(_read("rewrite.json")),
    )


def rewrite_messages(question: str, history: Sequence[Turn]) -> list[dict[str, str]]:
    prompt = rewrite_prompt()
    options = prompt.options
    labels = {"user": options["user_label"], "assistant": options["assistant_label"]}
    limit = int(options["max_turn_chars"])
    lines = []
    for turn in list(history)[-int(options["max_turns"]) :]:
        text = reply_text(turn.text) if turn.role == "assistant" else " ".join(turn.text.split())
        if text:
            lines.append(f"{labels[turn.role]}: {text[:limit]}{'…' if len(text) > limit else ''}")
    user = prompt.user.substitute(conversation="\n".join(lines), question=question)
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]


_LABEL = re.compile(
    r"^\s*(?:standalone question|rewritten question|follow-up question|question)\s*:\s*", re.I
)


def _cleaned(output: str) -> str:
    line = next((ln for ln in output.splitlines() if ln.strip()), "")
    return " ".join(_LABEL.sub("", line).strip().strip("\"'`“”").split())


def implausible(rewrite: str, question: str, history: Sequence[Turn]) -> str | None:
    """Why an LLM rewrite cannot be used (a small model may answer instead, or echo)."""
    if not rewrite:
        return "the model returned nothing"
    if len(rewrite) > len(question) + int(rewrite_prompt().options["max_growth_chars"]):
        return "it is much longer than the question"
    if question.rstrip().endswith("?") and not rewrite.endswith("?"):
        return "it is not a question"
    asked = _WH_WORD.search(question)
    if asked and not re.search(rf"\b{asked.group(1)}\b", rewrite, re.I):
        return f"it no longer asks {asked.group(1).lower()}"
    own = content_stems(question) - _PRONOUN_STEMS
    stems = content_stems(rewrite)
    if own and len(own & stems) / len(own) < 0.5:
        return "it dropped the question's own words"
    context = set().union(*(content_stems(reply_text(t.text)) for t in history))
    if not (stems - content_stems(question)) & context:
        return "it brought in nothing from the conversation"
    return None


class QuestionRewriter:
    def __init__(self, chat_model: ChatModel | None) -> None:
        self.chat_model = chat_model  # None: rules only

    @classmethod
    def configured(
        cls, mode: ChatRewrite, backend: BackendName, chat_model: ChatModel | None
    ) -> QuestionRewriter:
        """`auto` asks the LLM only on the `openai` backend: the embedded Gemma 3 270M
        produced no usable rewrite in bench/chat.py and costs seconds per follow-up."""
        if mode == "auto":
            mode = "llm" if backend == "openai" else "rules"
        return cls(chat_model if mode == "llm" else None)

    def rewrite(self, turns: Sequence[Turn]) -> StandaloneQuestion:
        """The last user turn as a question that stands on its own."""
        last = _last(turns, "user")
        if last is None:
            raise ValueError("the conversation has no user question")
        question = " ".join(turns[last].text.split())
        history = list(turns[:last])
        if _last(history, "user") is None or not is_follow_up(question):
            return StandaloneQuestion(question, "as asked")
        by_rules = rewrite_with_rules(question, history)
        if self.chat_model is None:
            return StandaloneQuestion(by_rules, "rules")
        options = rewrite_prompt().options
        try:
            completion = self.chat_model.complete(
                rewrite_messages(question, history),
                max_tokens=int(options["max_tokens"]),
                temperature=float(options["temperature"]),
                stop=list(options["stop"]),
            )
        except LLMError as exc:
            return StandaloneQuestion(by_rules, "rules", f"LLM rewrite failed: {exc}")
        rewrite = _cleaned(completion.text)
        problem = implausible(rewrite, question, history)
        if problem:
            return StandaloneQuestion(
                by_rules, "rules", f"LLM rewrite {rewrite!r} not used: {problem}"
            )
        return StandaloneQuestion(rewrite, "llm")

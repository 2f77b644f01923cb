"""The extractive backend: answer with the passage sentences that best answer the question.

No LLM is involved, so nothing can be invented; the risk is the opposite one — returning a
sentence that is merely on topic. So a who/when/where/how-many question only gets an answer
from a sentence that (a) contains something of the asked-for kind that the question does not
already contain (a number, a date, a name, a place) and (b) shares most of the question's
content words, i.e. the entity is bound to what was asked. Otherwise the service abstains."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from newsdesk.domain import Passage
from newsdesk.embedding import Embedder
from newsdesk.index.text import sentence_spans

QuestionKind = Literal["number", "date", "person", "place", "other"]

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_STOP = set(STOPWORDS_EN) | set(
    [
        "did",
        "does",
        "do",
        "was",
        "were",
        "is",
        "are",
        "many",
        "much",
        "how",
        "when",
        "where",
        "who",
        "whom",
        "whose",
        "what",
        "which",
        "why",
    ]
)
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_NUMBER_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "hundreds",
    "thousand",
    "thousands",
    "million",
    "millions",
    "billion",
    "billions",
    "dozen",
    "dozens",
    "half",
]
_DATE = re.compile(
    r"\b(?:1[5-9]\d\d|20\d\d|yesterday|today|tomorrow|tonight|"
    rf"(?:last|next|this) (?:week|month|year)|{'|'.join(_MONTHS + _DAYS)})\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(rf"\b(?:\d[\d,.]*|{'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][a-zA-Z’'-]+(?:\s+(?:[A-Z][a-zA-Z’'-]+|de|van|von|al|bin))*")
_PLACE = re.compile(r"\b(?:in|at|from|near|to|into|across|outside)\s+(?:the\s+)?([A-Z][\w’'-]+)")

_STEMMER = Stemmer.Stemmer("english")


def question_kind(question: str) -> QuestionKind:
    q = question.lower().strip()
    if re.search(r"\bhow (?:many|much|old|long|far|big|large|often)\b", q) or "what number" in q:
        return "number"
    if re.search(r"^when\b|\bwhat (?:year|date|day|month|time)\b|\bwhen (?:did|was|will|is)\b", q):
        return "date"
    if re.search(r"^(?:who|whom|whose)\b|\bwho (?:is|was|did|said)\b", q):
        return "person"
    if re.search(r"^where\b|\bwhere (?:is|was|did)\b|\bwhat (?:country|city|town|place)\b", q):
        return "place"
    return "other"


def content_stems(text: str) -> set[str]:
    words = [w.lower() for w in _WORD.findall(text)]
    return set(_STEMMER.stemWords([w for w in words if w not in _STOP and len(w) > 1]))


def _new_entities(pattern: re.Pattern[str], sentence: str, question: str) -> list[str]:
    asked = question.lower()
    found = [m.group(m.lastindex or 0) for m in pattern.finditer(sentence)]
    return [f for f in found if f.lower() not in asked]


def answers_kind(sentence: str, kind: QuestionKind, question: str) -> bool:
    """Whether the sentence holds something of the asked-for kind the question lacks."""
    if kind == "number":
        return bool(_new_entities(_NUMBER, sentence, question))
    if kind == "date":
        return bool(_new_entities(_DATE, sentence, question))
    if kind == "person":
        names = _new_entities(_NAME, sentence, question)
        calendar = set(_MONTHS + _DAYS)
        # A person is named with at least two capitalised words ("Suleiman al-Amr"); a lone
        # capitalised word is as often a place, a body or an event ("Hajj", "Islam").
        return any(n.lower() not in calendar and len(n.split()) >= 2 for n in names)
    if kind == "place":
        return bool(_new_entities(_PLACE, sentence, question))
    return True


@dataclass(frozen=True)
class _Candidate:
    text: str
    relevance: float


class ExtractiveAnswerer:
    def __init__(self, embedder: Embedder, *, min_binding: float = 0.6) -> None:
        self.embedder = embedder
        # Share of the question's content words a sentence must contain to count as
        # answering it rather than just being about the same story.
        self.min_binding = min_binding

    def answer(self, question: str, passages: list[Passage], max_sentences: int = 2) -> list[str]:
        """The sentences that answer the question, best first; [] means abstain."""
        by_sentence = _sentences_with_context(passages)
        if not by_sentence:
            return []
        sentences = list(by_sentence)
        kind = question_kind(question)
        asked = content_stems(question)
        specifics = question_specifics(question)
        vectors = self.embedder.embed([question, *sentences])
        similarity = vectors[1:] @ vectors[0]
        candidates = []
        for text, cosine in zip(sentences, similarity, strict=True):
            binding = len(asked & content_stems(text)) / len(asked) if asked else 0.0
            if binding < self.min_binding or not answers_kind(text, kind, question):
                continue
            if not specifics <= _tokens(by_sentence[text]):
                continue  # the question names something this passage never mentions
            candidates.append(_Candidate(text, float(cosine) + 0.5 * binding))
        if not candidates:
            return []
        candidates.sort(key=lambda c: c.relevance, reverse=True)
        limit = 1 if kind != "other" else max_sentences
        best = candidates[0].relevance
        return [c.text for c in candidates[:limit] if c.relevance >= 0.85 * best]


def _sentences_with_context(passages: list[Passage]) -> dict[str, str]:
    """Each distinct passage sentence (chunks overlap by one) → the passage it came from."""
    found: dict[str, str] = {}
    for passage in passages:
        for span in sentence_spans(passage.text):
            found.setdefault(passage.text[span.start : span.end], f"{passage.title} {passage.text}")
    return found


_SPECIFIC = re.compile(r"\b(?:\d[\d,.]*\d|\d|[A-Z][\w’'-]*)")


def question_specifics(question: str) -> set[str]:
    """Names and numbers a question commits to (its first word aside): an answer must come
    from a passage that mentions them. SQuAD 2.0's unanswerable questions are mostly answerable
    ones with such a detail swapped for one the paragraph does not contain."""
    words = _SPECIFIC.findall(question.replace("’", "'"))
    first = question.split(maxsplit=1)[0] if question.split() else ""
    return {_bare(w) for w in words if w != first and w.lower() not in _STOP}


def _tokens(text: str) -> set[str]:
    words = re.findall(r"[\w’'.,-]+", text.replace("’", "'"))
    return {_bare(w) for w in words} | {_bare(w) for w in _WORD.findall(text.replace("’", "'"))}


def _bare(word: str) -> str:
    word = word.lower().rstrip(".,")
    return word[:-2] if word.endswith("'s") else word

"""Operations on checked, cited text that keep its invariants: every marker names a
citation, citations are numbered 1..n by first use, and the text spells the sentences."""

from __future__ import annotations

import re

from newsdesk.answers import AnswerSentence, Citation, CitedText
from newsdesk.generation.markers import render_sentence, strip_markers

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.MULTILINE)


def unbullet(text: str) -> str:
    """Generated bullets as plain sentences, one line each joined by spaces, for checking."""
    return " ".join(line.strip() for line in _BULLET.sub("", text).splitlines() if line.strip())


def word_count(text: str) -> int:
    return len(strip_markers(text).split())


def within_budget(cited: CitedText, max_sentences: int, max_words: int) -> CitedText:
    """The leading sentences that fit both budgets (always at least one sentence)."""
    kept: list[AnswerSentence] = []
    words = 0
    for sentence in cited.sentences[:max_sentences]:
        words += word_count(sentence.text)
        if kept and words > max_words:
            break
        kept.append(sentence)
    return renumbered(cited, kept, cited.citations)


def renumbered(
    cited: CitedText, sentences: list[AnswerSentence], citations: list[Citation]
) -> CitedText:
    """Keep only the citations the sentences use, numbered 1..n in order of first use."""
    by_number = {c.number: c for c in citations}
    new_number: dict[int, int] = {}
    kept_citations: list[Citation] = []
    new_sentences: list[AnswerSentence] = []
    for sentence in sentences:
        numbers: list[int] = []
        for old in sentence.citations:
            if old not in new_number:
                new_number[old] = len(new_number) + 1
                kept_citations.append(by_number[old].model_copy(update={"number": new_number[old]}))
            numbers.append(new_number[old])
        new_sentences.append(sentence.model_copy(update={"citations": numbers}))
    return CitedText(
        text=" ".join(render_sentence(s) for s in new_sentences),
        sentences=new_sentences,
        citations=kept_citations,
        check=cited.check,
    )


def render(sentences: list[AnswerSentence], style: str) -> str:
    """Paragraph prose, or one '- ' bullet a line."""
    if style == "bullets":
        return "\n".join(f"- {render_sentence(s)}" for s in sentences)
    return " ".join(render_sentence(s) for s in sentences)


def without_repeats(cited: CitedText) -> CitedText:
    """Drop sentences that repeat an earlier one (small models loop)."""
    seen: set[str] = set()
    kept: list[AnswerSentence] = []
    for sentence in cited.sentences:
        key = " ".join(re.findall(r"\w+", sentence.text.lower()))
        if key in seen:
            continue
        seen.add(key)
        kept.append(sentence)
    return renumbered(cited, kept, cited.citations)

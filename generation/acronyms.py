"""Acronyms and the names they stand for.

News writes a name out once and its initials after it: "the Archaeological Survey of India
(ASI)", then "The ASI submitted an official request …". A sentence that says "ASI" says the
Archaeological Survey of India, so it binds a question that spells the name out, and a
sentence that spells out a name binds a question that uses its initials."""

from __future__ import annotations

import re

# "ASI", "NHS", "ACM", "AT&T": two to six capitals, standing alone.
_ACRONYM = re.compile(r"\b[A-Z][A-Z&]{1,5}\b")
_WORD = re.compile(r"[A-Za-z][\w'’-]*")
# Words a name holds in lower case: "Survey *of* India", "Food *and* Drug Administration".
_CONNECTORS = frozenset({"of", "and", "for", "the", "on", "in", "de"})


def acronyms(text: str) -> set[str]:
    """The acronyms a text uses, in lower case."""
    return {match.group().lower() for match in _ACRONYM.finditer(text)}


def spelled_out(text: str) -> dict[str, str]:
    """The names of two or more capitalised words a text spells out (connectors inside), by
    their initials: {"asi": "Archaeological Survey of India", "si": "Survey of India", …}.
    Every stretch of a run counts, since a possessive or a title may open it ("Singapore's
    Asian Civilisation Museum" is "ACM")."""
    found: dict[str, str] = {}
    for run in _capitalised_runs(text):
        capitals = [i for i, word in enumerate(run) if word[0].isupper()]
        for a, start in enumerate(capitals):
            for end in capitals[a + 1 :]:
                words = run[start : end + 1]
                initials = "".join(w[0] for w in words if w[0].isupper()).lower()
                found.setdefault(initials, " ".join(words))
    return found


class QuestionInitials:
    """A question's names by their initials and its own acronyms, read once per question:
    each retrieved sentence is then linked to them (`linked_words`)."""

    def __init__(self, question: str) -> None:
        self.names = spelled_out(question)
        self.acronyms = acronyms(question)

    def linked_words(self, sentence: str) -> str:
        """What the sentence says of the question's names through initials: the question's
        spelled-out names whose acronyms the sentence uses, and the question's acronyms
        whose names the sentence spells out (as the acronyms)."""
        expanded = [self.names[a] for a in acronyms(sentence) if a in self.names]
        abbreviated = [a.upper() for a in spelled_out(sentence) if a in self.acronyms]
        return " ".join(expanded + abbreviated)


def linked_words(question: str, sentence: str) -> str:
    """`QuestionInitials(question).linked_words(sentence)`, for one sentence."""
    return QuestionInitials(question).linked_words(sentence)


def _capitalised_runs(text: str) -> list[list[str]]:
    runs: list[list[str]] = []
    current: list[str] = []
    for word in _WORD.findall(text):
        if word[0].isupper() or (word.lower() in _CONNECTORS and current):
            current.append(word)
        else:
            runs.append(current)
            current = []
    runs.append(current)
    return [run for run in runs if sum(w[0].isupper() for w in run) >= 2]

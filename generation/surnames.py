"""People named in full by a question and by surname alone in their story.

News gives a person's full name once, or never, and the surname after it, with a title or
without: "Mr Salmond thanked …", "Salmond said". A question that says "Alex Salmond" asks
about that story's Salmond: the given name is no detail the story lacks. A surname that the
story only ever writes after another name ("Real Madrid", "Rachel Salmond") is a different
one, and forgives nothing."""

from __future__ import annotations

import re

# A capitalised word as names are written: "Salmond", "McNeil", "O'Neill", "Zaghari-Ratcliffe".
_NAME_WORD = r"[A-Z][A-Za-z'’-]*[a-z]"
# Two or three capitalised words in a row: a given name (or two) and a surname.
_FULL_NAME = re.compile(rf"\b{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,2}}\b")
_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "sir", "dame", "lord", "lady", "prof", "professor"}
)
_POSSESSIVE = re.compile(r"['’]s?$")


def dropped_given_names(question: str, story: str) -> set[str]:
    """The given names (lower case) of the people the question names in full whose story
    writes their surname on its own and never their given name."""
    story_words = {w.lower() for w in re.findall(r"[A-Za-z]+", story)}
    found: set[str] = set()
    for match in _FULL_NAME.finditer(question):
        words = [_POSSESSIVE.sub("", w) for w in match.group().split()]
        if match.start() == len(question) - len(question.lstrip()):
            words = words[1:]  # the question's first word ("Which", "Did") is capitalised anyway
        # A run may hold two names ("Alex Salmond Scotland's first minister"): each stretch
        # of it is tried, and read as given names and a surname only if the story has none
        # of the given names (it has "Salmond", so "Salmond Scotland" is no one's name).
        for start in range(len(words)):
            for end in range(start + 2, len(words) + 1):
                *given, surname = words[start:end]
                absent = all(g.lower() not in story_words for g in given)
                if absent and _written_alone(surname, story):
                    found |= {g.lower() for g in given}
    return found


def _written_alone(surname: str, story: str) -> bool:
    """Whether the story writes the surname with no other name before it: after a title, a
    word in lower case, punctuation, or at its start."""
    for match in re.finditer(rf"\b{re.escape(surname)}\b", story):
        before = story[: match.start()].rstrip()
        previous = re.search(r"([A-Za-z'’.-]+)$", before)
        if previous is None or before.endswith((".", ",", ";", ":", '"', "“", "”", "'", "(")):
            return True
        word = previous.group(1).rstrip(".")
        if word.lower() in _TITLES or not word[0].isupper():
            return True
    return False

"""What a claim invents: the longest run of its content words that its cited passage never uses.

An answer or abstractive summary that invents a detail appends or inserts a clause of its own
("…, killing two people", "after a row over pay"): a *contiguous* run of words the source
never used. A faithful paraphrase swaps a few words for synonyms, spread over the sentence and
separated by the source's own words ("A storm made a crane fall into Mecca's Grand Mosque,
killing 107 people" against "high winds … toppled the crane"). Counting all novel words
cannot tell the two apart (two earlier attempts flagged such paraphrases and were reverted);
the length of the longest run can. A word counts as found when its stem, its lemma ("fell"
for "fall"), its first five letters or a compound's end ("quake" in "earthquake") is in the
passage; a figure the passage gives breaks a run (it is the source's), other figures are
left to the number rule.
"""

from __future__ import annotations

from functools import lru_cache

import simplemma

from newsdesk.generation.facts import Facts, content_tokens, facts, stem

_PREFIX = 5
_COMPOUND_END = 4  # a passage stem this long ending a claim's stem ("quak" of "earthquak")


@lru_cache(maxsize=65536)
def _lemma(word: str) -> str:
    return str(simplemma.lemmatize(word.lower(), lang="en")).lower()


@lru_cache(maxsize=4096)
def _passage_forms(text: str) -> tuple[frozenset[str], frozenset[str], tuple[str, ...]]:
    """The passage's content stems, its words' lemmas, and stems long enough to end a
    compound (keyed by the text: hashing a Facts would walk all of it on every call)."""
    passage = facts(text)
    lemmas = frozenset(_lemma(w) for w in passage.words)
    ends = tuple(s for s in passage.stems if len(s) >= _COMPOUND_END)
    return passage.stems, lemmas, ends


@lru_cache(maxsize=4096)
def _figures(text: str) -> frozenset[float]:
    passage = facts(text)
    return frozenset(q.value for q in (*passage.numbers, *passage.dates))


def _figure(digits: str) -> float | None:
    try:
        return float(digits.replace(",", ""))
    except ValueError:
        return None


def _found(word: str, passage: Facts) -> bool:
    stems, lemmas, ends = _passage_forms(passage.text)
    root = stem(word)
    if root in stems or _lemma(word) in lemmas:
        return True
    if len(root) >= _PREFIX and root[:_PREFIX] in passage.prefixes:
        return True
    return any(root.endswith(end) for end in ends if len(end) < len(root))


@lru_cache(maxsize=65536)
def invented_run(claim: str, passage: str) -> tuple[int, int, int]:
    """The longest run of the claim's content words found nowhere in the passage: (its
    length in words, its start and end offsets in the claim); (0, 0, 0) when every word is
    found. A sentence end breaks a run, and so does a figure the passage gives; stop words and
    other figures do not."""
    evidence = facts(passage)
    best, run, start = (0, 0, 0), 0, 0
    for token in content_tokens(claim):
        if token is None:  # a sentence end
            run = 0
            continue
        if token.kind == "number":
            # A figure the passage gives anchors the words around it to the source ("leaving
            # 107 dead and 238 injured" for "killing 107 … and wounding 238"); one it lacks is
            # the number rule's to flag.
            if _figure(token.text) in _figures(evidence.text):
                run = 0
            continue
        if _found(token.text, evidence):
            run = 0
            continue
        if run == 0:
            start = token.start
        run += 1
        if run > best[0]:
            best = (run, start, token.end)
    return best


def clear_caches() -> None:
    for cached in (_lemma, _passage_forms, _figures, invented_run):
        cached.cache_clear()

"""What a claim adds to its source: the content words the cited passage never uses.

An abstractive summary or an LLM answer that invents a detail brings in words the source never
used ("vietnam war", "resigned", "gas leak"); a faithful paraphrase rewords what is there, so
most of its words are the source's own in another form. A claim word therefore counts as
novel only when neither its stem, its lemma ("fell" for "fall"), its first five letters nor a
compound's end ("quake" in "earthquake") is in the passage. The count is the checker's `novel`
feature; its weight is fitted like the others (checker_model.py), on perturbations that
include LLM-style paraphrases, so a reworded sentence keeps its support.
"""

from __future__ import annotations

from functools import lru_cache

import simplemma

from newsdesk.generation.facts import Facts, content_words, facts, stem

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


def novel_words(claim: Facts, passage: Facts) -> list[str]:
    """The claim's content words (as written, once each) found nowhere in the passage."""
    stems, lemmas, ends = _passage_forms(passage.text)
    found: dict[str, str] = {}
    for word in content_words(claim.text):
        root = stem(word)
        if root in found or root in stems or _lemma(word) in lemmas:
            continue
        if len(root) >= _PREFIX and root[:_PREFIX] in passage.prefixes:
            continue
        if any(root.endswith(end) for end in ends if len(end) < len(root)):
            continue
        found[root] = word
    return list(found.values())


def novelty(claim: Facts, passage: Facts) -> float:
    """How many words the claim adds to the passage (the `novel` feature)."""
    return float(len(novel_words(claim, passage)))


def clear_caches() -> None:
    for cached in (_lemma, _passage_forms):
        cached.cache_clear()

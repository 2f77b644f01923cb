"""Lexical and semantic support: how well an evidence text supports a claim.

The features a claim is checked on — content stems, numbers (digits, "2.5 million", number
words), capitalised weekdays and months, negation — and SupportScorer, which combines them
with the embedding cosine. The citation checker and the source relations of summaries score
with the same SupportScorer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import Stemmer

from newsdesk.embedding import Embedder


def _words(text: str) -> list[str]:
    return text.split()


_STOP_WORDS = frozenset(
    _words(
        """a about above after again against all also am an and any are as at be because been
        before being below between both but by can could did do does doing down during each few
        for from further had has have having he her here hers herself him himself his how i if
        in into is it its itself just me more most my myself of off on once only or other our
        ours ourselves out over own said same says she should so some such than that the their
        theirs them themselves then there these they this those through to too under until up
        upon very was we were what when where which while who whom why will with would you your
        yours yourself according told say"""
    )
)
_NEGATIONS = frozenset(
    _words("not no never none nobody nothing neither nor without cannot nowhere")
)
# Verbs that negate what follows: "agreed to impose" vs "refused to impose" embeds alike.
_NEGATING_VERBS = ("refus", "deni", "deny", "reject", "declin")
_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)*")
_NEGATION_TOKEN = re.compile(r"[a-z]+(?:['’-][a-z]+)*")  # keeps "no-fly" whole: not a negation
_NUMBER_TOKEN = re.compile(r"\d[\d,]*(?:\.\d+)?|[a-z]+")
_PREFIX = 5  # stems sharing their first 5 letters match: "rescu"/"rescuer", "invas"/"invad" not
# Weekdays and months, capitalised only: a claim moved to another day is as wrong as a changed
# figure, while lower-case "march" or "may" is usually not a date.
_CALENDAR = re.compile(
    r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March"
    r"|April|May|June|July|August|September|October|November|December)\b"
)

_UNITS = {
    word: value
    for value, word in enumerate(
        _words(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen"
        )
    )
}
_TENS = {
    word: 10 * (i + 2)
    for i, word in enumerate(_words("twenty thirty forty fifty sixty seventy eighty ninety"))
}
_SCALES = {
    "hundred": 100,
    "thousand": 10**3,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
}


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _content_stems(text: str) -> frozenset[str]:
    words = [w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOP_WORDS]
    return frozenset(_stemmer().stemWords([w.replace("’", "'") for w in words]))


def _is_negated(text: str) -> bool:
    tokens = _NEGATION_TOKEN.findall(text.lower())
    return any(
        t in _NEGATIONS or t.endswith(("n't", "n’t")) or t.startswith(_NEGATING_VERBS)
        for t in tokens
    )


def _numbers(text: str) -> frozenset[float]:
    """Numbers in digits ("1,200", "2.5 million") or words ("two hundred and seven")."""
    values: list[float] = []
    words: list[str] = []  # the current run of number words
    for token in [*_NUMBER_TOKEN.findall(text.lower()), ""]:
        # "and" only continues "two hundred and seven", never "between two and three".
        joins = token == "and" and bool(words) and words[-1] in _SCALES
        if token in _UNITS or token in _TENS or token in _SCALES or joins:
            words.append(token)
            continue
        values += _word_number(words)
        words = []
        if token[:1].isdigit():
            values.append(float(token.replace(",", "")))
    return frozenset(values)


def _word_number(words: list[str]) -> list[float]:
    while words and words[-1] == "and":
        words = words[:-1]
    # A lone "one" is usually a pronoun ("one of the…"); a number word scaling a digit
    # ("2 million") is folded in by _scale_digits; on its own a bare scale is not a number.
    if not words or words == ["one"] or words[0] in _SCALES:
        return []
    total, current = 0, 0
    for word in words:
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
    return [float(total + current)]


_DIGITS_SCALE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s+(thousand|million|billion|trillion)\b")


def _scale_digits(text: str) -> str:
    """ "2.5 million" → "2500000", so it agrees with "2,500,000"."""

    def expand(match: re.Match[str]) -> str:
        value = float(match.group(1).replace(",", "")) * _SCALES[match.group(2)]
        return f"{value:.0f}"

    return _DIGITS_SCALE.sub(expand, text.lower())


@dataclass(frozen=True)
class _Features:
    stems: frozenset[str]
    prefixes: frozenset[str]
    numbers: frozenset[float]
    dates: frozenset[str]
    negated: bool


def _features(text: str) -> _Features:
    stems = _content_stems(text)
    return _Features(
        stems=stems,
        prefixes=frozenset(s[:_PREFIX] for s in stems if len(s) >= _PREFIX),
        numbers=_numbers(_scale_digits(text)),
        dates=frozenset(_CALENDAR.findall(text)),
        negated=_is_negated(text),
    )


class SupportScorer:
    """How well evidence texts support claims, in [0, 1].

    support = clip(W_COS · cos + W_LEX · lex, 0, 1) · NUMBER_PENALTY^missing · negation

    - cos: cosine of the two embeddings, clipped at 0.
    - lex: share of the claim's content stems (lowercased, stop words removed, Snowball stems;
      stems of 5+ letters also match on their first 5) found in the evidence. A claim with no
      content words takes lex = cos, so the lexical term is neutral.
    - missing: how many distinct numbers of the claim (digits, "2.5 million", number words)
      and capitalised weekday/month names are absent from the evidence. Each one multiplies by
      NUMBER_PENALTY: a changed figure or day is the commonest small-model error, and
      embeddings barely notice it.
    - negation: NEGATION_PENALTY when exactly one of claim and evidence contains a negation
      ("not", "never", "n't", …, or refuse/deny/reject/decline), else 1. Embeddings barely
      see "did not", and "agreed to" vs "refused to" hardly moves the cosine.

    Numbers and negation in the evidence that the claim lacks are not penalised: a claim may
    leave out detail. Deterministic for a deterministic embedder.
    """

    W_COS = 0.6
    W_LEX = 0.4
    NUMBER_PENALTY = 0.4
    NEGATION_PENALTY = 0.4

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def score(self, claims: list[str], evidence: list[str]) -> np.ndarray:
        if not claims or not evidence:
            return np.zeros((len(claims), len(evidence)), dtype=np.float32)
        cos = self._cosines(claims, evidence)
        claim_features = [_features(c) for c in claims]
        evidence_features = [_features(e) for e in evidence]
        scores = np.zeros_like(cos)
        for i, claim in enumerate(claim_features):
            for j, proof in enumerate(evidence_features):
                scores[i, j] = self._combine(float(cos[i, j]), claim, proof)
        return scores

    def _cosines(self, claims: list[str], evidence: list[str]) -> np.ndarray:
        distinct = list(dict.fromkeys([*claims, *evidence]))  # embed each text once
        row = {text: i for i, text in enumerate(distinct)}
        vectors = self._embedder.embed(distinct)
        claim_vectors = vectors[[row[c] for c in claims]]
        evidence_vectors = vectors[[row[e] for e in evidence]]
        return np.clip(claim_vectors @ evidence_vectors.T, 0.0, 1.0).astype(np.float32)

    def _combine(self, cos: float, claim: _Features, proof: _Features) -> float:
        lex = _lexical(claim, proof) if claim.stems else cos
        support = min(max(self.W_COS * cos + self.W_LEX * lex, 0.0), 1.0)
        missing = len(claim.numbers - proof.numbers) + len(claim.dates - proof.dates)
        support *= self.NUMBER_PENALTY**missing
        if claim.negated != proof.negated:
            support *= self.NEGATION_PENALTY
        return support


def facts_in(text: str) -> frozenset[str]:
    """The numbers and calendar names of a text, normalised ("2.5 million" → 2500000)."""
    features = _features(text)
    return frozenset({*(f"{n:g}" for n in features.numbers), *features.dates})


def _lexical(claim: _Features, proof: _Features) -> float:
    found = sum(
        1
        for stem in claim.stems
        if stem in proof.stems or (len(stem) >= _PREFIX and stem[:_PREFIX] in proof.prefixes)
    )
    return found / len(claim.stems)

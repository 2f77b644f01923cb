"""How well an evidence text supports a claim, and why not.

SupportScorer scores every (claim, evidence) pair with the learned combiner of
checker_model.py over the features of facts.py — embedding cosine, content-word recall, and
the claim's names, numbers, dates, negations and attribution missing from the evidence — and
explains a verdict as a list of Mismatch. The citation checker and the source relations of
summaries score with the same SupportScorer.
"""

from __future__ import annotations

import numpy as np

from newsdesk.answers import Mismatch
from newsdesk.embedding import Embedder
from newsdesk.generation import facts as fact_module
from newsdesk.generation.checker_model import FEATURES, CheckerModel, load_model
from newsdesk.generation.facts import Facts, compare, missing_words

_PREFIX = 5  # stems sharing their first 5 letters match: "rescu"/"rescuer", "invas"/"invad" not


class SupportScorer:
    """How well evidence texts support claims, in [0, 1] (see the module docstring and
    docs/answers.md, "How the checker decides"). Deterministic for a deterministic embedder.

    A claim with no content words takes lexical = cosine, so the lexical term is neutral.
    Facts in the evidence that the claim lacks are not held against it: a claim may leave out
    detail.
    """

    def __init__(self, embedder: Embedder, model: CheckerModel | None = None) -> None:
        self._embedder = embedder
        self.model = model or load_model()

    def score(
        self, claims: list[str], evidence: list[str], passages: list[str] | None = None
    ) -> np.ndarray:
        """Support of each claim (rows) by each evidence text (columns). `passages[j]`, when
        given, is the cited text evidence[j] was cut from: names, numbers and dates count as
        found anywhere in it."""
        return self.judge(claims, evidence, passages)[0]

    def judge(
        self, claims: list[str], evidence: list[str], passages: list[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Support (as `score`) and alignment: cosine + content-word recall, facts aside —
        which evidence a claim is about, so an unsupported claim is explained against the
        text it distorts rather than the one that merely contradicts it least."""
        if not claims or not evidence:
            empty = np.zeros((len(claims), len(evidence)), dtype=np.float32)
            return empty, empty
        features = self.features(claims, evidence, passages)
        return self.model.support(features), features[:, :, 0] + features[:, :, 1]

    def features(
        self, claims: list[str], evidence: list[str], passages: list[str] | None = None
    ) -> np.ndarray:
        """Features of every pair: shape (claims, evidence, len(FEATURES)). Every pair's facts
        are compared, so that even the weakest supports rank claims by what they get wrong (a
        shortcut that skipped pairs below 0.05 support left their missing facts uncounted, and
        a summary inventing facts then outranked one that merely reworded: FRANK XSum
        checker_auc 0.685 with it, 0.709 without)."""
        out = np.zeros((len(claims), len(evidence), len(FEATURES)), dtype=np.float64)
        if not claims or not evidence:
            return out
        out[:, :, 0] = self._cosines(claims, evidence)
        claim_facts = [fact_module.facts(c) for c in claims]
        evidence_facts = [fact_module.facts(e) for e in evidence]
        out[:, :, 1] = _lexical(claim_facts, evidence_facts, out[:, :, 0])
        scope_facts = [fact_module.facts(t) for t in passages] if passages else evidence_facts
        for i, claim in enumerate(claim_facts):
            for j, proof in enumerate(evidence_facts):
                out[i, j, 2:] = _fact_counts(claim, proof, scope_facts[j])
        return out

    def explain(
        self, claim: str, evidence: str | None, supported: bool, passage: str | None = None
    ) -> list[Mismatch]:
        """Why `claim` is not supported by `evidence`: the facts of the claim the evidence
        lacks or contradicts; for an unsupported claim with none of those, its content words
        the evidence lacks ("missing")."""
        claim_facts = fact_module.facts(claim)
        if evidence is None:
            return [] if supported else [_missing(claim_facts, None)]
        proof = fact_module.facts(evidence)
        scope = fact_module.facts(passage) if passage else None
        found = compare(claim_facts, proof, scope).mismatches
        if not found and not supported:
            found = [_missing(claim_facts, proof)]
        return found

    def _cosines(self, claims: list[str], evidence: list[str]) -> np.ndarray:
        distinct = list(dict.fromkeys([*claims, *evidence]))  # embed each text once
        row = {text: i for i, text in enumerate(distinct)}
        vectors = self._embedder.embed(distinct)
        claim_vectors = vectors[[row[c] for c in claims]]
        evidence_vectors = vectors[[row[e] for e in evidence]]
        return np.clip(claim_vectors @ evidence_vectors.T, 0.0, 1.0)


def _fact_counts(claim: Facts, proof: Facts, passage: Facts) -> list[float]:
    found = compare(claim, proof, passage, nearest=False)
    return [
        len(found.names),
        found.uncertain_names,
        len(found.numbers),
        len(found.dates),
        len(found.negations),
        len(found.attributions),
    ]


def _lexical(claims: list[Facts], proofs: list[Facts], cosines: np.ndarray) -> np.ndarray:
    """Share of each claim's content stems found in each evidence text (exactly, or by their
    first 5 letters), as one matrix product; a claim with no content stems takes its cosine."""
    terms = sorted({t for c in claims for t in c.stems})
    column = {t: k for k, t in enumerate(terms)}
    by_prefix: dict[str, list[int]] = {}
    for t in terms:
        if len(t) >= _PREFIX:
            by_prefix.setdefault(t[:_PREFIX], []).append(column[t])
    vocabulary, prefixes = frozenset(terms), frozenset(by_prefix)
    wanted = np.zeros((len(claims), len(terms)))
    for i, claim in enumerate(claims):
        wanted[i, [column[t] for t in claim.stems]] = 1.0
    found = np.zeros((len(proofs), len(terms)))
    for j, proof in enumerate(proofs):
        hits = [column[t] for t in proof.stems & vocabulary]
        hits += [k for p in proof.prefixes & prefixes for k in by_prefix[p]]
        found[j, hits] = 1.0
    sizes = wanted.sum(axis=1, keepdims=True)
    shares = (wanted @ found.T) / np.maximum(sizes, 1.0)
    return np.where(sizes > 0, shares, cosines)


def _missing(claim: Facts, proof: Facts | None) -> Mismatch:
    words = missing_words(claim, proof) if proof is not None else []
    return Mismatch(kind="missing", claim=" ".join(words) or claim.text, evidence=None)


def facts_in(text: str) -> frozenset[str]:
    """The numbers and dates (weekdays, months, years) of a text, normalised ("2.5 million"
    → "2500000")."""
    found = fact_module.facts(text)
    return frozenset(
        {*(f"{q.value:g}" for q in found.numbers), *(f"date:{d.value:g}" for d in found.dates)}
    )

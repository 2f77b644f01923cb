"""Evaluation metrics as pure functions (definitions in docs/evaluation.md, "Metrics").

Retrieval metrics take a ranking of distinct item ids (best first) and the set of gold ids.
Answer metrics follow the official SQuAD v2.0 evaluation script's normalisation."""

from __future__ import annotations

import collections
import math
import re
import string
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
from rouge_score import rouge_scorer
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from newsdesk.generation import markers
from newsdesk.index.text import sentence_spans

# --- retrieval -----------------------------------------------------------------------------


def recall_at_k(ranked: Sequence[str], gold: set[str], k: int) -> float:
    """Share of the gold items found among the first k ranked items."""
    if not gold:
        raise ValueError("recall needs at least one gold item")
    return len(gold & set(ranked[:k])) / len(gold)


def mrr_at_k(ranked: Sequence[str], gold: set[str], k: int = 10) -> float:
    """1 / rank of the first gold item within the first k, else 0."""
    for rank, item in enumerate(ranked[:k], start=1):
        if item in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: set[str], k: int = 10) -> float:
    """Binary-relevance nDCG: Σ 1/log2(rank+1) over gold items in the first k, divided by the
    same sum for an ideal ranking (all gold items first)."""
    if not gold:
        raise ValueError("nDCG needs at least one gold item")
    dcg = sum(1.0 / math.log2(rank + 1) for rank, item in enumerate(ranked[:k], 1) if item in gold)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold), k) + 1))
    return dcg / ideal


def distinct(items: Sequence[str]) -> list[str]:
    """Items in order of first appearance (several chunks of one article rank it once)."""
    return list(dict.fromkeys(items))


# --- answers (SQuAD v2.0 evaluate script) --------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation and articles (a, an, the), collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: Sequence[str]) -> float:
    """1 if the normalised prediction equals a normalised gold answer. With no gold answers
    (unanswerable), 1 only for an empty prediction (an abstention)."""
    if not gold:
        return float(not normalize_answer(prediction))
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in gold))


def _token_f1(prediction: str, gold: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = collections.Counter(predicted) & collections.Counter(expected)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, gold: Sequence[str]) -> float:
    """Max over gold answers of the harmonic mean of token precision and recall."""
    if not gold:
        return float(not normalize_answer(prediction))
    return max(_token_f1(prediction, g) for g in gold)


def answer_contains(prediction: str, gold: Sequence[str]) -> float:
    """1 if some normalised gold answer occurs in the normalised prediction as whole words."""
    padded = f" {normalize_answer(prediction)} "
    return float(any(normalize_answer(g) and f" {normalize_answer(g)} " in padded for g in gold))


def abstention_precision_recall(
    abstained: Sequence[bool], unanswerable: Sequence[bool]
) -> tuple[float | None, float | None]:
    """Precision: share of abstentions that were on unanswerable questions. Recall: share of
    unanswerable questions abstained on. None when undefined (no abstentions / none to find)."""
    hits = sum(a and u for a, u in zip(abstained, unanswerable, strict=True))
    made, due = sum(abstained), sum(unanswerable)
    return (hits / made if made else None, hits / due if due else None)


# --- citations (ALCE-style) ----------------------------------------------------------------

Entails = Callable[[str, str], bool]  # (evidence, claim) → is the claim supported?


def citation_scores(
    sentences: Sequence[tuple[str, Sequence[str]]], entails: Entails
) -> tuple[float, float | None]:
    """ALCE citation recall and precision of one answer.

    `sentences` holds each answer sentence with the quotes it cites. A sentence has recall 1
    when it cites something and the concatenation of its quotes supports it. A citation is
    precise unless it is superfluous: its sentence is supported (recall 1), it does not
    support the sentence on its own, and the sentence's other quotes still support it without
    it. Citations of unsupported sentences count as imprecise (as in ALCE). Returns (recall
    over sentences, precision over citations; None when nothing was cited)."""
    if not sentences:
        raise ValueError("citation scores need at least one sentence")
    recalled, total_citations, precise = 0, 0, 0
    for claim, quotes in sentences:
        total_citations += len(quotes)
        if not quotes or not entails(" ".join(quotes), claim):
            continue
        recalled += 1
        precise += len(quotes)
        if len(quotes) < 2:
            continue
        for index, quote in enumerate(quotes):
            rest = " ".join(q for i, q in enumerate(quotes) if i != index)
            if not entails(quote, claim) and entails(rest, claim):
                precise -= 1
    precision = precise / total_citations if total_citations else None
    return recalled / len(sentences), precision


_WORD = re.compile(r"[a-z0-9]+")
_FUNCTION_WORDS = frozenset(
    re.findall(
        r"\w+",
        """a an the of in on at to for from by with and or but is are was were be been being it
        its this that these those as he she they his her their has have had will would not no""",
    )
)


@lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    from nltk.stem import porter  # a dependency of rouge-score

    return porter.PorterStemmer().stem


def _lexical_terms(text: str) -> list[str]:
    stem = _stemmer()
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in _FUNCTION_WORDS]


def lexical_support(evidence: str, claim: str) -> float:
    """Independent, embedding-free support proxy: the share of the claim's content terms
    (Porter stems, digits kept as tokens, function words dropped) that occur in the evidence.
    A claim with no content terms is unsupported."""
    terms = _lexical_terms(claim)
    if not terms:
        return 0.0
    found = set(_lexical_terms(evidence))
    return sum(term in found for term in terms) / len(terms)


LEXICAL_ENTAILMENT_THRESHOLD = 0.8


def lexically_entails(evidence: str, claim: str) -> bool:
    """The lexical-entailment proxy: at least 80% of the claim's content terms are in the
    evidence, and every number of the claim is."""
    numbers = set(re.findall(r"\d+(?:\.\d+)?", claim.replace(",", "")))
    if not numbers <= set(re.findall(r"\d+(?:\.\d+)?", evidence.replace(",", ""))):
        return False
    return lexical_support(evidence, claim) >= LEXICAL_ENTAILMENT_THRESHOLD


# --- summaries -----------------------------------------------------------------------------

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def strip_markers(text: str) -> str:
    """The text without its [n] markers (the one marker grammar, generation/markers.py)."""
    return markers.strip_markers(text)


@lru_cache(maxsize=1)
def _rouge() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L F-measures (rouge-score, Porter stemming)."""
    scores = _rouge().score(reference, prediction)
    return {name: scores[name].fmeasure for name in ROUGE_TYPES}


def lead_n(text: str, n: int = 3) -> str:
    """The first n sentences of an article: the Lead-3 baseline when n = 3."""
    return " ".join(text[s.start : s.end] for s in sentence_spans(text)[:n])


# --- agreement with human labels -----------------------------------------------------------


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """ROC AUC of scores for the positive class; None when only one class is present."""
    if len(set(positive)) < 2:
        return None
    return float(roc_auc_score(np.asarray(positive, dtype=int), np.asarray(scores)))


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    return float(spearmanr(a, b).statistic)


# --- uncertainty ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def bootstrap_ci(
    statistic: Callable[[np.ndarray], dict[str, float]],
    n: int,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of each value `statistic(indexes)` returns, over n items
    resampled with replacement (the caller pairs items across runs by index). A key gets no
    interval when fewer than two items exist or it is undefined on most resamples."""
    if n < 2:
        return {}
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = collections.defaultdict(list)
    for _ in range(resamples):
        for key, value in statistic(rng.integers(0, n, size=n)).items():
            if not math.isnan(value):
                samples[key].append(value)
    tail = (1 - confidence) / 2 * 100
    return {
        key: (float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)))
        for key, values in samples.items()
        if len(values) >= resamples // 2
    }

"""The learned part of the extractive backend: how likely a passage sentence answers a question.

Two logistic models over the same FEATURES (computed by `generation/extractive.py` from the
question, the sentence and its story): `rank` — sigmoid(bias + Σ weight_f · feature_f) — how
likely a sentence holds the answer, which picks the best sentence; `decide` — the same form
with its own weights, applied to that best sentence — how likely the question is answered by
the story at all, which must reach `threshold` (else the backend abstains). Ranking is learned
within questions (gold sentence vs its neighbours), deciding across them (answerable vs not):
a focus word the story lacks says nothing about which sentence is best, much about whether to
answer. The weights and the threshold live in extractive_weights.json beside this file; `bench/train_extractive.py`
fits them on the news QA set's tune, test and (first) holdout splits and the SQuAD 2.0 tuning
articles, never on holdout2. Hand rules used to decline outright on each of these signals; as
features they are weighed against each other (a reworded background word costs less than a
missing speaker), and the weights say how much each one counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS_FILE = Path(__file__).with_name("extractive_weights.json")

FEATURES = (
    "cosine",  # embedding cosine of question and sentence
    "cosine_gap",  # how far below the question's best-matching candidate (<= 0)
    "binding",  # share of the question's words the story has that the sentence (+title) has
    "lexical",  # share of all the question's words in the sentence (+title)
    "typed",  # the question asks for a kind (number, date, person, place, money)
    "kind_found",  # ... and the sentence holds one the question does not already contain
    "focus_missing",  # focus words (speaker, counted thing, "which" noun, verbs) the story lacks
    "background_missing",  # other question words the story lacks
    "specifics_missing",  # names and numbers of the question the story lacks
    "verbs_missing",  # the question's verbs (the asked event) the sentence lacks
    "quote_missing",  # "what did X say?" and the sentence is not X speaking
    "retrieval",  # the passage's retrieval similarity (0 when unknown)
)
COUNT_CAP = 2.0  # a third missing word is no worse than a second


@dataclass(frozen=True)
class Logistic:
    bias: float
    weights: np.ndarray  # one per FEATURES

    def probability(self, features: np.ndarray) -> np.ndarray:
        """sigmoid(bias + w·x) for rows of features in FEATURES order."""
        logits = self.bias + cap_counts(features) @ self.weights
        return 1.0 / (1.0 + np.exp(-logits))

    def as_dict(self) -> dict[str, object]:
        weights = {name: round(float(w), 4) for name, w in zip(FEATURES, self.weights, strict=True)}
        return {"bias": round(self.bias, 4), "weights": weights}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Logistic:
        named = data["weights"]
        assert isinstance(named, dict) and isinstance(data["bias"], int | float)
        weights = np.array([float(named[name]) for name in FEATURES], dtype=np.float64)
        return cls(float(data["bias"]), weights)


@dataclass(frozen=True)
class AnswerModel:
    rank: Logistic  # P(this sentence holds the answer)
    decide: Logistic  # P(the question is answered), from its best sentence's features
    threshold: float  # answer when `decide` reaches this

    def to_json(self, **provenance: object) -> str:
        data = {"rank": self.rank.as_dict(), "decide": self.decide.as_dict()}
        return (
            json.dumps({**data, "threshold": round(self.threshold, 4), **provenance}, indent=2)
            + "\n"
        )


_COUNTS = [FEATURES.index(n) for n in FEATURES if n.endswith("_missing")]


def cap_counts(features: np.ndarray) -> np.ndarray:
    capped = np.array(features, dtype=np.float64)
    capped[..., _COUNTS] = np.minimum(capped[..., _COUNTS], COUNT_CAP)
    return capped


@lru_cache(maxsize=1)
def load_model(path: Path = WEIGHTS_FILE) -> AnswerModel:
    data = json.loads(path.read_text(encoding="utf-8"))
    rank, decide = Logistic.from_dict(data["rank"]), Logistic.from_dict(data["decide"])
    return AnswerModel(rank, decide, float(data["threshold"]))

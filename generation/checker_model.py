"""The learned part of the support checker: a logistic model over interpretable features.

support = sigmoid(bias + Σ weight_f · feature_f), features in FEATURES order. The weights live
in checker_weights.json beside this file; `bench/train_checker.py` fits them on the `tune`
split of the perturbation set (evals/suites/perturbations.jsonl.gz) and nothing else, so the
`test` split stays an honest measure. Small on purpose: nine numbers a reader can check
(a missing name should weigh strongly against support, a high cosine for it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS_FILE = Path(__file__).with_name("checker_weights.json")

FEATURES = (
    "cosine",  # embedding cosine of claim and evidence, clipped at 0
    "lexical",  # share of the claim's content stems found in the evidence
    "names",  # certain names of the claim not in the evidence
    "uncertain_names",  # sentence-opening capitalised words not in the evidence
    "numbers",  # numbers of the claim not in the evidence
    "dates",  # weekdays, months, years of the claim not in the evidence
    "negations",  # polarity disagreements
    "attributions",  # the claim's speaker is not the evidence's
)
COUNT_CAP = 2.0  # a second missing name is as damning as a tenth


@dataclass(frozen=True)
class CheckerModel:
    bias: float
    weights: np.ndarray  # one per FEATURES

    def support(self, features: np.ndarray) -> np.ndarray:
        """Support in [0, 1] for rows of features (the last axis in FEATURES order)."""
        capped = features.copy()
        capped[..., 2:] = np.minimum(capped[..., 2:], COUNT_CAP)
        logits = self.bias + capped @ self.weights
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def to_json(self, **provenance: object) -> str:
        weights = {name: round(float(w), 4) for name, w in zip(FEATURES, self.weights, strict=True)}
        return json.dumps({"bias": round(self.bias, 4), "weights": weights, **provenance}, indent=2)


@lru_cache(maxsize=1)
def load_model(path: Path = WEIGHTS_FILE) -> CheckerModel:
    data = json.loads(path.read_text(encoding="utf-8"))
    weights = np.array([float(data["weights"][name]) for name in FEATURES], dtype=np.float64)
    return CheckerModel(bias=float(data["bias"]), weights=weights)

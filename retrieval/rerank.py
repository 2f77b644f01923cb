"""Reranking the head of the fused list: a small learned linear model over cheap features.

Fusion alone cannot put the right passage first often enough: on squad2-dev-qa the right
paragraph is first in neither retriever's list for about one question in eight, so no weighting
of their scores finds it. Reading the query against each candidate's text does
(retrieval/rerank_features.py). The model is linear so that it runs in microseconds on 2 cores
and its weights can be read; they live in rerank_weights.json beside this file, fitted by
``bench/fit_rerank.py`` on training questions only (see that script for the split).

Only questions are reranked. A question's answer is a passage where its words meet next to
the kind of thing it asks for, which is what the features read; a claim (SciFact) or a string of
keywords has no answer to find, and fusion already ranks those best (a model fitted on both
kinds of query lowered SciFact's nDCG@10 below the fused order's and fell short on questions).

Only the first ``depth`` fused candidates are reordered; the rest keep their fused order after
them. Ties keep the fused order (a stable sort), so the result is deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from newsdesk.retrieval.rerank_features import FEATURES, Idf, Query, candidate_features

WEIGHTS_FILE = "rerank_weights.json"


@dataclass(frozen=True)
class RerankModel:
    weights: np.ndarray  # one per name in FEATURES

    def scores(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights

    def to_json(self, **provenance: object) -> str:
        named = {name: round(float(w), 5) for name, w in zip(FEATURES, self.weights, strict=True)}
        return json.dumps({"weights": named, **provenance}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RerankModel:
        named = json.loads(text)["weights"]
        if set(named) != set(FEATURES):
            # Weights fitted for another feature set would silently score the wrong columns.
            raise ValueError(
                f"rerank weights name {sorted(named)}, the features are {sorted(FEATURES)}: "
                "refit them with bench/fit_rerank.py"
            )
        return cls(np.array([float(named[name]) for name in FEATURES]))


@cache
def packaged_model() -> RerankModel:
    """The weights shipped in the package (read once per process)."""
    text = resources.files("newsdesk.retrieval").joinpath(WEIGHTS_FILE).read_text("utf-8")
    return RerankModel.from_json(text)


def rerank(
    query: str,
    fused: Sequence[tuple[int, float]],
    dense: Mapping[int, float],
    lexical: Mapping[int, float],
    texts: Mapping[int, str],
    idf: Idf,
    model: RerankModel,
    depth: int,
) -> tuple[list[tuple[int, float]], dict[int, float]]:
    """``fused`` with its first ``depth`` candidates reordered by the model (their fused scores
    kept: they are what the retrievers said), and the model's score of each reordered one; a
    query that is not a question comes back in its fused order, with no scores."""
    head, tail = list(fused[:depth]), list(fused[depth:])
    read = Query.of(query, idf)
    if len(head) < 2 or not read.is_question:
        return [*head, *tail], {}
    scores = model.scores(candidate_features(read, head, dense, lexical, texts))
    order = np.argsort(-scores, kind="stable")
    reranked = {head[i][0]: float(scores[i]) for i in order}
    return [*(head[i] for i in order), *tail], reranked

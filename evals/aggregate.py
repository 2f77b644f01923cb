"""From per-item result rows to the flat `aggregates` of a run.

Aggregates are recomputed from rows (never stored separately from them), so the bootstrap in
compare.py can resample rows and get the same metrics on each resample."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from newsdesk.evals import metrics
from newsdesk.evals.results import ResultRow, row_values

Columns = dict[str, np.ndarray]

# Metrics that are the plain mean of a per-row value of the same name.
MEAN_METRICS = (
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "ndcg@10",
    "exact_match",
    "f1",
    "exact_match_answerable",
    "f1_answerable",
    "answer_containment",
    "citation_recall",
    "citation_precision",
    "citation_recall_lexical",
    "citation_precision_lexical",
    "faithfulness",
    "degraded_share",
    "answer_words",
    "rouge1",
    "rouge2",
    "rougeL",
    "lead3_rouge1",
    "lead3_rouge2",
    "lead3_rougeL",
    "summary_faithfulness",
)
# Lower is better for these; every other metric is better when higher.
LOWER_IS_BETTER_SUFFIX = "_ms"
LATENCY_COLUMNS = {
    "latency": "latency_ms",
    "latency_retrieval": "retrieval_ms",
    "latency_generation": "generation_ms",
    "latency_check": "check_ms",
    "latency_summary": "summary_ms",
}
CHECKER_SCORES = {
    "checker": "checker_min",
    "checker_mean": "checker_mean",
    "lexical_overlap": "lexical_min",
}


def lower_is_better(metric: str) -> bool:
    return metric.endswith(LOWER_IS_BETTER_SUFFIX)


def columns(rows: Sequence[ResultRow]) -> Columns:
    """Rows as numeric columns, by JSON key (NaN where a row has no value)."""
    names = {
        *MEAN_METRICS,
        *LATENCY_COLUMNS.values(),
        *CHECKER_SCORES.values(),
        "abstained",
        "unanswerable",
        "human_factuality",
    }
    values = [row_values(row) for row in rows]
    return {name: np.array([_number(v.get(name)) for v in values], dtype=float) for name in names}


def _number(value: object) -> float:
    if value is None:
        return math.nan
    if not isinstance(value, int | float):  # bool is an int
        raise TypeError(f"not a number: {value!r}")
    return float(value)


def aggregate(cols: Columns, index: np.ndarray | None = None) -> dict[str, float]:
    """The flat metric → number object; a metric is absent when no row applies to it."""
    if index is not None:
        cols = {name: values[index] for name, values in cols.items()}
    result: dict[str, float] = {}
    for name in MEAN_METRICS:
        values = cols[name][~np.isnan(cols[name])]
        if len(values):
            result[name] = float(values.mean())
    _abstention(cols, result)
    for prefix, column in LATENCY_COLUMNS.items():
        values = cols[column][~np.isnan(cols[column])]
        if len(values):
            result[f"{prefix}_p50_ms"] = float(np.percentile(values, 50))
            result[f"{prefix}_p95_ms"] = float(np.percentile(values, 95))
    _agreement(cols, result)
    return result


def _abstention(cols: Columns, result: dict[str, float]) -> None:
    asked = ~np.isnan(cols["abstained"])
    if not asked.any():
        return
    abstained = cols["abstained"][asked].astype(bool)
    unanswerable = cols["unanswerable"][asked].astype(bool)
    precision, recall = metrics.abstention_precision_recall(list(abstained), list(unanswerable))
    if precision is not None:
        result["abstention_precision"] = precision
    if recall is not None:
        result["abstention_recall"] = recall
    result["abstention_rate"] = float(abstained.mean())


def _agreement(cols: Columns, result: dict[str, float]) -> None:
    human = cols["human_factuality"]
    labelled = ~np.isnan(human)
    if labelled.sum() < 3:
        return
    # A summary is "factual" when no annotator found an error in any of its sentences.
    factual = list(human[labelled] >= 1.0)
    for prefix, column in CHECKER_SCORES.items():
        scores = cols[column][labelled]
        if np.isnan(scores).any():
            continue
        auc = metrics.roc_auc(list(scores), factual)
        rho = metrics.spearman(list(scores), list(human[labelled]))
        if auc is not None:
            result[f"{prefix}_auc"] = auc
        if rho is not None:
            result[f"{prefix}_spearman"] = rho


def aggregate_rows(rows: Sequence[ResultRow]) -> dict[str, float]:
    """All rows' metrics, then each group's as `metric[group]` (for suites whose items name a
    `group`, e.g. FRANK's CNN/DM and XSum halves, which differ enough to mislead when pooled)."""
    result = aggregate(columns(rows))
    groups = sorted({row.group for row in rows if row.group})
    for group in groups:
        subset = aggregate(columns([row for row in rows if row.group == group]))
        result |= {f"{name}[{group}]": value for name, value in subset.items()}
    return result

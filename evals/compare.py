"""Compare two runs metric by metric, with a paired bootstrap interval over the items both runs
share, and decide whether a gated metric regressed."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from newsdesk.evals.aggregate import aggregate, columns, lower_is_better
from newsdesk.evals.metrics import bootstrap_ci
from newsdesk.evals.results import EvalResults, ResultRow, ResultsError, RunResult, read_results

_GATE = re.compile(r"^(?P<metric>[^:]+):(?P<drop>[0-9]*\.?[0-9]+)$")


class CompareError(ValueError):
    pass


@dataclass(frozen=True)
class Gate:
    """Fail when `metric` gets worse by more than `drop` (absolute; for `*_ms` metrics, worse
    means higher)."""

    metric: str
    drop: float


def parse_gate(text: str) -> Gate:
    match = _GATE.match(text.strip())
    if not match:
        raise CompareError(f"--fail-on expects METRIC:DROP (e.g. ndcg@10:0.02), got {text!r}")
    return Gate(match["metric"], float(match["drop"]))


@dataclass(frozen=True)
class Delta:
    metric: str
    before: float
    after: float
    delta: float
    ci: tuple[float, float] | None  # 95% paired bootstrap interval of the delta

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
            "ci_low": self.ci[0] if self.ci else None,
            "ci_high": self.ci[1] if self.ci else None,
        }


def load_results(path: Path) -> EvalResults:
    """The results a previous run wrote (its folder or its results.json), in any format
    version this newsdesk reads."""
    try:
        return read_results(path)
    except ResultsError as exc:
        raise CompareError(str(exc)) from None


def _key(row: ResultRow) -> tuple[str, str]:
    return row.kind, row.id


def compare_runs(before: RunResult, after: RunResult, *, resamples: int = 1000) -> list[Delta]:
    """Deltas (after − before) for every metric both runs report; items are paired by kind
    and id."""
    old = {_key(r): r for r in before.rows}
    new = {_key(r): r for r in after.rows}
    shared = [k for k in new if k in old]
    old_cols = columns([old[k] for k in shared])
    new_cols = columns([new[k] for k in shared])
    metrics = [m for m in after.aggregates if m in before.aggregates]

    def statistic(index: np.ndarray) -> dict[str, float]:
        a, b = aggregate(new_cols, index), aggregate(old_cols, index)
        return {m: a[m] - b[m] for m in metrics if m in a and m in b}

    intervals = bootstrap_ci(statistic, len(shared), resamples=resamples)
    return [
        Delta(
            metric,
            before.aggregates[metric],
            after.aggregates[metric],
            after.aggregates[metric] - before.aggregates[metric],
            intervals.get(metric),
        )
        for metric in metrics
    ]


def regressions(deltas: list[Delta], gates: list[Gate]) -> list[str]:
    """Messages for every gate whose metric got worse by more than its allowed drop."""
    by_metric = {d.metric: d for d in deltas}
    failures = []
    for gate in gates:
        delta = by_metric.get(gate.metric)
        if delta is None:
            failures.append(f"{gate.metric}: not reported by both runs")
            continue
        worse = delta.delta if lower_is_better(gate.metric) else -delta.delta
        if math.isnan(worse) or worse > gate.drop:
            failures.append(
                f"{gate.metric} regressed: {delta.before:.4f} → {delta.after:.4f} "
                f"(worse by {worse:.4f} > {gate.drop})"
            )
    return failures

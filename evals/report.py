"""The human report of a run: report.md with the metric tables (and the comparison, if any),
and PNG plots beside it: per-item score distributions, latency histogram, and metric-by-run
bars when one report holds several configurations."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or CI
import matplotlib.pyplot as plt
import numpy as np

from newsdesk.evals.aggregate import Columns, columns, lower_is_better
from newsdesk.evals.compare import Delta
from newsdesk.evals.results import EvalResults, RunResult

# Per-item values worth seeing as distributions, in this order.
DISTRIBUTIONS = (
    "ndcg@10",
    "f1",
    "citation_recall",
    "faithfulness",
    "rougeL",
    "lead3_rougeL",
    "checker_min",
)
BAR_METRICS_EXCLUDED_SUFFIX = "_ms"


def write_report(
    results: EvalResults,
    out: Path,
    comparison: list[Delta] | None = None,
    failures: list[str] | None = None,
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    runs = results.runs
    per_run = [(run.label, columns(run.rows)) for run in runs]
    images = [_distributions(per_run, out), _latency(per_run, out)]
    if len(runs) > 1:
        images.append(_bars(runs, out))
    lines = [
        f"# Evaluation: {results.suite}",
        "",
        f"Started {results.started_at.isoformat()}, finished {results.finished_at.isoformat()}. "
        f"Embedding model `{results.environment.embedding_model}`.",
        "",
    ]
    if results.licence:
        lines += [f"Data licence: {results.licence}", ""]
    ingest = results.ingest
    lines += [
        f"Ingested {ingest.articles} articles ({ingest.chunks} chunks, "
        f"{ingest.rejected} rejected) in {ingest.seconds} s into a temporary data directory.",
        "",
        "## Metrics",
        "",
        *_metric_table(runs),
        "",
    ]
    if comparison is not None:
        lines += ["## Compared with the previous run", "", *_comparison_table(comparison), ""]
    if failures:
        lines += ["## Regressions", "", *[f"- {f}" for f in failures], ""]
    lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in images if p is not None]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4f}"


def _metric_table(runs: list[RunResult]) -> list[str]:
    names = list(dict.fromkeys(m for run in runs for m in run.aggregates))
    header = "| metric | " + " | ".join(run.label for run in runs) + " |"
    rule = "|---|" + "---:|" * len(runs)
    rows = [
        f"| `{name}` | " + " | ".join(_fmt(run.aggregates.get(name)) for run in runs) + " |"
        for name in names
    ]
    return [header, rule, *rows]


def _comparison_table(deltas: list[Delta]) -> list[str]:
    lines = ["| metric | before | after | delta | 95% CI |", "|---|---:|---:|---:|---|"]
    for d in deltas:
        ci = f"[{_fmt(d.ci[0])}, {_fmt(d.ci[1])}]" if d.ci else "–"
        arrow = "↓ better" if lower_is_better(d.metric) else ""
        lines.append(
            f"| `{d.metric}` {arrow} | {_fmt(d.before)} | {_fmt(d.after)} | {d.delta:+.4f} | {ci} |"
        )
    return lines


# A run's label and its rows as columns (aggregate.columns).
LabelledColumns = list[tuple[str, Columns]]


def _values(cols: Columns, name: str) -> np.ndarray:
    """The rows' values of one column, without the rows that have none."""
    values = cols[name]
    return values[~np.isnan(values)]


def _distributions(runs: LabelledColumns, out: Path) -> Path | None:
    names = [n for n in DISTRIBUTIONS if any(len(_values(cols, n)) for _, cols in runs)]
    if not names:
        return None
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for label, cols in runs:
            values = _values(cols, name)
            if len(values):
                ax.hist(values, bins=20, range=(0, 1), alpha=0.5, label=label)
        ax.set_title(name)
        ax.set_xlabel("per-item score")
    axes[0][0].set_ylabel("items")
    if len(runs) > 1:
        axes[0][-1].legend(fontsize="small")
    return _save(fig, out / "score_distributions.png")


def _latency(runs: LabelledColumns, out: Path) -> Path | None:
    if not any(len(_values(cols, "latency_ms")) for _, cols in runs):
        return None
    fig, ax = plt.subplots(figsize=(6, 3))
    for label, cols in runs:
        values = _values(cols, "latency_ms")
        if len(values):
            ax.hist(values, bins=30, alpha=0.5, label=label)
    ax.set_xlabel("latency per question (ms)")
    ax.set_ylabel("questions")
    ax.legend(fontsize="small")
    return _save(fig, out / "latency.png")


def _bars(runs: list[RunResult], out: Path) -> Path | None:
    names = [
        name
        for name in dict.fromkeys(m for run in runs for m in run.aggregates)
        if not name.endswith(BAR_METRICS_EXCLUDED_SUFFIX)
        and all(0 <= run.aggregates.get(name, 0) <= 1 for run in runs)
    ]
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(names) * len(runs)), 3.5))
    width = 0.8 / len(runs)
    x = np.arange(len(names))
    for i, run in enumerate(runs):
        heights = [run.aggregates.get(name, 0) for name in names]
        ax.bar(x + i * width, heights, width, label=run.label)
    ax.set_xticks(x + width * (len(runs) - 1) / 2, names, rotation=45, ha="right")
    ax.set_ylim(0, 1)
    ax.legend(fontsize="small")
    return _save(fig, out / "metrics_by_run.png")


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

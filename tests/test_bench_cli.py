"""`newsdesk bench …` as a user runs it: the JSON keys with sane values on a tiny input.
Nothing here is timed: throughput figures are only checked to be positive and consistent."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.support.cli import run_newsdesk

pytestmark = pytest.mark.slow  # each command loads the model (twice: ours and the baseline)


def _figures(tmp_path: Path, *args: str) -> dict[str, object]:
    result = run_newsdesk(tmp_path / "data", "bench", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _check_rates(figures: dict[str, object]) -> None:
    rate, baseline, ratio = (
        float(figures[k])  # type: ignore[arg-type]
        for k in ("chunks_per_s", "baseline_chunks_per_s", "ratio")
    )
    assert rate > 0 and baseline > 0
    assert math.isclose(ratio, rate / baseline, rel_tol=0.02)


def test_bench_embed_reports_rates_against_the_fp32_baseline(tmp_path: Path) -> None:
    figures = _figures(tmp_path, "embed", "--chunks", "12", "--repeats", "1")
    assert figures["chunks"] == 12
    _check_rates(figures)
    # The same chunks, so the configured backend's vectors match the baseline's closely.
    assert float(figures["min_cosine_to_baseline"]) >= 0.99  # type: ignore[arg-type]
    assert 10 < float(figures["mean_tokens"]) <= 256  # type: ignore[arg-type]
    assert float(figures["gflop_per_s"]) > 0  # type: ignore[arg-type]


def test_bench_ingest_stores_at_least_the_chunks_asked_for(tmp_path: Path) -> None:
    figures = _figures(tmp_path, "ingest", "--chunks", "10")
    assert int(figures["chunks"]) >= 10  # type: ignore[call-overload]
    assert int(figures["articles"]) >= 1  # type: ignore[call-overload]
    _check_rates(figures)
    # The benchmark ingests into a temporary directory, never the configured one.
    assert not (tmp_path / "data").exists()

"""`newsdesk bench …` as a user runs it: the JSON keys with sane values on a tiny input.
Nothing here is timed: throughput figures are only checked to be positive and consistent."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_newsdesk
from tests.support.vector_stores import needs_milvus

pytestmark = pytest.mark.slow  # each command loads the model (twice: ours and the baseline)


def _figures(tmp_path: Path, *args: str) -> dict[str, Any]:
    result = run_newsdesk(tmp_path / "data", "bench", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _check_rates(figures: dict[str, Any]) -> None:
    rate, baseline, ratio = (
        float(figures[k]) for k in ("chunks_per_s", "baseline_chunks_per_s", "ratio")
    )
    assert rate > 0 and baseline > 0
    assert math.isclose(ratio, rate / baseline, rel_tol=0.02)


def test_bench_embed_reports_rates_against_the_fp32_baseline(tmp_path: Path) -> None:
    figures = _figures(tmp_path, "embed", "--chunks", "12", "--repeats", "1")
    assert figures["chunks"] == 12
    _check_rates(figures)
    # The same chunks, so the configured backend's vectors match the baseline's closely.
    assert float(figures["min_cosine_to_baseline"]) >= 0.99
    assert 10 < float(figures["mean_tokens"]) <= 256
    assert float(figures["gflop_per_s"]) > 0


def test_bench_ingest_stores_at_least_the_chunks_asked_for(tmp_path: Path) -> None:
    figures = _figures(tmp_path, "ingest", "--chunks", "10")
    assert int(figures["chunks"]) >= 10
    assert int(figures["articles"]) >= 1
    _check_rates(figures)
    # The benchmark ingests into a temporary collection, never the configured one.
    assert not list((tmp_path / "data").glob("newsdesk.sqlite3*"))


def test_bench_search_reports_latency_recall_and_memory_and_reuses_its_cache(
    tmp_path: Path,
) -> None:
    work = str(tmp_path / "work")
    args = ("search", "--chunks", "300", "--queries", "5", "--work-dir", work)
    exact = _figures(tmp_path, *args, "--index", "exact")
    assert exact["index"] == "flat" and int(exact["chunks"]) >= 300
    assert 0 < float(exact["p50_ms"]) <= float(exact["p95_ms"])
    # Exact search against exact search: the same top 10 (up to ties of equal scores).
    assert float(exact["recall_at_10"]) >= 0.95
    # 384 float32 per chunk, plus its id.
    assert 384 * 4 <= float(exact["bytes_per_chunk"]) <= 384 * 4 + 64
    assert exact["built_this_run"] is True and exact["startup_index_status"] == "loaded"
    assert float(exact["startup_seconds"]) > 0
    assert "bench-sentence-mean" in str(exact["vectors_source"])
    stages = exact["stages"]
    assert isinstance(stages, dict) and set(stages) == {"query_embedding", "dense", "lexical"}

    hnsw = _figures(tmp_path, *args, "--index", "hnsw", "--no-startup", "--write-probe")
    assert hnsw["index"] == "hnsw" and hnsw["chunks"] == exact["chunks"]
    write = hnsw["write"]
    assert isinstance(write, dict) and write["chunks"] >= 1
    assert write["found_dense_and_lexical"] is True
    assert 0 < write["write_ms"] <= write["searchable_ms"]
    assert write["searches_during"] >= 1 and write["search_p50_ms_before"] > 0
    assert 0 <= write["max_lock_wait_ms"] <= write["search_max_ms_during"]
    # Deleted again without rebuilding the HNSW index, and never found again.
    assert write["vector_rebuilds"] == 0 and write["deleted_chunks_found_again"] is False
    assert write["collection_unchanged"] is True
    assert 0 <= float(hnsw["recall_at_10"]) <= 1
    assert float(hnsw["bytes_per_chunk"]) > float(exact["bytes_per_chunk"])
    # The collection was built once; a second run of a kind loads its saved index.
    again = _figures(tmp_path, *args, "--index", "hnsw", "--no-startup")
    assert again["built_this_run"] is False
    assert again["collection_build_seconds"] == exact["collection_build_seconds"]
    assert again["build_seconds"] == hnsw["build_seconds"]
    assert "write" not in again
    # The probe's add and delete left the chunks as they were: the exact index is still cached.
    exact_again = _figures(tmp_path, *args, "--index", "exact", "--no-startup")
    assert exact_again["built_this_run"] is False and exact_again["chunks"] == exact["chunks"]


@needs_milvus
def test_bench_search_on_milvus_lite_reports_the_same_figures(tmp_path: Path) -> None:
    work = str(tmp_path / "work")
    args = ("search", "--chunks", "300", "--queries", "5", "--work-dir", work)
    milvus = _figures(tmp_path, *args, "--index", "exact", "--vector-store", "milvus")
    assert milvus["vector_store"] == "milvus" and milvus["index"] == "milvus-flat"
    assert int(milvus["chunks"]) >= 300
    assert float(milvus["recall_at_10"]) >= 0.95
    assert float(milvus["bytes_per_chunk"]) > 384 * 4
    assert milvus["built_this_run"] is True and milvus["startup_index_status"] == "loaded"
    again = _figures(
        tmp_path, *args, "--index", "exact", "--vector-store", "milvus", "--no-startup"
    )
    assert again["built_this_run"] is False and again["chunks"] == milvus["chunks"]


def test_bench_http_reports_rates_per_concurrency_against_in_process(tmp_path: Path) -> None:
    figures = _figures(
        tmp_path,
        "http",
        *("--chunks", "200", "--requests", "12", "--concurrency", "1,4"),
        *("--work-dir", str(tmp_path / "work")),
    )
    levels = figures["concurrency"]
    assert isinstance(levels, dict) and set(levels) == {"1", "4"}
    for level in levels.values():
        assert level["requests"] == 12 and level["errors"] == 0
        assert level["requests_per_s"] > 0 and level["in_process_requests_per_s"] > 0
        assert level["p95_ms"] > 0
        assert math.isclose(
            level["ratio_to_in_process"],
            level["requests_per_s"] / level["in_process_requests_per_s"],
            rel_tol=0.02,
        )
    assert figures["requests_per_s"] == {c: v["requests_per_s"] for c, v in levels.items()}


@pytest.mark.parametrize("levels", ["abc", "1,x", "0", "4,-2", ","])
def test_bench_http_refuses_bad_concurrency_levels_with_a_usage_error(
    tmp_path: Path, levels: str
) -> None:
    result = run_newsdesk(tmp_path / "data", "bench", "http", "--concurrency", levels, "--json")
    assert result.returncode == 2
    assert "--concurrency" in result.stderr and "positive integers" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "data").exists()  # refused before touching anything

"""results.json as typed models: a document round-trips through them unchanged, files written
before the models (format 1, no `format_version`) are still read and compared with, and
documents that are not results are refused with a reason."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter
from typer.testing import CliRunner

from newsdesk.api.cli import app
from newsdesk.evals.aggregate import aggregate_rows
from newsdesk.evals.results import (
    RESULTS_FORMAT_VERSION,
    EvalResults,
    QuestionRow,
    ResultRow,
    ResultsError,
    dump_results,
    parse_results,
    read_results,
    write_results,
)

TINY = Path(__file__).parent / "data" / "evals" / "tiny-suite.yaml"
runner = CliRunner()


def _question_rows(f1_values: list[float]) -> list[dict[str, Any]]:
    """Question rows as format 1 wrote them: only the keys that apply to each."""
    rows: list[dict[str, Any]] = []
    for number, f1 in enumerate(f1_values):
        row: dict[str, Any] = {"kind": "question", "id": f"q{number}", "question": "When?"}
        if number % 2 == 0:  # retrieval gold
            row |= {
                "search_ms": 3.5,
                "ranked": ["a1", "a2"],
                "recall@1": 1.0,
                "recall@5": 1.0,
                "recall@10": 1.0,
                "mrr@10": 1.0,
                "ndcg@10": 1.0,
            }
        row |= {
            "latency_ms": 12.5,
            "prediction": "In 1931.",
            "gold": ["1931"],
            "unanswerable": False,
            "abstained": False,
            "degraded_share": 0.0,
            "exact_match": 0.0,
            "f1": f1,
            "retrieval_ms": 3.0,
            "generation_ms": 0.0,
            "check_ms": 9.0,
            "exact_match_answerable": 0.0,
            "f1_answerable": f1,
            "answer_containment": 1.0,
            "answer_words": 2,
            "citation_recall": 1.0,
            "citation_precision": None,  # nothing cited: undefined, written as null
            "citation_recall_lexical": 0.0,
            "citation_precision_lexical": None,
            "faithfulness": 1.0,
        }
        rows.append(row)
    return rows


OTHER_ROWS: list[dict[str, Any]] = [
    {  # a summary row of the first format's first release: no summary_cached
        "kind": "summary",
        "id": "s1",
        "article_id": "a1",
        "group": "cnndm",
        "lead3_rouge1": 0.5,
        "lead3_rouge2": 0.25,
        "lead3_rougeL": 0.5,
        "summary": "The council approved the bridge.",
        "summary_ms": 40.0,
        "rouge1": 0.4,
        "rouge2": 0.2,
        "rougeL": 0.4,
        "degraded_share": 0.0,
    },
    {
        "kind": "checker",
        "group": "cnndm",
        "id": "s1/bart",
        "human_factuality": 1.0,
        "checker_min": 0.8,
        "checker_mean": float("nan"),  # json.dumps wrote NaN; it must not come back as null
        "lexical_min": 0.9,
    },
]


def format1_document(f1_values: list[float]) -> dict[str, Any]:
    """A results.json as newsdesk wrote it before typed results (the shape the README
    documents): no format_version; the top level repeats the first run's label, config,
    aggregates and rows; `runs` holds every configuration."""
    rows = [*_question_rows(f1_values), *OTHER_ROWS]
    run: dict[str, Any] = {
        "label": "extractive/hybrid/k3",
        "config": {"backend": "extractive", "retrieval": "hybrid", "top_k": 3},
        "settings": {"backend": "extractive", "default_top_k": 3, "data_dir": "/tmp/x/data"},
        "models": {"embedding": "sentence-transformers/all-MiniLM-L6-v2", "llm": []},
        "aggregates": _aggregates(rows),
        "rows": rows,
    }
    second = {**copy.deepcopy(run), "label": "extractive/lexical/k3"}
    second["config"]["retrieval"] = "lexical"
    return {
        "suite": "tiny",
        "licence": "CC BY-SA 4.0",
        "started_at": "2026-01-05T10:00:00.123456+00:00",
        "finished_at": "2026-01-05T10:01:30.654321+00:00",
        "ingest": {"articles": 5, "rejected": 0, "chunks": 6, "seconds": 1.25},
        "environment": {
            "python": "3.11.2",
            "embedding_model": "sentence-transformers/all-MiniLM-L6-v2",
            "packages": {"newsdesk": "0.1.0", "faiss-cpu": "1.9.0", "rouge-score": None},
        },
        **{key: run[key] for key in ("label", "config", "aggregates", "rows")},
        "runs": [run, second],
    }


def _aggregates(rows: list[dict[str, Any]]) -> dict[str, float]:
    return aggregate_rows(TypeAdapter(list[ResultRow]).validate_python(rows))


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True)  # NaN-safe equality of JSON data


def test_a_format1_file_is_read_and_written_back_in_the_same_shape() -> None:
    old = format1_document([1.0, 0.5, 0.0])
    results = parse_results(json.dumps(old))
    assert results.format_version == RESULTS_FORMAT_VERSION
    assert [run.label for run in results.runs] == ["extractive/hybrid/k3", "extractive/lexical/k3"]
    assert results.first.config.top_k == 3
    assert results.started_at.isoformat() == old["started_at"]
    first = results.first.rows[0]
    assert isinstance(first, QuestionRow) and first.recall_at_1 == 1.0
    assert results.first.groups == ["cnndm"]
    # Every key, value and absence survives; only the version field is added.
    again = json.loads(dump_results(results))
    assert _canonical(again) == _canonical({**old, "format_version": RESULTS_FORMAT_VERSION})
    assert "recall@1" not in again["rows"][1]  # absent stays absent…
    assert again["rows"][1]["citation_precision"] is None  # …and null stays null
    assert "NaN" in dump_results(results)


def test_results_round_trip_through_the_model(tmp_path: Path) -> None:
    results = parse_results(json.dumps(format1_document([0.25, 1.0])))
    path = write_results(results, tmp_path / "run")
    assert path == tmp_path / "run" / "results.json"
    back = read_results(tmp_path / "run")  # a folder or the file itself
    assert _canonical(back.model_dump(mode="json")) == _canonical(results.model_dump(mode="json"))
    assert path.read_text(encoding="utf-8") == dump_results(back)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data)[:1] == ["format_version"] and list(data)[-1] == "runs"
    for key in ("label", "config", "aggregates", "rows"):
        assert _canonical(data[key]) == _canonical(data["runs"][0][key])


def test_rows_written_by_the_runner_hold_only_what_applies() -> None:
    row = QuestionRow(id="q", question="Why?")
    row.recall_at_1 = 0.0
    row.citation_precision = None
    assert row.model_dump(mode="json", by_alias=True) == {
        "kind": "question",
        "id": "q",
        "question": "Why?",
        "recall@1": 0.0,
        "citation_precision": None,
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.update(format_version=RESULTS_FORMAT_VERSION + 1), "upgrade newsdesk"),
        (lambda d: d.update(format_version="2"), "format_version must be a positive integer"),
        (lambda d: d.update(aggregates={"f1": 0.1}), "top-level 'aggregates' differs"),
        (lambda d: d.pop("runs"), "runs: Field required"),
        (lambda d: d["runs"][0]["rows"][0].update(f1="high"), "runs.0.rows.0.question.f1"),
        (lambda d: d["runs"][0]["rows"][0].update(typo=1), "runs.0.rows.0.question.typo"),
        (lambda d: d["runs"][0]["rows"][0].update(kind="poem"), "runs.0.rows.0"),
    ],
)
def test_documents_that_are_not_results_are_refused(change: Any, reason: str) -> None:
    data = format1_document([1.0])
    change(data)
    with pytest.raises(
        ResultsError, match=r"prev\.json: not a newsdesk results document"
    ) as caught:
        parse_results(json.dumps(data), "prev.json")
    assert reason in str(caught.value)


def test_unreadable_results_files(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match=r"no results\.json"):
        read_results(tmp_path)
    (tmp_path / "results.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ResultsError, match="not JSON"):
        read_results(tmp_path)
    with pytest.raises(ResultsError, match="not a JSON object"):
        parse_results("[1, 2]")
    minimal: dict[str, Any] = {"rows": [], "aggregates": {}}  # not what any version wrote
    with pytest.raises(ResultsError, match="suite: Field required"):
        parse_results(json.dumps(minimal))


def test_compare_against_a_format1_results_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`newsdesk eval … --compare PREV` where PREV was written by the previous format. The run
    itself is replaced by a fixed results document (no model is loaded): this test is about the
    file and the comparison, the slow end-to-end test runs the suite for real."""
    previous = tmp_path / "previous"
    previous.mkdir()
    (previous / "results.json").write_text(
        json.dumps(format1_document([1.0, 1.0, 0.5, 1.0] * 5), indent=1), encoding="utf-8"
    )
    current = parse_results(json.dumps(format1_document([0.5, 0.5, 0.0, 0.5] * 5)))
    calls: list[int] = []

    def fake_run_suite(*args: Any, **kwargs: Any) -> EvalResults:
        calls.append(1)
        return current

    # eval_cli imports the runner when the command runs: replace it where it lives.
    monkeypatch.setattr("newsdesk.evals.runner.run_suite", fake_run_suite)
    base = ["eval", str(TINY), "--backend", "extractive", "--compare", str(previous)]
    gated = runner.invoke(app, [*base, "--out", str(tmp_path / "run1"), "--fail-on", "f1:0.1"])
    assert gated.exit_code == 1, gated.output
    assert "f1 regressed: 0.8750 → 0.3750" in gated.output
    report = (tmp_path / "run1" / "report.md").read_text(encoding="utf-8")
    assert "## Compared with the previous run" in report and "## Regressions" in report
    assert "| `f1`  | 0.8750 | 0.3750 | -0.5000 |" in report
    written = read_results(tmp_path / "run1")
    assert written.format_version == RESULTS_FORMAT_VERSION
    # The run just written can itself be the previous run of the next one.
    tolerated = runner.invoke(
        app,
        [*base[:-1], str(tmp_path / "run1"), "--out", str(tmp_path / "run2"),
         "--fail-on", "f1:0", "--fail-on", "recall@1:0"],
    )  # fmt: skip
    assert tolerated.exit_code == 0, tolerated.output
    assert len(calls) == 2

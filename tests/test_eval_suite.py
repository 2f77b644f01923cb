"""The suite format, the importers on tiny fixtures, and one tiny suite run end to end through
the CLI (extractive backend, real embedding model, real indexes), including --compare and the
--fail-on exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from typer.testing import CliRunner

from newsdesk.api.cli import app
from newsdesk.evals.aggregate import aggregate_rows
from newsdesk.evals.importers import import_beir, import_cnndm, import_squad
from newsdesk.evals.results import ResultRow, read_results
from newsdesk.evals.suite import SuiteError, load_suite, write_articles, write_suite

from .support.samples import ROOT

DATA = ROOT / "tests" / "data" / "evals"
TINY = DATA / "tiny-suite.yaml"
runner = CliRunner()


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


ARTICLE = {"id": "a1", "title": "T", "text": "Some text."}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"articles": [ARTICLE], "questions": [{"id": "q", "question": "x?"}]}, "name"),
        ({"name": "s", "articles": [ARTICLE]}, "needs questions or summaries"),
        (
            {
                "name": "s",
                "questions": [{"id": "q", "question": "x?"}, {"id": "q", "question": "y"}],
            },
            "duplicate question ids: q",
        ),
        (
            {"name": "s", "questions": [{"id": "q", "question": "x?", "gold_article_ids": ["zz"]}]},
            "unknown gold article zz",
        ),
        (
            {
                "name": "s",
                "questions": [{"id": "q", "question": "x", "answers": ["a"], "unanswerable": True}],
            },
            "unanswerable question cannot have answers",
        ),
        ({"name": "s", "questions": [{"id": "q"}]}, "questions.0.question"),
        (
            {"name": "s", "questions": [], "summaries": [{"id": "s", "article_id": "nope"}]},
            "unknown article nope",
        ),
        ({"name": "s", "questions": [{"id": "q", "question": "x", "typo": 1}]}, "questions.0.typo"),
        (
            {
                "name": "s",
                "articles": [{"id": "bad id!", "text": "x"}],
                "questions": [{"id": "q", "question": "x"}],
            },
            "articles.0.id",
        ),
    ],
)
def test_invalid_suites_say_why(tmp_path: Path, data: dict[str, object], reason: str) -> None:
    with pytest.raises(SuiteError) as caught:
        load_suite(_write(tmp_path / "suite.json", data))
    assert reason in str(caught.value)
    assert "suite.json" in str(caught.value)


def test_unreadable_suites(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no such suite file"):
        load_suite(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SuiteError, match="cannot parse"):
        load_suite(tmp_path / "broken.json")
    (tmp_path / "suite.txt").write_text("{}", encoding="utf-8")
    with pytest.raises(SuiteError, match=r"\.json, \.yaml"):
        load_suite(tmp_path / "suite.txt")
    _write(tmp_path / "list.json", [1, 2])
    with pytest.raises(SuiteError, match="must be an object"):
        load_suite(tmp_path / "list.json")


def test_yaml_suite_and_external_articles_file(tmp_path: Path) -> None:
    suite = load_suite(TINY)
    assert [q.id for q in suite.questions] == ["cost", "coach", "mars", "road", "library-hours"]
    assert suite.questions[2].unanswerable and not suite.questions[2].answers
    assert not suite.questions[4].asks_for_answer and suite.questions[4].has_retrieval_gold
    assert suite.summaries[0].model_summaries[1].human_factuality == 0.0

    write_articles(suite.articles, tmp_path / "corpus" / "articles.jsonl.gz")
    external = suite.model_copy(
        update={"articles": [], "articles_file": "corpus/articles.jsonl.gz"}
    )
    write_suite(external, tmp_path / "suite.json.gz")
    again = load_suite(tmp_path / "suite.json.gz")
    assert [a.id for a in again.articles] == [a.id for a in suite.articles]
    assert again.articles[0].text == suite.articles[0].text
    assert again.questions == suite.questions


def test_import_squad() -> None:
    suite = import_squad(DATA / "squad.json")
    assert [a.id for a in suite.articles] == ["Harbour_town-p0", "Harbour_town-p1", "Mill-p0"]
    assert suite.articles[0].title == "Harbour town"
    by_id = {q.id: q for q in suite.questions}
    assert by_id["q1"].answers == ["1931", "in 1931"]  # duplicates of the crowd removed
    assert by_id["q1"].gold_article_ids == ["Harbour_town-p0"]
    assert by_id["q2"].unanswerable and by_id["q2"].gold_article_ids == []
    assert by_id["q4"].gold_article_ids == ["Mill-p0"]
    sample = import_squad(DATA / "squad.json", limit=2, seed=3)
    assert len(sample.questions) == 2 and len(sample.articles) == 3  # corpus kept whole
    assert sample.questions == import_squad(DATA / "squad.json", limit=2, seed=3).questions


def test_import_beir_reads_only_the_query_text() -> None:
    suite = import_beir(DATA / "beir")
    assert [a.id for a in suite.articles] == ["d1", "d2", "d3"]  # the empty doc is skipped
    assert [q.id for q in suite.questions] == ["1", "2"]  # query 3 has no qrels
    assert suite.questions[0].question == "Vitamin D improves bone density."
    assert suite.questions[1].gold_article_ids == ["d2"]  # score 0 is not relevant
    assert not any(q.answers or q.unanswerable for q in suite.questions)


def test_import_cnndm() -> None:
    suite = import_cnndm(DATA / "cnndm.jsonl")
    assert suite.summaries[0].id == "story-1"
    assert len(suite.summaries[1].id) == 40  # no id: the SHA-1 of the article text
    first = suite.summaries[0]
    assert first.reference is not None and first.reference.startswith("Council approves")
    assert [m.human_factuality for m in first.model_summaries] == [1.0, 0.0, None]
    assert len(import_cnndm(DATA / "cnndm.jsonl", limit=1).summaries) == 1


def test_import_cli(tmp_path: Path) -> None:
    out = tmp_path / "suite.yaml"
    result = runner.invoke(
        app,
        ["eval", "import", "squad", str(DATA / "squad.json"), "--out", str(out), "--limit", "3"],
    )
    assert result.exit_code == 0, result.output
    assert len(load_suite(out).questions) == 3
    result = runner.invoke(
        app,
        ["eval", "import", "beir", str(DATA / "beir"), "--out", str(tmp_path / "b.json"),
         "--articles-out", str(tmp_path / "data" / "corpus.jsonl.gz")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(load_suite(tmp_path / "b.json").articles) == 3
    bad = runner.invoke(app, ["eval", "import", "msmarco", str(DATA), "--out", str(out)])
    assert bad.exit_code == 1 and "unknown format" in bad.output
    wrong = runner.invoke(
        app, ["eval", "import", "squad", str(DATA / "cnndm.jsonl"), "--out", str(out)]
    )
    assert wrong.exit_code == 1 and "not SQuAD-style" in wrong.output


def test_run_cli_rejects_bad_input(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    missing = runner.invoke(app, ["eval", str(tmp_path / "nope.yaml"), "--out", out])
    assert missing.exit_code == 1 and "no such suite file" in missing.output
    gate = runner.invoke(app, ["eval", str(TINY), "--out", out, "--fail-on", "f1:0.1"])
    assert gate.exit_code == 1 and "needs --compare" in gate.output
    backend = runner.invoke(app, ["eval", str(TINY), "--out", out, "--backend", "gpt9"])
    assert backend.exit_code == 1 and "unknown backend" in backend.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_tiny_suite_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_data = tmp_path / "user-data"
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(user_data))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run1"
    result = runner.invoke(
        app, ["eval", str(TINY), "--out", str(out), "--backend", "extractive", "--top-k", "3"]
    )
    assert result.exit_code == 0, result.output
    assert not user_data.exists()  # the suite ran in its own directory

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    aggregates = results["aggregates"]
    for name in (
        "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "exact_match", "f1",
        "answer_containment", "abstention_precision", "abstention_recall", "citation_recall",
        "citation_precision", "faithfulness", "lead3_rouge1", "lead3_rouge2", "lead3_rougeL",
        "latency_p50_ms", "latency_p95_ms", "checker_auc", "checker_spearman", "rouge1",
        "rouge2", "rougeL", "summary_faithfulness",
    ):  # fmt: skip
        assert name in aggregates, name
    assert results["config"] == {"backend": "extractive", "retrieval": "hybrid", "top_k": 3}
    assert results["settings"]["default_top_k"] == 3 if "settings" in results else True
    rows = {(r["kind"], r["id"]): r for r in results["rows"]}
    assert len([k for k in rows if k[0] == "question"]) == 5
    assert len([k for k in rows if k[0] == "checker"]) == 3
    # Five tiny distinct articles: every question's gold article ranks first.
    assert aggregates["recall@1"] == 1.0 and aggregates["ndcg@10"] == 1.0
    assert rows[("question", "road")]["ranked"][0] == "gold:0"
    assert "prediction" not in rows[("question", "library-hours")]  # retrieval only
    # The extractive answer quotes the article: the gold string is in it.
    assert rows[("question", "cost")]["answer_containment"] == 1.0
    assert rows[("question", "mars")]["abstained"] is True
    # Aggregates are exactly what the rows give; the file reads back as the typed document.
    assert aggregate_rows(read_results(out).first.rows) == aggregates
    # The checker scores the fabricated summary lowest.
    checker = {k[1]: r["checker_min"] for k, r in rows.items() if k[0] == "checker"}
    assert checker["bridge-summary/bad"] < checker["bridge-summary/good"]
    assert aggregates["lead3_rouge1"] > 0.3

    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| `recall@1` | 1.0000 |" in report
    assert (out / "score_distributions.png").stat().st_size > 1000
    assert (out / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A previous run that was better on f1 by 0.5, in the format written before results
    # carried a format_version: gated at 0.1 → exit 1, at 0.9 → exit 0.
    previous = tmp_path / "previous"
    previous.mkdir()
    old = json.loads((out / "results.json").read_text(encoding="utf-8"))
    del old["format_version"]
    for run in old["runs"]:
        for row in run["rows"]:
            if "f1" in row:
                row["f1"] = min(1.0, row["f1"] + 0.5)
        run["aggregates"] = aggregate_rows(
            TypeAdapter(list[ResultRow]).validate_python(run["rows"])
        )
    old |= {key: old["runs"][0][key] for key in ("label", "config", "aggregates", "rows")}
    (previous / "results.json").write_text(json.dumps(old), encoding="utf-8")
    base = ["eval", str(TINY), "--out", str(tmp_path / "run2"), "--backend", "extractive",
            "--top-k", "3", "--compare", str(previous)]  # fmt: skip
    gated = runner.invoke(app, [*base, "--fail-on", "f1:0.1"])
    assert gated.exit_code == 1, gated.output
    assert "f1 regressed" in gated.output
    report = (tmp_path / "run2" / "report.md").read_text(encoding="utf-8")
    assert "## Compared with the previous run" in report and "## Regressions" in report
    tolerated = runner.invoke(app, [*base, "--fail-on", "f1:0.9", "--fail-on", "recall@1:0"])
    assert tolerated.exit_code == 0, tolerated.output

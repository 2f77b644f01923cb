"""The local models side by side, one model at a time, on the same items of the shipped suites.

    NEWSDESK_LLM_TIMEOUT_SECONDS=300 nice -n 10 python bench/local_models.py \\
        [--models gemma3-270m,smollm2-135m,qwen2.5-coder-0.5b,qwen2.5-coder-1.5b,extractive] \\
        [--squad 30] [--summaries 10] [--news-split test] [--news N] \\
        [--work-dir /tmp/newsdesk-models] \\
        [--out results.json]

For each model (NEWSDESK_LOCAL_MODEL; `extractive` is the no-LLM baseline):
- squad2-dev-qa, first `--squad` questions: answer containment, F1, abstention precision and
  recall, citation recall by the service checker and by the lexical-entailment proxy, latency;
- news-summarisation, first `--summaries` items: ROUGE (`medium`) next to Lead-3's;
- the news QA set (evals/suites/news-qa-samples.json, split `--news-split`) over the sample
  articles: answerable questions answered (and containing a gold span), unanswerable ones
  declined, and the time to first token of the streamed answers.
Each model's server is started once per part and stopped before the next model starts. The
collections live in `--work-dir` (kept: a re-run skips ingestion and the joining of model
files). Prints one table; writes every figure to `--out`."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from newsdesk.container import Newsdesk, build_embedder
from newsdesk.embedding import Embedder
from newsdesk.evals import news_qa
from newsdesk.evals.metrics import percentile
from newsdesk.evals.results import RunConfig
from newsdesk.evals.runner import run_suite
from newsdesk.evals.suite import load_suite, read_articles
from newsdesk.generation.answer import AnswerEvent
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SUITES = ROOT / "evals" / "suites"
MODELS = "gemma3-270m,smollm2-135m,qwen2.5-coder-0.5b,qwen2.5-coder-1.5b,extractive"
SQUAD_KEYS = (
    "answer_containment",
    "exact_match",
    "f1",
    "abstention_precision",
    "abstention_recall",
    "citation_recall",
    "citation_recall_lexical",
    "citation_precision_lexical",
    "answer_words",
    "degraded_share",
    "latency_p50_ms",
    "latency_p95_ms",
)
SUMMARY_KEYS = (
    "rouge1",
    "rouge2",
    "rougeL",
    "lead3_rouge1",
    "lead3_rouge2",
    "lead3_rougeL",
    "summary_faithfulness",
    "degraded_share",
    "latency_summary_p50_ms",
    "latency_summary_p95_ms",
)


def _suite_run(name: str, limit: int, backend: str, work: Path, embedder: Embedder) -> dict:
    suite = load_suite(SUITES / name).limited(limit)
    results = run_suite(suite, [RunConfig(backend=backend)], embedder=embedder, data_dir=work)  # type: ignore[arg-type]
    return dict(results.first.aggregates)


def _news_qa(
    split: str, limit: int | None, backend: str, work: Path, embedder: Embedder
) -> dict[str, Any]:
    suite = news_qa.load()
    questions = [q for q in suite.questions if split == "all" or q.split == split][:limit]
    settings = Settings(data_dir=work / "data", backend=backend)  # type: ignore[arg-type]
    outcomes, first_tokens, totals, degraded = [], [], [], 0
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(read_articles(ROOT / suite.articles))
        started = time.perf_counter()
        answerer = desk.answerer()  # starts (and for a new model, joins) the local model
        startup = time.perf_counter() - started
        for item in questions:
            answer = None
            for event in answerer.stream(item.question, top_k=5):
                if isinstance(event, AnswerEvent):
                    answer = event.answer
            assert answer is not None
            degraded += answer.degraded
            if answer.timings.first_token_ms is not None:
                first_tokens.append(answer.timings.first_token_ms)
            totals.append(answer.timings.total_ms)
            outcomes.append(news_qa.outcome(item, answer))
    scores = news_qa.score(outcomes)
    return {
        "questions": len(questions),
        "answerable": scores.answerable,
        "answered_rate": scores.answered_rate,
        "gold_rate": scores.gold_rate,
        "unanswerable": scores.unanswerable,
        "declined_rate": scores.declined_rate,
        "degraded": degraded,
        "startup_s": round(startup, 1),
        "first_token_p50_ms": percentile(first_tokens, 50),
        "first_token_p95_ms": percentile(first_tokens, 95),
        "latency_p50_ms": percentile(totals, 50),
        "latency_p95_ms": percentile(totals, 95),
        "answers": [
            {"question": o.question.question, "abstained": o.abstained, "answer": o.answer}
            for o in outcomes
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--squad", type=int, default=30, help="First N squad2-dev-qa questions.")
    parser.add_argument("--summaries", type=int, default=10, help="First N summary items.")
    parser.add_argument("--news-split", choices=["tune", "test", "all"], default="test")
    parser.add_argument("--news", type=int, default=None, help="First N news QA questions.")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/newsdesk-models"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    embedder = build_embedder(Settings())
    # One joined copy of each model file for the three collections.
    shared = args.work_dir / "models"
    shared.mkdir(parents=True, exist_ok=True)
    for part in ("news", "squad", "sum"):
        (args.work_dir / part / "data").mkdir(parents=True, exist_ok=True)
        link = args.work_dir / part / "data" / "models"
        if not link.exists():
            link.symlink_to(shared, target_is_directory=True)
    report: dict[str, dict[str, Any]] = {}
    for name in args.models.split(","):
        backend = "extractive" if name == "extractive" else "local"
        if backend == "local":
            os.environ["NEWSDESK_LOCAL_MODEL"] = name  # read by every Settings() of the run
        print(f"== {name}", flush=True)
        row: dict[str, Any] = report.setdefault(name, {})
        row["news_qa"] = _news_qa(
            args.news_split, args.news, backend, args.work_dir / "news", embedder
        )
        print(json.dumps({k: v for k, v in row["news_qa"].items() if k != "answers"}), flush=True)
        _save(args.out, report)
        if args.squad:
            row["squad"] = _suite_run(
                "squad2-dev-qa.json", args.squad, backend, args.work_dir / "squad", embedder
            )
            print(json.dumps({k: row["squad"].get(k) for k in SQUAD_KEYS}), flush=True)
            _save(args.out, report)
        if args.summaries:
            row["summaries"] = _suite_run(
                "news-summarisation.json.gz",
                args.summaries,
                backend,
                args.work_dir / "sum",
                embedder,
            )
            print(json.dumps({k: row["summaries"].get(k) for k in SUMMARY_KEYS}), flush=True)
            _save(args.out, report)
    _print_table(report)


def _save(path: Path | None, report: dict[str, Any]) -> None:
    """After every part: a long run stopped early keeps what it measured."""
    if path is not None:
        path.write_text(json.dumps(report, indent=2), encoding="utf-8")


def _cell(value: Any, percent: bool = False) -> str:
    if value is None:
        return "–"
    if percent:
        return f"{value:.1%}"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3f}"


def _print_table(report: dict[str, dict[str, Any]]) -> None:
    rows = [
        ("squad answer_containment", "squad", "answer_containment", False),
        ("squad f1", "squad", "f1", False),
        ("squad abstention precision", "squad", "abstention_precision", False),
        ("squad abstention recall", "squad", "abstention_recall", False),
        ("squad citation recall (checker)", "squad", "citation_recall", False),
        ("squad citation recall (lexical)", "squad", "citation_recall_lexical", False),
        ("squad degraded share", "squad", "degraded_share", False),
        ("squad latency p50 ms", "squad", "latency_p50_ms", False),
        ("squad latency p95 ms", "squad", "latency_p95_ms", False),
        ("summary ROUGE-1", "summaries", "rouge1", False),
        ("summary ROUGE-2", "summaries", "rouge2", False),
        ("summary ROUGE-L", "summaries", "rougeL", False),
        ("Lead-3 ROUGE-1", "summaries", "lead3_rouge1", False),
        ("summary degraded share", "summaries", "degraded_share", False),
        ("summary latency p50 ms", "summaries", "latency_summary_p50_ms", False),
        ("summary latency p95 ms", "summaries", "latency_summary_p95_ms", False),
        ("news QA answerable answered", "news_qa", "answered_rate", True),
        ("news QA gold in answer", "news_qa", "gold_rate", True),
        ("news QA unanswerable declined", "news_qa", "declined_rate", True),
        ("news QA degraded answers", "news_qa", "degraded", False),
        ("news QA first token p50 ms", "news_qa", "first_token_p50_ms", False),
        ("news QA first token p95 ms", "news_qa", "first_token_p95_ms", False),
        ("news QA latency p50 ms", "news_qa", "latency_p50_ms", False),
        ("news QA latency p95 ms", "news_qa", "latency_p95_ms", False),
        ("server start s", "news_qa", "startup_s", False),
    ]
    names = list(report)
    print("\n| metric | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for label, part, key, percent in rows:
        cells = [_cell(report[n].get(part, {}).get(key), percent) for n in names]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""The LLM story judge (NEWSDESK_STORY_GATE_JUDGE) on the story check's declines: does the
model tell the questions the story answers from those it does not?

    NEWSDESK_LOCAL_MODEL=qwen2.5-coder-1.5b PYTHONPATH=$PWD .venv/bin/python \\
        bench/story_judge.py --split holdout10,holdout11,holdout12

Every question of the splits is asked of the whole collection as bench/news_abstention.py
asks it (top_k 5); for each one the story check would decline ("the articles never
mention …"), the judge (generation/story_judge.py) is asked through the local llama.cpp
server of NEWSDESK_LOCAL_MODEL, exactly as the Answerer asks it. Reported: the ROC AUC of its
log-odds (answerable against not), and how many of each it clears at several thresholds —
what the judge would add to the answered questions and take from the declined ones, before
the other checks (which may still decline a cleared question)."""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from newsdesk.container import Newsdesk, build_embedder
from newsdesk.evals import news_qa
from newsdesk.generation.budgets import passages_within
from newsdesk.generation.extractive import unmentioned
from newsdesk.generation.story_judge import StoryJudge
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", required=True, help="splits, joined by commas")
    parser.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args()
    splits = [s.strip() for s in args.split.split(",") if s.strip()]
    suite = news_qa.load()
    articles = news_qa.load_articles(suite, ROOT)
    questions = [q for q in suite.questions if q.split in splits]
    kwargs = {"backend": "local", "_env_file": None}
    embedder = build_embedder(Settings(**kwargs))  # type: ignore[arg-type]
    judged: list[tuple[bool, float | None, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", **kwargs)  # type: ignore[arg-type]
        with Newsdesk.open(settings, embedder=embedder) as desk:
            desk.ingestor.ingest(articles)
            answerer = desk.answerer()
            assert answerer.chat_model is not None
            judge = StoryJudge(
                answerer.chat_model,
                min_log_odds=settings.story_gate_judge_min_log_odds,
                timeout=settings.llm_timeout_seconds,
            )
            print(f"model {settings.local_model}; {len(questions)} questions of {splits}")
            for item in questions:
                scope = answerer.scope(item.question, None, None)
                request = answerer.searcher.request(
                    item.question, args.top_k, scope.filters, recency=scope.recency
                )
                found = answerer.searcher.run(request)
                passages = passages_within(found, settings.max_answer_context_chars)
                asked = scope.content_question(item.question)
                if not passages or not unmentioned(asked, passages):
                    continue
                started = time.perf_counter()
                verdict = judge.judge(asked, passages)
                seconds = time.perf_counter() - started
                judged.append((item.answerable, verdict.log_odds, seconds))
    report(judged)


def report(judged: list[tuple[bool, float | None, float]]) -> None:
    scores = [(answerable, -math.inf if odds is None else odds) for answerable, odds, _ in judged]
    pos = [s for a, s in scores if a]
    neg = [s for a, s in scores if not a]
    print(f"the story check declines {len(judged)}: {len(pos)} answerable, {len(neg)} not")
    if pos and neg:
        wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
        print(f"ROC AUC of the judge's log-odds: {wins / (len(pos) * len(neg)):.3f}")
    seconds = sorted(s for _, _, s in judged)
    if seconds:
        print(f"seconds per call: p50 {seconds[len(seconds) // 2]:.1f}, max {seconds[-1]:.1f}")
    print("| log-odds >= | answerable cleared | unanswerable cleared |\n|---:|---:|---:|")
    for t in THRESHOLDS:
        print(
            f"| {t:.1f} | {sum(s >= t for s in pos)} of {len(pos)} | "
            f"{sum(s >= t for s in neg)} of {len(neg)} |"
        )


if __name__ == "__main__":
    main()

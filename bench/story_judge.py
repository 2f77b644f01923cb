"""The LLM story judge (NEWSDESK_STORY_GATE_JUDGE) on the story check's declines: does the
model tell the questions the story answers from those it does not?

    NEWSDESK_LOCAL_MODEL=qwen2.5-coder-1.5b PYTHONPATH=$PWD .venv/bin/python \\
        bench/story_judge.py --split holdout10,holdout11,holdout12

Every question of the splits is asked of the whole collection as bench/news_abstention.py
asks it (top_k 5); for each one the story check would decline ("the articles never
mention …"), the judge (generation/story_judge.py) is asked through the local llama.cpp
server of NEWSDESK_LOCAL_MODEL, exactly as the Answerer asks it. Reported: the ROC AUC of its
log-odds (answerable against not), and how many of each it clears at several thresholds, and
of those how many the extractive rules then answer (the other checks still apply: the local
backend's `auto` decision), and with the gold span — per split and pooled."""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from newsdesk.container import Newsdesk, build_embedder
from newsdesk.evals import news_qa
from newsdesk.generation.budgets import passages_within
from newsdesk.generation.extractive import unmentioned
from newsdesk.generation.story_judge import StoryJudge
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = (-1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5)


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
    judged: list[Judged] = []
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
                sentences = answerer.extractive.answer(asked, passages, story_cleared=True)
                gold = news_qa.holds_gold(item, " ".join(sentences))
                odds = -math.inf if verdict.log_odds is None else verdict.log_odds
                judged.append(
                    Judged(item.split, item.answerable, odds, seconds, bool(sentences), gold)
                )
    for split in splits:
        report(split, [j for j in judged if j.split == split])
    if len(splits) > 1:
        report("pooled", judged)


@dataclass(frozen=True)
class Judged:
    split: str
    answerable: bool
    log_odds: float  # -inf: no "yes" among the likely replies
    seconds: float
    rules_answer: bool  # the rules answer once the story check is cleared
    gold: bool  # and their answer holds a gold span


def report(name: str, judged: list[Judged]) -> None:
    pos = [j for j in judged if j.answerable]
    neg = [j for j in judged if not j.answerable]
    print(
        f"\n{name}: the story check declines {len(judged)}: {len(pos)} answerable, {len(neg)} not"
    )
    if pos and neg:
        wins = sum(
            (p.log_odds > n.log_odds) + 0.5 * (p.log_odds == n.log_odds) for p in pos for n in neg
        )
        print(f"ROC AUC of the judge's log-odds: {wins / (len(pos) * len(neg)):.3f}")
    seconds = sorted(j.seconds for j in judged)
    if seconds:
        print(f"seconds per call: p50 {seconds[len(seconds) // 2]:.1f}, max {seconds[-1]:.1f}")
    print(
        "| log-odds >= | answerable cleared | then answered by the rules (gold) "
        "| unanswerable cleared | then answered by the rules |\n|---:|---:|---:|---:|---:|"
    )
    for t in THRESHOLDS:
        cleared_pos = [j for j in pos if j.log_odds >= t]
        cleared_neg = [j for j in neg if j.log_odds >= t]
        answered = [j for j in cleared_pos if j.rules_answer]
        print(
            f"| {t:.1f} | {len(cleared_pos)} of {len(pos)} | {len(answered)} "
            f"({sum(j.gold for j in answered)}) | {len(cleared_neg)} of {len(neg)} | "
            f"{sum(j.rules_answer for j in cleared_neg)} |"
        )


if __name__ == "__main__":
    main()

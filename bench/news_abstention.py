"""Answering what the story answers, declining what it does not: the news QA set
(evals/suites/news-qa-samples.json) asked against the sample articles.

    python bench/news_abstention.py [--split tune|test|holdout|…|holdout16[,…]|spent|all]
        [--backend extractive|local] [--answerability rules|learned|hybrid] [-v]

All sample articles and the set's articles from another suite (holdout2's to holdout16's) are
ingested; each question is asked of the whole collection (top_k=5), as a user would. Reports,
per split, the share of answerable questions answered (and whose answer contains a gold span)
and the share of unanswerable ones declined. `-v` lists the misses, except holdout16's: it is
held out, reported as totals only (`--list-held-out` once it has been run for the last time;
holdout4 to holdout15 are spent, their misses are listed). `--split` takes one split, several
joined by commas (with a pooled row), `spent` (every split but the held-out one, the default)
or `all` (the held-out one too: that is its run)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from scipy.stats import binomtest

from newsdesk.container import Newsdesk, build_embedder
from newsdesk.evals import news_qa
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", type=_splits, default="spent")
    parser.add_argument("--backend", choices=["extractive", "local"], default="extractive")
    parser.add_argument(
        "--answerability",
        choices=["rules", "learned", "hybrid"],
        default=None,
        help="The extractive decision (default: the setting, NEWSDESK_EXTRACTIVE_ANSWERABILITY).",
    )
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("-v", "--verbose", action="store_true", help="List the misses.")
    parser.add_argument(
        "--list-held-out", action="store_true", help=f"-v lists {HELD_OUT}'s misses too."
    )
    args = parser.parse_args()

    suite = news_qa.load()
    articles = news_qa.load_articles(suite, ROOT)
    splits: list[str] = args.split
    questions = [q for q in suite.questions if q.split in splits]

    settings_kwargs = {"backend": args.backend, "_env_file": None}
    if args.answerability:
        settings_kwargs["extractive_answerability"] = args.answerability
    embedder = build_embedder(Settings(**settings_kwargs))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", **settings_kwargs)
        with Newsdesk.open(settings, embedder=embedder) as desk:
            desk.ingestor.ingest(articles)
            outcomes = news_qa.ask_all(desk.answerer(), questions, top_k=args.top_k)

    decides = (
        f"llm_answerability {settings.llm_answerability}, " if args.backend != "extractive" else ""
    )
    print(
        f"backend {args.backend} ({decides}{settings.extractive_answerability}); "
        f"{len(articles)} articles; top_k {args.top_k}"
    )
    # A split holds about 30 questions of each kind: one question moves a rate by 3 points,
    # so each rate comes with its 95 % Wilson interval.
    print(
        "split     answerable answered (95% CI)     gold-in-answer  unanswerable declined (95% CI)"
    )
    for split in splits:
        print(_row(split, news_qa.score([o for o in outcomes if o.question.split == split])))
    if len(splits) > 1:
        print(_row("pooled", news_qa.score(outcomes)))
    if args.verbose:
        for o in outcomes:
            if o.question.split == HELD_OUT and not args.list_held_out:
                continue
            wrong = o.abstained if o.question.answerable else not o.abstained
            if wrong or (o.question.answerable and not o.contains_gold):
                what = "DECLINED" if o.abstained else "ANSWERED"
                print(f"\n[{o.question.split}] {what} {o.question.question}\n   → {o.answer}")


HELD_OUT = "holdout16"  # written blind, not yet run: only `all` or its name asks it


def _splits(value: str) -> list[str]:
    if value == "all":
        return list(news_qa.SPLITS)
    if value == "spent":
        return [s for s in news_qa.SPLITS if s != HELD_OUT]
    names = [v.strip() for v in value.split(",") if v.strip()]
    if unknown := [n for n in names if n not in news_qa.SPLITS]:
        raise argparse.ArgumentTypeError(
            f"unknown split(s) {unknown}; the splits are {', '.join(news_qa.SPLITS)}, spent, all"
        )
    return names


def _row(name: str, s: news_qa.Scores) -> str:
    return (
        f"{name:9} {s.answerable:10d} {s.answered_rate:6.1%} {_interval(s.answered, s.answerable)}"
        f"  {s.gold_rate:14.1%}  {s.unanswerable:12d} {s.declined_rate:6.1%} "
        f"{_interval(s.declined, s.unanswerable)}"
    )


def _interval(successes: int, trials: int) -> str:
    if not trials:
        return " " * 15
    ci = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    return f"({ci.low:5.1%}–{ci.high:5.1%})"


if __name__ == "__main__":
    main()

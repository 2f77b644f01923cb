"""Abstention of the extractive backend on SQuAD 2.0 dev questions: answerable questions should
be answered (and contain the gold answer), unanswerable ones — written to sound answerable from
the same paragraph — should get "the articles don't say".

    python bench/squad_abstention.py [--squad PATH] [--articles 3] [--first 0] [--questions 300]
        [--answerability rules|learned|hybrid]

Every paragraph of N articles (from article `--first` on) is ingested as an article; questions
are a seeded sample, half answerable, half not. Rules are tuned with `--first 3`; the default
articles (0-2) are for reporting. A measurement script for tuning, until the evaluation-suite
issue makes this a standing suite."""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
from pathlib import Path
from typing import Any

from newsdesk.container import Newsdesk, build_embedder
from newsdesk.domain import ArticleInput
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
_SQUAD = Path("shared") / "evaldata" / "squad2-dev-qa" / "squad2_dev_shared.json"
# shared/ sits beside the checkout; a worktree (/work/wt/NAME) is one level further down.
DEFAULT_SQUAD = next(
    (p / _SQUAD for p in ROOT.parents if (p / _SQUAD).exists()), ROOT.parent / _SQUAD
)


def _normalise(text: str) -> str:
    text = re.sub(r"\b(a|an|the)\b", " ", text.lower())
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--articles", type=int, default=3)
    parser.add_argument(
        "--first", type=int, default=0, help="Index of the first article (tune on others than 0-2)."
    )
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--min-binding", type=float, default=None, help="Override the extractive binding share."
    )
    parser.add_argument(
        "--answerability",
        choices=["rules", "learned", "hybrid"],
        default=None,
        help="The extractive decision (default: the setting, NEWSDESK_EXTRACTIVE_ANSWERABILITY).",
    )
    args = parser.parse_args()

    data = json.loads(args.squad.read_text())["data"][args.first : args.first + args.articles]
    articles: list[ArticleInput] = []
    answerable: list[dict[str, Any]] = []
    impossible: list[dict[str, Any]] = []
    for article in data:
        for number, paragraph in enumerate(article["paragraphs"]):
            article_id = f"{article['title'][:60]}-{number}"
            articles.append(
                ArticleInput(
                    id=article_id,
                    title=article["title"].replace("_", " "),
                    text=paragraph["context"],
                )
            )
            for qa in paragraph["qas"]:
                (impossible if qa["is_impossible"] else answerable).append(qa)
    rng = random.Random(args.seed)
    half = args.questions // 2
    sample = rng.sample(answerable, min(half, len(answerable))) + rng.sample(
        impossible, min(half, len(impossible))
    )

    settings_kwargs: dict[str, Any] = {"backend": "extractive", "_env_file": None}
    if args.answerability:
        settings_kwargs["extractive_answerability"] = args.answerability
    embedder = build_embedder(Settings(**settings_kwargs))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", **settings_kwargs)
        with Newsdesk.open(settings, embedder=embedder) as desk:
            desk.ingestor.ingest(articles)
            answerer = desk.answerer()
            if args.min_binding is not None:
                answerer.extractive.min_binding = args.min_binding
            outcomes = []
            for qa in sample:
                answer = answerer.ask(qa["question"], top_k=5)
                golds = [_normalise(a["text"]) for a in qa["answers"]]
                contains = any(g and g in _normalise(answer.answer) for g in golds)
                outcomes.append((qa["is_impossible"], answer.abstained, contains))

    abstained_right = sum(1 for imp, abst, _ in outcomes if imp and abst)
    abstained_total = sum(1 for _, abst, _ in outcomes if abst)
    impossible_total = sum(1 for imp, _, _ in outcomes if imp)
    answerable_rows = [(abst, c) for imp, abst, c in outcomes if not imp]
    print(
        f"{len(articles)} paragraphs of {args.articles} articles; {len(outcomes)} questions "
        f"({impossible_total} unanswerable); answerability {settings.extractive_answerability}"
    )
    print(
        f"abstention precision  {abstained_right / abstained_total if abstained_total else 0:.3f}"
    )
    print(
        f"abstention recall     {abstained_right / impossible_total if impossible_total else 0:.3f}"
    )
    print(
        f"answered (answerable) {sum(not a for a, _ in answerable_rows) / len(answerable_rows):.3f}"
    )
    print(f"answer contains gold  {sum(c for _, c in answerable_rows) / len(answerable_rows):.3f}")


if __name__ == "__main__":
    main()

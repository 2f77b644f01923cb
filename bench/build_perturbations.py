"""Build the checker's perturbation set (evals/perturbations.py) from shipped article text.

    .venv/bin/python bench/build_perturbations.py            # writes evals/suites/perturbations.jsonl.gz

Sources: samples/articles.jsonl (Wikinews, CC BY 2.5, and the seed article) and the first
--suite-articles articles of the shipped news-summarisation suite (FRANK CNN/DM + XSum,
research use only, as the suite itself), plus the LLM-style paraphrases of sample sentences
written by hand in evals/suites/paraphrases-by-hand.jsonl (written before the checker was
tuned with them; each names its article and sentence number). Deterministic for a seed.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from newsdesk.evals import perturbations

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT / "samples/articles.jsonl")
    parser.add_argument(
        "--suite", type=Path, default=ROOT / "evals/suites/news-summarisation.json.gz"
    )
    parser.add_argument("--suite-articles", type=int, default=150)
    parser.add_argument(
        "--by-hand", type=Path, default=ROOT / "evals/suites/paraphrases-by-hand.jsonl"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "evals/suites/perturbations.jsonl.gz")
    args = parser.parse_args()
    articles = perturbations.read_articles(args.samples, args.suite, args.suite_articles)
    by_hand = perturbations.read_hand_paraphrases(args.by_hand)
    items = perturbations.build(articles, seed=args.seed, by_hand=by_hand)
    perturbations.write(items, args.out)
    counts = Counter((i.split, i.kind) for i in items)
    print(f"{len(items)} items from {len(articles)} articles → {args.out}")
    for split in ("tune", "test"):
        row = ", ".join(f"{k} {counts[(split, k)]}" for k in perturbations.KINDS)
        print(f"{split}: {row}")


if __name__ == "__main__":
    main()

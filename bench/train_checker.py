"""Fit the support checker's combiner (generation/checker_weights.json) on the tune split.

    .venv/bin/python bench/train_checker.py

Each tune claim is scored against the evidence units of the passage it cites (its sentences
and adjacent pairs, as the citation checker does), the unit the current model supports best
is kept, and a logistic regression is fitted on those feature rows (two rounds, so the unit
choice follows the model). The test split is never read.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
from scratch_embeddings import ScratchEmbeddings
from sklearn.linear_model import LogisticRegression

from newsdesk.container import build_embedder
from newsdesk.evals import perturbations
from newsdesk.generation.checker_model import FEATURES, WEIGHTS_FILE, CheckerModel, load_model
from newsdesk.generation.citations import _evidence_units
from newsdesk.generation.support import SupportScorer
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def feature_rows(
    scorer: SupportScorer, items: list[perturbations.Item]
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per item, the features against every unit of its passage; and the labels."""
    by_passage: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        by_passage[item.passage].append(index)
    rows: list[np.ndarray] = [np.empty(0)] * len(items)
    for indexes in by_passage.values():
        passage = items[indexes[0]].passage
        units = [u.text for u in _evidence_units([perturbations.as_passage(items[indexes[0]])])]
        # Names count as found anywhere in the cited passage, as when the checker runs.
        claims = [items[i].claim for i in indexes]
        features = scorer.features(claims, units, [passage] * len(units))
        for row, i in enumerate(indexes):
            rows[i] = features[row]
    return rows, np.array([i.supported for i in items])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    parser.add_argument("--embeddings", type=Path, help="scratch file caching the embeddings")
    args = parser.parse_args()
    items = perturbations.load(ROOT / "evals/suites/perturbations.jsonl.gz", "tune")
    cache = ScratchEmbeddings(build_embedder(Settings()), args.embeddings)
    # Embed everything in large batches first: a few texts per call is slow on a busy machine.
    texts = {i.claim for i in items}
    for item in {i.passage: i for i in items}.values():
        texts |= {u.text for u in _evidence_units([perturbations.as_passage(item)])}
    ordered = sorted(texts)
    for start in range(0, len(ordered), 512):
        cache.embed(ordered[start : start + 512])
    cache.save()
    scorer = SupportScorer(cache)
    per_unit, labels = feature_rows(scorer, items)
    model = load_model()
    for _ in range(2):
        chosen = np.stack([rows[int(np.argmax(model.support(rows)))] for rows in per_unit])
        capped = chosen.copy()
        capped[:, 2:] = np.minimum(capped[:, 2:], 2.0)
        fit = LogisticRegression(C=args.c, class_weight="balanced", max_iter=1000)
        fit.fit(capped, labels)
        model = CheckerModel(bias=float(fit.intercept_[0]), weights=fit.coef_[0].astype(float))
    support = model.support(chosen)
    flagged_true = float((support[labels] < 0.5).mean())
    caught = float((support[~labels] < 0.5).mean())
    args.out.write_text(
        model.to_json(
            trained_on=f"tune split of evals/suites/perturbations.jsonl.gz ({len(items)} claims)",
            script="bench/train_checker.py",
            tune_true_flagged=round(flagged_true, 4),
            tune_changed_flagged=round(caught, 4),
        )
        + "\n"
    )
    print(dict(zip(FEATURES, np.round(model.weights, 3), strict=True)), round(model.bias, 3))
    print(f"tune: true flagged {flagged_true:.1%}, changed flagged {caught:.1%} → {args.out}")


if __name__ == "__main__":
    main()

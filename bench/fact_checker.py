"""The support checker on the perturbation set (per kind), on FRANK, and its speed.

    .venv/bin/python bench/fact_checker.py                      # test split, FRANK, timing
    .venv/bin/python bench/fact_checker.py --split tune
    .venv/bin/python bench/fact_checker.py --baseline REV       # the checker as of a git revision

Per kind: the share of claims the checker flags (not supported) when each cites the passage
it came from, and of those the share whose `mismatches` name the changed kind. FRANK: the
`checker_auc` / `lexical_overlap_auc` per dataset exactly as `newsdesk eval news-summarisation`
computes them (evals/runner.py). Speed: answers of 4 sentences checked against 5 passages,
wall clock per sentence, embedding included (cold cache, as for a new question).
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from newsdesk.container import build_embedder
from newsdesk.embedding import CachingEmbedder
from newsdesk.evals import perturbations, runner
from newsdesk.evals.aggregate import aggregate_rows
from newsdesk.evals.suite import load_suite
from newsdesk.generation import citations
from newsdesk.generation.facts import facts
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _baseline_scorer(revision: str) -> type:
    """SupportScorer of generation/support.py at `revision` (explains nothing)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:generation/support.py"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "baseline_support.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_support", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_support"] = module
    spec.loader.exec_module(module)

    class Baseline(module.SupportScorer):  # type: ignore[name-defined,misc]
        def judge(self, claims: list, evidence: list, passages: list | None = None) -> tuple:
            scores = self.score(claims, evidence)
            return scores, scores

        def explain(self, *args: object) -> list:
            return []

    return Baseline


def warm(embedder: CachingEmbedder, items: list[perturbations.Item]) -> None:
    """Embed every claim and evidence unit in large batches first (per-item calls of a few
    texts are slow on a busy machine); the per-kind figures do not depend on it."""
    texts = {i.claim for i in items}
    for item in {i.passage: i for i in items}.values():
        texts |= {u.text for u in citations._evidence_units([perturbations.as_passage(item)])}
    ordered = sorted(texts)
    for start in range(0, len(ordered), 512):
        embedder.embed(ordered[start : start + 512])


def per_kind(checker: citations.CitationChecker, items: list[perturbations.Item]) -> None:
    result = perturbations.evaluate(checker, items)
    print("| kind | items | flagged | flagged with that kind |")
    print("|---|---:|---:|---:|")
    for kind in result.kinds.values():
        share = kind.flagged / kind.items
        right = kind.right_kind / kind.items
        print(f"| {kind.kind} | {kind.items} | {share:.1%} | {right:.1%} |")
    from newsdesk.evals.metrics import roc_auc

    print(
        f"ROC AUC of support, supported vs changed: {roc_auc(result.supports, result.labels):.3f}"
    )


def frank(scorer_class: type, embedder: object) -> None:
    suite = load_suite(ROOT / "evals/suites/news-summarisation.json.gz")
    original = runner.SupportScorer
    runner.SupportScorer = scorer_class  # type: ignore[misc]
    try:
        rows = runner._shared_summary_rows(suite, embedder, Settings(), lambda _m: None)  # type: ignore[arg-type]
    finally:
        runner.SupportScorer = original  # type: ignore[misc]
    metrics = aggregate_rows(rows)
    print("| metric | all | CNN/DM | XSum |")
    print("|---|---:|---:|---:|")
    for name in ("checker_auc", "checker_mean_auc", "lexical_overlap_auc"):
        values = [metrics.get(name), metrics.get(f"{name}[cnndm]"), metrics.get(f"{name}[xsum]")]
        print(
            f"| {name} | " + " | ".join(f"{v:.3f}" if v is not None else "" for v in values) + " |"
        )


def speed(checker_factory, items: list[perturbations.Item], embedder: object) -> None:  # type: ignore[no-untyped-def]
    """Cold: a new embedding cache (every passage sentence embedded, as for a new story);
    warm: the embeddings cached (as when the extractive backend or an earlier question has
    embedded them), fact extraction included — the checker's own cost."""
    rng = random.Random(0)
    by_passage = list({i.passage: i for i in items}.values())
    cold, warm = [], []
    for _ in range(30):
        chosen = rng.sample(by_passage, 5)
        passages = [perturbations.as_passage(item, n) for n, item in enumerate(chosen, 1)]
        claims = [(rng.choice(chosen).claim, [rng.randint(1, 5)]) for _ in range(4)]
        cache = CachingEmbedder(embedder)  # type: ignore[arg-type]
        for times in (cold, warm):
            checker = checker_factory(cache)
            facts.cache_clear()
            started = time.perf_counter()
            checker.check_marked(claims, passages)
            times.append((time.perf_counter() - started) * 1000 / len(claims))
    for label, times in (("cold", cold), ("warm", warm)):
        print(
            f"check ({label} embeddings), 4 sentences x 5 passages: "
            f"{np.median(times):.1f} ms per sentence (median of 30; p90 "
            f"{np.percentile(times, 90):.1f} ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["tune", "test"])
    parser.add_argument("--baseline", metavar="REV", help="measure the checker of a git revision")
    parser.add_argument("--skip-frank", action="store_true")
    args = parser.parse_args()
    embedder = build_embedder(Settings())
    scorer_class = _baseline_scorer(args.baseline) if args.baseline else citations.SupportScorer

    def factory(emb: object) -> citations.CitationChecker:
        checker = citations.CitationChecker(emb)  # type: ignore[arg-type]
        checker.scorer = scorer_class(emb)
        return checker

    items = perturbations.load(ROOT / "evals/suites/perturbations.jsonl.gz", args.split)
    print(f"## perturbations, {args.split} split ({len(items)} claims)")
    cache = CachingEmbedder(embedder, max_items=100_000)
    warm(cache, items)
    per_kind(factory(cache), items)
    speed(factory, items, embedder)
    if not args.skip_frank:
        print("## FRANK (news-summarisation suite)")
        frank(scorer_class, CachingEmbedder(embedder))


if __name__ == "__main__":
    main()

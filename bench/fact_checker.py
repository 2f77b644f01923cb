"""The support checker on the perturbation set (per kind), on FRANK, and its speed.

    .venv/bin/python bench/fact_checker.py                      # test split, FRANK, timing
    .venv/bin/python bench/fact_checker.py --split tune
    .venv/bin/python bench/fact_checker.py --baseline REV       # the checker as of a git revision

Per kind: the share of claims the checker flags (not supported) when each cites the passage
it came from, and of those the share whose `mismatches` name the changed kind. FRANK: the
`checker_auc` / `lexical_overlap_auc` per dataset exactly as `newsdesk eval news-summarisation`
computes them (evals/runner.py), on all of FRANK and on its two halves split by article (see
frank_half: checker choices are looked at on `fit` only). Speed: answers of 4 sentences checked against 5 passages,
wall clock per sentence, with the embeddings cached (warm) and not (cold); with --baseline the
checker of that revision (its whole tree) is timed in alternating child processes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scratch_embeddings import ScratchEmbeddings

from newsdesk.container import build_embedder
from newsdesk.domain import Passage
from newsdesk.embedding import CachingEmbedder, Embedder
from newsdesk.evals import perturbations, runner
from newsdesk.evals.aggregate import aggregate_rows
from newsdesk.evals.suite import load_suite
from newsdesk.generation import citations
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


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
    by_hand = [i for i in items if i.kind == "paraphrase" and i.change.get("how") == "by hand"]
    if by_hand:
        found = perturbations.evaluate(checker, by_hand).kinds["paraphrase"]
        print(f"paraphrases written by hand: {found.flagged} of {found.items} flagged")
    from newsdesk.evals.metrics import roc_auc

    print(
        f"ROC AUC of support, supported vs changed: {roc_auc(result.supports, result.labels):.3f}"
    )


def frank_half(article_id: str) -> str:
    """FRANK split by article into a `fit` half (where checker choices may be looked at) and a
    `report` half (figures only), by a hash of the article id."""
    digest = int(hashlib.sha1(f"frank-half:{article_id}".encode()).hexdigest(), 16)
    return "fit" if digest % 2 == 0 else "report"


def frank(embedder: object) -> None:
    suite = load_suite(ROOT / "evals/suites/news-summarisation.json.gz")
    rows = runner._shared_summary_rows(suite, embedder, Settings(), lambda _m: None)  # type: ignore[arg-type]
    half = {item.id: frank_half(item.article_id) for item in suite.summaries}
    print("| metric | rows | all | CNN/DM | XSum |")
    print("|---|---|---:|---:|---:|")
    for label in ("all", "fit", "report"):
        subset = [r for r in rows if label == "all" or half[r.id.rsplit("/", 1)[0]] == label]
        metrics = aggregate_rows(subset)
        for name in ("checker_auc", "checker_mean_auc", "lexical_overlap_auc"):
            keys = (name, f"{name}[cnndm]", f"{name}[xsum]")
            values = [metrics.get(key) for key in keys]
            cells = " | ".join(f"{v:.3f}" if v is not None else "" for v in values)
            print(f"| {name} | {label} ({len(subset)}) | {cells} |")


Answer = tuple[list[tuple[str, list[int]]], list[Passage]]


def answers(items: list[perturbations.Item], count: int = 30) -> list[Answer]:
    """Answers of 4 sentences citing 5 passages (seeded): claims of the set, each marked with
    a random one of the passages (as a small LLM cites)."""
    rng = random.Random(0)
    by_passage = list({i.passage: i for i in items}.values())
    found: list[Answer] = []
    for _ in range(count):
        chosen = rng.sample(by_passage, 5)
        passages = [perturbations.as_passage(item, n) for n, item in enumerate(chosen, 1)]
        claims = [(rng.choice(chosen).claim, [rng.randint(1, 5)]) for _ in range(4)]
        found.append((claims, passages))
    return found


def _texts(answer: Answer) -> list[str]:
    claims, passages = answer
    return [c for c, _ in claims] + [u.text for u in citations._evidence_units(passages)]


def check_ms(
    checker: citations.CitationChecker, answer: Answer, clear: Callable[[], None]
) -> float:
    clear()
    started = time.perf_counter()
    checker.check_marked(*answer)
    return (time.perf_counter() - started) * 1000 / len(answer[0])


def _clear_caches() -> Callable[[], None]:
    """Empties every fact-extraction cache (older checkers had only `facts`'s)."""
    from newsdesk.generation import facts as fact_module

    return getattr(fact_module, "clear_caches", None) or fact_module.facts.cache_clear


def warm_times(
    items: list[perturbations.Item], embedder: Embedder, repeats: int = 3
) -> list[float]:
    """The checker's own cost per sentence: embeddings cached, every extraction cache emptied
    before each answer (so its passages' facts are computed afresh, as for a new question)."""
    checker = citations.CitationChecker(embedder)
    clear = _clear_caches()
    return [check_ms(checker, a, clear) for _ in range(repeats) for a in answers(items)]


def cold_times(items: list[perturbations.Item], embedder: Embedder) -> list[float]:
    """As a new story is asked about: nothing cached, every passage sentence embedded."""
    clear = _clear_caches()
    found = []
    for answer in answers(items, 10):
        checker = citations.CitationChecker(CachingEmbedder(embedder))
        found.append(check_ms(checker, answer, clear))
    return found


def _baseline_tree(revision: str) -> Path:
    """The whole source tree at `revision`, for timing its checker in a child process."""
    tree = Path(tempfile.mkdtemp(prefix="checker-baseline-"))
    archive = subprocess.run(
        ["git", "archive", revision], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _child(tree: Path, task: str, split: str, embeddings: Path | None) -> str:
    """This script's `task` run against the source tree `tree`; its standard output."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, __file__, "--child", task, "--split", split]
    command += ["--embeddings", str(embeddings)] if embeddings else []
    return subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout


def speed(
    items: list[perturbations.Item],
    embedder: Embedder,
    split: str,
    baseline: str | None,
    rounds: int,
) -> None:
    """The checker's own cost (embeddings cached in a scratch file, so the children need not
    embed) timed in a child process per round; with a baseline, rounds alternate (baseline,
    current, baseline, ...) so both see the same machine load. Then the cold cost (embedding
    included) of the current checker, in this process."""
    scratch = ScratchEmbeddings(embedder, Path(tempfile.mkdtemp()) / "speed-embeddings.pkl")
    scratch.embed(sorted({t for a in answers(items) for t in _texts(a)}))
    scratch.save()
    assert scratch.path is not None
    trees = {"current": ROOT}
    if baseline:
        trees = {f"baseline {baseline}": _baseline_tree(baseline), "current": ROOT}
    times: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            out = _child(tree, "speed", split, scratch.path)
            times[name] += json.loads(out.strip().splitlines()[-1])
    print("| checker | ms per sentence, embeddings cached: median | p90 |")
    print("|---|---:|---:|")
    for name, found in times.items():
        print(f"| {name} | {np.median(found):.1f} | {np.percentile(found, 90):.1f} |")
    if baseline:
        ratio = np.median(times[f"baseline {baseline}"]) / np.median(times["current"])
        print(f"current: {ratio:.1f}x faster than {baseline} (ratio of medians)")
    print(f"(answers of 4 sentences citing 5 passages; {len(times['current'])} per checker)")
    cold = cold_times(items, embedder)
    print(
        f"current, cold (nothing cached, embedding included): median {np.median(cold):.1f} ms "
        f"per sentence, p90 {np.percentile(cold, 90):.1f} ms ({len(cold)} answers)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["tune", "test"])
    parser.add_argument("--baseline", metavar="REV", help="measure the checker of a git revision")
    parser.add_argument("--skip-frank", action="store_true")
    parser.add_argument("--skip-kinds", action="store_true", help="no per-kind figures")
    parser.add_argument("--skip-speed", action="store_true", help="no timing")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds per checker")
    parser.add_argument("--embeddings", type=Path, help="scratch file caching the embeddings")
    parser.add_argument("--child", choices=["speed", "kinds"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    embedder = build_embedder(Settings())
    items = perturbations.load(ROOT / "evals/suites/perturbations.jsonl.gz", args.split)
    if args.child == "speed":
        print(json.dumps(warm_times(items, ScratchEmbeddings(embedder, args.embeddings))))
        return
    if not args.skip_kinds:
        if args.baseline and not args.child:
            print(f"## perturbations, {args.split} split, checker of {args.baseline}")
            tree = _baseline_tree(args.baseline)
            print(_child(tree, "kinds", args.split, args.embeddings), end="")
        print(f"## perturbations, {args.split} split ({len(items)} claims)")
        cache = ScratchEmbeddings(embedder, args.embeddings)
        warm(cache, items)
        cache.save()
        per_kind(citations.CitationChecker(cache), items)
    if args.child:
        return
    if not args.skip_speed:
        print("## speed")
        speed(items, embedder, args.split, args.baseline, args.rounds)
    if not args.skip_frank:
        print("## FRANK (news-summarisation suite)")
        scratch = ScratchEmbeddings(embedder, args.embeddings)
        frank(scratch)
        scratch.save()


if __name__ == "__main__":
    main()

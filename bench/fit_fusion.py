"""Fit the hybrid fusion (retrieval/fusion.py) on the shipped suites, with a held-out part.

    python bench/fit_fusion.py [--work-dir /tmp/newsdesk-fit] [--squad-train 1000] [--seed 0]

Step 1 (cached in WORK_DIR/candidates-*.json.gz; delete to recompute): each suite's articles
are ingested into WORK_DIR/<suite>/data (the folder `newsdesk eval --work-dir WORK_DIR/<suite>`
uses, so an eval run and this script share one collection), and for every question the service's
two candidate lists are stored — dense and BM25, top_k 40 × candidate_multiplier 4 each, as
`Searcher.run` fetches them in the suites' retrieval runs — with what each chunk counts as for
the metrics (the gold passage it holds, else its article or itself, exactly as the eval runner
counts it).

Step 2: every fusion is replayed on those lists by the service's own functions and scored as
the eval runner scores it (recall@1, nDCG@10 over the first 40 fused chunks). The split:

- squad2-dev-qa: trained on answerable questions of squad2-dev-qa-full (same 683 paragraphs)
  that are NOT in the shipped 300-question sample (a seeded subsample of --squad-train);
  validated on the sample's 140 answerable questions — the suite the target is set on.
- beir-scifact: its 300 test queries are all there is (no train qrels shipped); a seeded half
  trains, the other half validates.

The objective on train is the mean of squad recall@1 and scifact nDCG@10 (one setting for both).
Validation is only reported, never used to choose.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from newsdesk.api.eval_cli import resolve_suite
from newsdesk.container import Newsdesk, build_embedder
from newsdesk.evals import metrics
from newsdesk.evals.runner import RETRIEVAL_CHUNKS, _gold_keys, _ranking_keys
from newsdesk.evals.suite import Question, load_suite
from newsdesk.retrieval.fusion import (
    convex_fusion,
    query_dense_share,
    reciprocal_rank_fusion,
)
from newsdesk.settings import Settings

Fused = list[tuple[int, float]]


@dataclass
class Item:
    id: str
    query: str
    gold: set[str]
    dense: dict[int, float]
    lexical: dict[int, float]
    keys: dict[int, str]


# --- step 1: candidates --------------------------------------------------------------------


def _collect(
    suite_name: str, questions: list[Question] | None, work: Path, cache: Path, say: Callable
) -> list[Item]:
    if cache.exists():
        return _load(cache)
    suite = load_suite(resolve_suite(Path(suite_name)))
    questions = [q for q in (questions or suite.questions) if q.has_retrieval_gold]
    settings = Settings(data_dir=work / suite_name / "data", backend="extractive", max_top_k=10_000)
    candidates = RETRIEVAL_CHUNKS * settings.candidate_multiplier
    embedder = build_embedder(settings)
    items = []
    with Newsdesk.open(settings, embedder=embedder) as desk:
        started = time.perf_counter()
        report = desk.ingestor.ingest(suite.articles)
        say(f"{suite_name}: {report.chunks} chunks, {time.perf_counter() - started:.0f} s")
        lexical_view = desk.indexes.fresh_lexical()
        vectors = embedder.embed([q.question for q in questions])
        for number, (question, vector) in enumerate(zip(questions, vectors, strict=True), 1):
            scores, ids = desk.indexes.vectors.search(vector[None, :], candidates, None)
            dense = {int(i): float(s) for i, s in zip(ids, scores, strict=True)}
            scores, ids = lexical_view.search(question.question, candidates, None)
            lexical = {int(i): float(s) for i, s in zip(ids, scores, strict=True)}
            rows = desk.store.passages(list({*dense, *lexical}))
            keys = {
                chunk_id: _ranking_keys(
                    question,
                    [SimpleNamespace(article_id=r.article_id, text=r.text, chunk_id=chunk_id)],  # type: ignore[list-item]
                )[0]
                for chunk_id, r in rows.items()
            }
            items.append(
                Item(question.id, question.question, _gold_keys(question), dense, lexical, keys)
            )
            if number % 200 == 0:
                say(f"{suite_name}: {number}/{len(questions)} questions")
    _save(items, cache)
    return items


def _save(items: list[Item], path: Path) -> None:
    rows = [
        {
            "id": i.id,
            "query": i.query,
            "gold": sorted(i.gold),
            "dense": list(i.dense.items()),
            "lexical": list(i.lexical.items()),
            "keys": list(i.keys.items()),
        }
        for i in items
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as handle:
        json.dump(rows, handle)


def _load(path: Path) -> list[Item]:
    with gzip.open(path, "rt") as handle:
        rows = json.load(handle)
    return [
        Item(
            r["id"],
            r["query"],
            set(r["gold"]),
            {int(k): v for k, v in r["dense"]},
            {int(k): v for k, v in r["lexical"]},
            {int(k): v for k, v in r["keys"]},
        )
        for r in rows
    ]


# --- step 2: replay and fit ----------------------------------------------------------------

Fusion = Callable[[Item], Fused]


def scores(items: list[Item], fusion: Fusion) -> dict[str, float]:
    r1, ndcg = [], []
    for item in items:
        top = fusion(item)[:RETRIEVAL_CHUNKS]
        ranked = metrics.distinct([item.keys[c] for c, _ in top if c in item.keys])
        r1.append(metrics.recall_at_k(ranked, item.gold, 1))
        ndcg.append(metrics.ndcg_at_k(ranked, item.gold, 10))
    return {"recall@1": float(np.mean(r1)), "ndcg@10": float(np.mean(ndcg))}


def dense_only(item: Item) -> Fused:
    return list(item.dense.items())


def lexical_only(item: Item) -> Fused:
    return list(item.lexical.items())


def rrf(k: int = 60, dense_weight: float = 1.0, lexical_weight: float = 1.0) -> Fusion:
    return lambda item: reciprocal_rank_fusion(
        [list(item.dense), list(item.lexical)], [dense_weight, lexical_weight], k
    )


def convex(dense_share: float, lexical_shift: float = 0.0) -> Fusion:
    return lambda item: convex_fusion(
        item.dense, item.lexical, query_dense_share(item.query, dense_share, lexical_shift)
    )


def _split_half(items: list[Item], seed: int) -> tuple[list[Item], list[Item]]:
    def bucket(item: Item) -> int:
        return hashlib.sha256(f"{seed}:{item.id}".encode()).digest()[0] % 2

    return [i for i in items if bucket(i) == 0], [i for i in items if bucket(i) == 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/newsdesk-fit"))
    parser.add_argument("--squad-train", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    say: Callable[[str], None] = lambda message: print(message, flush=True)  # noqa: E731

    sample = load_suite(resolve_suite(Path("squad2-dev-qa")))
    full = load_suite(resolve_suite(Path("squad2-dev-qa-full")))
    in_sample = {q.id for q in sample.questions}
    pool = [q for q in full.questions if q.id not in in_sample and q.has_retrieval_gold]
    train_questions = random.Random(args.seed).sample(pool, min(args.squad_train, len(pool)))
    work = args.work_dir
    squad_train = _collect(
        "squad2-dev-qa",
        train_questions,
        work,
        work / f"candidates-squad-train-{args.seed}-{len(train_questions)}.json.gz",
        say,
    )
    squad_val = _collect("squad2-dev-qa", None, work, work / "candidates-squad-val.json.gz", say)
    scifact = _collect("beir-scifact", None, work, work / "candidates-scifact.json.gz", say)
    scifact_train, scifact_val = _split_half(scifact, args.seed)
    say(
        f"squad train {len(squad_train)} / validation {len(squad_val)}; "
        f"scifact train {len(scifact_train)} / validation {len(scifact_val)}"
    )

    def objective(fusion: Fusion) -> float:
        return (
            scores(squad_train, fusion)["recall@1"] + scores(scifact_train, fusion)["ndcg@10"]
        ) / 2

    grid: list[tuple[float, float]] = [
        (round(a, 2), round(s, 2))
        for a in np.arange(0.2, 0.81, 0.05)
        for s in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    fitted = {pair: objective(convex(*pair)) for pair in grid}
    best = max(fitted, key=lambda pair: (fitted[pair], -pair[1]))  # ties: the simpler one
    best_flat = max((p for p in grid if p[1] == 0), key=lambda p: fitted[p])
    rrf_k = max((10, 30, 60, 100), key=lambda k: objective(rrf(k)))
    say(
        f"fitted: dense_share {best[0]}, lexical_shift {best[1]} (train objective {fitted[best]:.4f})"
    )

    configs: dict[str, Fusion] = {
        "dense": dense_only,
        "lexical": lexical_only,
        "rrf k=60 (old default)": rrf(60),
        f"rrf k={rrf_k} (best k on train)": rrf(rrf_k),
        f"convex α={best_flat[0]} (no query term)": convex(best_flat[0]),
        f"convex α={best[0]}, shift {best[1]} (fitted)": convex(*best),
    }
    table = []
    header = (
        "| fusion | squad R@1 train | squad R@1 val | scifact nDCG@10 train "
        "| scifact nDCG@10 val | scifact nDCG@10 all 300 |"
    )
    say(header)
    say("|---|---:|---:|---:|---:|---:|")
    for label, fusion in configs.items():
        row = {
            "fusion": label,
            "squad_train_r1": scores(squad_train, fusion)["recall@1"],
            "squad_val_r1": scores(squad_val, fusion)["recall@1"],
            "scifact_train_ndcg": scores(scifact_train, fusion)["ndcg@10"],
            "scifact_val_ndcg": scores(scifact_val, fusion)["ndcg@10"],
            "scifact_all_ndcg": scores(scifact, fusion)["ndcg@10"],
        }
        table.append(row)
        say(
            f"| {label} | {row['squad_train_r1']:.3f} | {row['squad_val_r1']:.3f} "
            f"| {row['scifact_train_ndcg']:.3f} | {row['scifact_val_ndcg']:.3f} "
            f"| {row['scifact_all_ndcg']:.3f} |"
        )
    _fusion_cost(scifact, best, say)
    if args.json:
        document: dict[str, Any] = {
            "fitted": {"dense_share": best[0], "lexical_shift": best[1]},
            "grid": [
                {"dense_share": a, "lexical_shift": s, "objective": v}
                for (a, s), v in fitted.items()
            ],
            "table": table,
        }
        args.json.write_text(json.dumps(document, indent=1))


def _fusion_cost(items: list[Item], best: tuple[float, float], say: Callable) -> None:
    """The fusion step alone, per query (the rest of a search is unchanged)."""
    for label, fusion in (("rrf", rrf(60)), ("convex", convex(*best))):
        times = []
        for item in items:
            started = time.perf_counter()
            fusion(item)
            times.append((time.perf_counter() - started) * 1000)
        say(f"fusion step {label}: median {statistics.median(times):.3f} ms per query")


if __name__ == "__main__":
    main()

"""Fit the reranker (retrieval/rerank.py) on training questions; report a held-out part.

    python bench/fit_rerank.py [--work-dir /tmp/rerank] [--squad-train 2000] [--seed 0] [--write]

Candidates come from bench/fit_fusion.py's step 1 (same cache files in WORK_DIR, same
collections: `newsdesk eval --work-dir WORK_DIR/<suite>` reuses them): per question the
service's dense and BM25 lists, 160 each, as a suite's retrieval run fetches them. They are
fused by the service's default fusion (Settings()), and the first DEPTH fused chunks are read
from the collection for the features.

Split (the same as fit_fusion.py's):
- squad2-dev-qa: trained on answerable questions of squad2-dev-qa-full (same paragraphs) that
  are NOT in the shipped 300-question sample; validated on the sample's 140 answerable ones.
- beir-scifact: a seeded half of its 300 queries trains, the other half validates.

The model is linear, fitted with a listwise softmax loss (the probability the model gives the
relevant candidates of a question's head; Cao et al. 2007, ListNet) plus a small L2 penalty, by
L-BFGS; each suite weighs half. The depth is chosen on train. Validation is only reported.
`--write` stores the weights in retrieval/rerank_weights.json.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import pickle
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_fusion import Item, _collect, _split_half

from newsdesk.api.eval_cli import resolve_suite
from newsdesk.container import Newsdesk
from newsdesk.evals import metrics
from newsdesk.evals.runner import RETRIEVAL_CHUNKS
from newsdesk.evals.suite import load_suite
from newsdesk.retrieval import rerank_features
from newsdesk.retrieval.fusion import convex_fusion, query_dense_share
from newsdesk.retrieval.rerank import RerankModel, rerank
from newsdesk.retrieval.rerank_features import FEATURES, Query, candidate_features
from newsdesk.retrieval.search import Searcher
from newsdesk.settings import Settings
from newsdesk.stores.lexical import LexicalView

WEIGHTS = Path(__file__).resolve().parent.parent / "retrieval" / "rerank_weights.json"
MAX_DEPTH = 40
DEPTHS = (10, 20, 30, 40)
L2 = 1e-3


@dataclass
class Case:
    """One question, replayable: its fused list, the texts of its head, its features."""

    item: Item
    fused: list[tuple[int, float]]
    texts: dict[int, str]
    features: np.ndarray  # (min(MAX_DEPTH, len(fused)), len(FEATURES))
    relevant: np.ndarray  # bool per head row


def fuse(item: Item, settings: Settings) -> list[tuple[int, float]]:
    share = query_dense_share(
        item.query, settings.fusion_dense_share, settings.fusion_lexical_shift
    )
    return convex_fusion(item.dense, item.lexical, share)


def build_cases(
    items: list[Item],
    data_dir: Path,
    settings: Settings,
    say: Callable[[str], None],
    cache: Path | None = None,
) -> tuple[list[Case], LexicalView]:
    """Each question's fused list, head texts and features; the features are cached in
    ``cache`` (named after the feature code, so a change to it recomputes them)."""
    started = time.perf_counter()
    with Newsdesk.open(Settings(data_dir=data_dir, backend="extractive")) as desk:
        view = desk.indexes.fresh_lexical()
        if cache is not None and cache.exists():
            with gzip.open(cache, "rb") as handle:
                return pickle.load(handle), view  # our own file, written below
        cases = []
        for item in items:
            fused = fuse(item, settings)
            head = fused[:MAX_DEPTH]
            rows = desk.store.passages([c for c, _ in head])
            texts = {c: r.text for c, r in rows.items()}
            query = Query.of(item.query, view.idf)
            features = candidate_features(query, head, item.dense, item.lexical, texts)
            relevant = np.array([item.keys.get(c) in item.gold for c, _ in head])
            cases.append(Case(item, fused, texts, features, relevant))
        if cache is not None:
            with gzip.open(cache, "wb") as handle:
                pickle.dump(cases, handle)
    say(
        f"{data_dir.parent.name}: features of {len(cases)} questions, "
        f"{time.perf_counter() - started:.0f} s"
    )
    return cases, view


def features_cache(work: Path, name: str, args: argparse.Namespace) -> Path:
    code = Path(rerank_features.__file__).read_bytes() + repr(Settings()).encode()
    tag = hashlib.sha256(code).hexdigest()[:10]
    return work / f"features-{name}-{args.seed}-{args.squad_train}-{tag}.pkl.gz"


# --- fitting ---------------------------------------------------------------------------------


def fit(groups: list[list[Case]], depth: int) -> np.ndarray:
    """Listwise softmax over each question's first ``depth`` candidates; each group (suite)
    weighs the same, questions within it equally."""
    blocks = []
    for cases in groups:
        usable = [c for c in cases if c.relevant[:depth].any() and not c.relevant[:depth].all()]
        for c in usable:
            blocks.append((c.features[:depth], c.relevant[:depth], 1.0 / len(usable) / len(groups)))

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = L2 * float(w @ w), 2 * L2 * w
        for x, rel, weight in blocks:
            z = x @ w
            all_lse, rel_lse = logsumexp(z), logsumexp(z[rel])
            total += weight * (all_lse - rel_lse)
            p_all = np.exp(z - all_lse)
            p_rel = np.where(rel, np.exp(z - rel_lse), 0.0)
            grad += weight * (x.T @ (p_all - p_rel))
        return total, grad

    start = np.zeros(len(FEATURES))
    start[FEATURES.index("fused")] = 1.0
    result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return np.asarray(result.x)


def ordered(case: Case, weights: np.ndarray | None, depth: int) -> list[int]:
    ids = [c for c, _ in case.fused]
    if weights is None:
        return ids
    head = case.features[:depth]
    order = np.argsort(-(head @ weights), kind="stable")
    return [ids[i] for i in order] + ids[len(head) :]


def score(cases: list[Case], weights: np.ndarray | None, depth: int) -> dict[str, float]:
    r1, ndcg = [], []
    for case in cases:
        top = ordered(case, weights, depth)[:RETRIEVAL_CHUNKS]
        keys = case.item.keys
        ranked = metrics.distinct([keys[c] for c in top if c in keys])
        r1.append(metrics.recall_at_k(ranked, case.item.gold, 1))
        ndcg.append(metrics.ndcg_at_k(ranked, case.item.gold, 10))
    return {"recall@1": float(np.mean(r1)), "ndcg@10": float(np.mean(ndcg))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/rerank"))
    parser.add_argument("--squad-train", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="Store the fitted weights.")
    parser.add_argument(
        "--latency",
        action="store_true",
        help="Only time whole searches, reranking off and on, with the shipped weights.",
    )
    args = parser.parse_args()
    say: Callable[[str], None] = lambda message: print(message, flush=True)  # noqa: E731
    settings = Settings()
    work = args.work_dir
    if args.latency:
        search_latency(work, say)
        return

    sample = load_suite(resolve_suite(Path("squad2-dev-qa")))
    full = load_suite(resolve_suite(Path("squad2-dev-qa-full")))
    in_sample = {q.id for q in sample.questions}
    pool = [q for q in full.questions if q.id not in in_sample and q.has_retrieval_gold]
    train_questions = random.Random(args.seed).sample(pool, min(args.squad_train, len(pool)))
    squad_train_items = _collect(
        "squad2-dev-qa",
        train_questions,
        work,
        work / f"candidates-squad-train-{args.seed}-{len(train_questions)}.json.gz",
        say,
    )
    squad_val_items = _collect(
        "squad2-dev-qa", None, work, work / "candidates-squad-val.json.gz", say
    )
    scifact_items = _collect("beir-scifact", None, work, work / "candidates-scifact.json.gz", say)

    squad_dir, scifact_dir = work / "squad2-dev-qa" / "data", work / "beir-scifact" / "data"
    squad_train, squad_view = build_cases(
        squad_train_items, squad_dir, settings, say, features_cache(work, "squad-train", args)
    )
    squad_val, _ = build_cases(
        squad_val_items, squad_dir, settings, say, features_cache(work, "squad-val", args)
    )
    scifact, scifact_view = build_cases(
        scifact_items, scifact_dir, settings, say, features_cache(work, "scifact", args)
    )
    train_ids = {i.id for i in _split_half(scifact_items, args.seed)[0]}
    scifact_train = [c for c in scifact if c.item.id in train_ids]
    scifact_val = [c for c in scifact if c.item.id not in train_ids]
    say(
        f"squad train {len(squad_train)} / validation {len(squad_val)}; "
        f"scifact train {len(scifact_train)} / validation {len(scifact_val)}"
    )

    def objective(weights: np.ndarray | None, depth: int) -> float:
        return (
            score(squad_train, weights, depth)["recall@1"]
            + score(scifact_train, weights, depth)["ndcg@10"]
        ) / 2

    fitted = {depth: fit([squad_train, scifact_train], depth) for depth in DEPTHS}
    for depth, weights in fitted.items():
        say(f"depth {depth}: train objective {objective(weights, depth):.4f}")
    depth = max(DEPTHS, key=lambda d: (round(objective(fitted[d], d), 4), -d))
    weights = fitted[depth]
    say(f"chosen depth {depth} (train objective; ties: the shallower)")
    say("weights: " + ", ".join(f"{n} {w:+.3f}" for n, w in zip(FEATURES, weights, strict=True)))

    say(
        "| ranking | squad R@1 train | squad R@1 **val** | scifact nDCG@10 train "
        "| scifact nDCG@10 **val** | scifact nDCG@10 all 300 |"
    )
    say("|---|---:|---:|---:|---:|---:|")
    for label, w in (("fused (convex, default)", None), (f"reranked, depth {depth}", weights)):
        say(
            f"| {label} | {score(squad_train, w, depth)['recall@1']:.3f} "
            f"| {score(squad_val, w, depth)['recall@1']:.3f} "
            f"| {score(scifact_train, w, depth)['ndcg@10']:.3f} "
            f"| {score(scifact_val, w, depth)['ndcg@10']:.3f} "
            f"| {score(scifact, w, depth)['ndcg@10']:.3f} |"
        )

    # The service's own function over the same inputs must give the replayed order, and this
    # times the whole rerank step (query analysis, sentence split, tokenising, features).
    model = RerankModel(weights)
    times = []
    for cases, view in ((squad_val, squad_view), (scifact, scifact_view)):
        for case in cases:
            started = time.perf_counter()
            service, _ = rerank(
                case.item.query,
                case.fused,
                case.item.dense,
                case.item.lexical,
                case.texts,
                view.idf,
                model,
                depth,
            )
            times.append((time.perf_counter() - started) * 1000)
            if [c for c, _ in service] != ordered(case, weights, depth):
                raise SystemExit(f"replay and service disagree on {case.item.id}")
    times.sort()
    say(
        f"rerank step: median {statistics.median(times):.2f} ms, "
        f"p95 {times[int(0.95 * (len(times) - 1))]:.2f} ms per query ({len(times)} queries)"
    )
    if args.write:
        WEIGHTS.write_text(
            model.to_json(
                depth=depth,
                script="bench/fit_rerank.py",
                trained_on=(
                    f"{len(squad_train)} squad2-dev-qa-full questions outside the shipped sample "
                    f"(seed {args.seed}) and {len(scifact_train)} beir-scifact queries "
                    "(seeded half)"
                ),
            )
        )
        say(f"wrote {WEIGHTS}")


def search_latency(work: Path, say: Callable[[str], None]) -> None:
    """Whole searches (embed, faiss, BM25, fuse, rerank, hydrate) through Searcher, reranking
    off and on alternately per query so that both see the same machine load; each suite's
    queries at the eval's top_k (40) and at the API's default (8)."""
    suites = (("squad2-dev-qa", "squad2-dev-qa"), ("beir-scifact", "beir-scifact"))
    say("| suite | top_k | queries | fused p50 / p95 | reranked p50 / p95 | p95 ratio |")
    say("|---|---:|---:|---:|---:|---:|")
    for name, folder in suites:
        queries = [q.question for q in load_suite(resolve_suite(Path(name))).questions]
        data = work / folder / "data"
        with Newsdesk.open(Settings(data_dir=data, backend="extractive")) as desk:
            searchers = {
                on: Searcher(
                    desk.store,
                    desk.indexes,
                    desk.embedder,
                    desk.settings.model_copy(update={"rerank": on}),
                )
                for on in (False, True)
            }
            for top_k in (RETRIEVAL_CHUNKS, desk.settings.default_top_k):
                times: dict[bool, list[float]] = {False: [], True: []}
                for number, query in enumerate(queries):
                    # Alternate which goes first: neither always meets a warm cache.
                    for on in (number % 2 == 0, number % 2 == 1):
                        started = time.perf_counter()
                        searchers[on].search(query, top_k=top_k)
                        times[on].append((time.perf_counter() - started) * 1000)
                p = {on: np.percentile(t, [50, 95]) for on, t in times.items()}
                say(
                    f"| {name} | {top_k} | {len(queries)} | {p[False][0]:.1f} / {p[False][1]:.1f} ms "
                    f"| {p[True][0]:.1f} / {p[True][1]:.1f} ms | {p[True][1] / p[False][1]:.2f} |"
                )


if __name__ == "__main__":
    main()

"""Fit the reranker (retrieval/rerank.py) on training questions; report a held-out part.

    python bench/fit_rerank.py [--work-dir /tmp/rerank] [--squad-train 4000] [--seed 0]
                               [--folds 5] [--cv-only] [--write]

Candidates come from bench/fit_fusion.py's step 1 (same cache files in WORK_DIR, same
collections: `newsdesk eval --work-dir WORK_DIR/<suite>` reuses them): per question the
service's dense and BM25 lists, 160 each, as a suite's retrieval run fetches them. They are
fused by the service's default fusion (Settings()), and the first DEPTH fused chunks are read
from the collection for the features.

Only questions are reranked (claims keep the fused order, retrieval/rerank.py), so the model is
fitted on questions: answerable questions of squad2-dev-qa-full (same paragraphs) that are NOT
in the shipped 300-question sample (all of them by default: 3,337). It is validated on the
sample's 140 answerable ones; beir-scifact's 300 claims are replayed to show they keep their
fused order (halves as fit_fusion.py's split, for comparison with its table).

The model is linear, fitted with a listwise softmax loss (the probability the model gives the
relevant candidates of a question's head; Cao et al. 2007, ListNet) plus an L2 penalty, by
L-BFGS. The depth and the penalty are chosen by k-fold cross-validation on the training
questions; validation is only reported (`--cv-only` stops before reading it).
`--write` stores the weights in retrieval/rerank_weights.json.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
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
from newsdesk.evals.runner import RETRIEVAL_CHUNKS, _gold_keys, _ranking_keys
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
DEPTHS = (10, 20, 40)
L2 = 1e-3
L2S = (1e-4, 1e-3, 1e-2)


@dataclass
class Case:
    """One question, replayable: its fused list, the texts of its head, its features."""

    item: Item
    fused: list[tuple[int, float]]
    texts: dict[int, str]
    features: np.ndarray  # (min(MAX_DEPTH, len(fused)), len(FEATURES))
    relevant: np.ndarray  # bool per head row
    question: bool  # only questions are reranked


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
            cases.append(Case(item, fused, texts, features, relevant, query.is_question))
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


def fit(groups: list[list[Case]], depth: int, l2: float = L2) -> np.ndarray:
    """Listwise softmax over each question's first ``depth`` candidates; each group (suite)
    weighs the same, questions within it equally. Vectorised over questions: the head is
    padded to ``depth`` rows and the padding masked out."""
    xs, rels, masks, weights = [], [], [], []
    for cases in groups:
        usable = [c for c in cases if c.relevant[:depth].any() and not c.relevant[:depth].all()]
        for c in usable:
            n = min(depth, len(c.relevant))
            x = np.zeros((depth, len(FEATURES)))
            x[:n] = c.features[:n]
            rel, mask = np.zeros(depth, bool), np.zeros(depth, bool)
            rel[:n], mask[:n] = c.relevant[:n], True
            xs.append(x)
            rels.append(rel)
            masks.append(mask)
            weights.append(1.0 / len(usable) / len(groups))
    x, rel, mask, weight = np.array(xs), np.array(rels), np.array(masks), np.array(weights)
    # Scale columns for the optimiser only (the penalty stays on the returned weights' scale).
    scale = np.maximum(np.abs(x).max(axis=(0, 1)), 1e-9)
    xn = x / scale

    def loss(v: np.ndarray) -> tuple[float, np.ndarray]:
        w = v / scale
        z = np.where(mask, xn @ v, -np.inf)
        all_lse = logsumexp(z, axis=1, keepdims=True)
        rel_lse = logsumexp(np.where(rel, z, -np.inf), axis=1, keepdims=True)
        total = l2 * float(w @ w) + float(weight @ (all_lse - rel_lse)[:, 0])
        p_all = np.exp(z - all_lse)
        p_rel = np.where(rel, np.exp(z - rel_lse), 0.0)
        grad = np.einsum("n,nd,ndf->f", weight, p_all - p_rel, xn) + 2 * l2 * w / scale
        return total, grad

    start = np.zeros(len(FEATURES))
    start[FEATURES.index("fused")] = scale[FEATURES.index("fused")]
    result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    return np.asarray(result.x) / scale


def _folds(cases: list[Case], k: int, seed: int) -> list[list[Case]]:
    def bucket(case: Case) -> int:
        return hashlib.sha256(f"fold{seed}:{case.item.id}".encode()).digest()[0] % k

    return [[c for c in cases if bucket(c) == f] for f in range(k)]


def cross_validate(cases: list[Case], depth: int, l2: float, k: int, seed: int) -> float:
    """Recall@1 of the held-out folds (training questions only)."""
    folds = _folds(cases, k, seed)
    r1 = []
    for f in range(k):
        weights = fit([[c for g, fold in enumerate(folds) if g != f for c in fold]], depth, l2)
        r1 += [score([c], weights, depth)["recall@1"] for c in folds[f]]
    return float(np.mean(r1))


def ordered(case: Case, weights: np.ndarray | None, depth: int) -> list[int]:
    ids = [c for c, _ in case.fused]
    if weights is None or not case.question:
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
    parser.add_argument("--squad-train", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5, help="Cross-validation folds.")
    parser.add_argument("--write", action="store_true", help="Store the fitted weights.")
    parser.add_argument(
        "--cv-only",
        action="store_true",
        help="Stop after cross-validation on train and the fit: validation is not looked at.",
    )
    parser.add_argument(
        "--latency",
        action="store_true",
        help="Only time whole searches, reranking off and on, with the shipped weights.",
    )
    parser.add_argument(
        "--skip-scifact",
        action="store_true",
        help="Do not replay beir-scifact (its collection takes long to ingest; claims keep the "
        "fused order whatever the weights).",
    )
    parser.add_argument(
        "--suite",
        action="append",
        choices=["squad2-dev-qa", "beir-scifact"],
        help="--latency: only this suite's queries (repeatable; default both).",
    )
    args = parser.parse_args()
    say: Callable[[str], None] = lambda message: print(message, flush=True)  # noqa: E731
    settings = Settings()
    work = args.work_dir
    if args.latency:
        search_latency(work, say, args.suite or ["squad2-dev-qa", "beir-scifact"])
        return

    sample = load_suite(resolve_suite(Path("squad2-dev-qa")))
    full = load_suite(resolve_suite(Path("squad2-dev-qa-full")))
    in_sample = {q.id for q in sample.questions}
    pool = [q for q in full.questions if q.id not in in_sample and q.has_retrieval_gold]
    train_questions = random.Random(args.seed).sample(pool, min(args.squad_train, len(pool)))
    squad_dir = work / "squad2-dev-qa" / "data"
    squad_train, squad_view = build_cases(
        _collect(
            "squad2-dev-qa",
            train_questions,
            work,
            work / f"candidates-squad-train-{args.seed}-{len(train_questions)}.json.gz",
            say,
        ),
        squad_dir,
        settings,
        say,
        features_cache(work, "squad-train", args),
    )
    say(f"squad train: {len(squad_train)} questions")

    # Depth and penalty chosen by cross-validation within the training questions.
    say("| depth | L2 | CV squad R@1 |")
    say("|---:|---:|---:|")
    cv: dict[tuple[int, float], float] = {}
    for depth, l2 in itertools.product(DEPTHS, L2S):
        cv[depth, l2] = cross_validate(squad_train, depth, l2, args.folds, args.seed)
        say(f"| {depth} | {l2:g} | {cv[depth, l2]:.4f} |")
    depth, l2 = max(cv, key=lambda key: (round(cv[key], 4), -key[0], key[1]))
    fused_r1 = score(squad_train, None, 0)["recall@1"]
    say(f"fused on train: {fused_r1:.4f}; chosen depth {depth}, L2 {l2:g} (ties: shallower)")
    weights = fit([squad_train], depth, l2)
    say("weights: " + ", ".join(f"{n} {w:+.3f}" for n, w in zip(FEATURES, weights, strict=True)))
    if args.cv_only:
        return

    squad_val, _ = build_cases(
        _collect("squad2-dev-qa", None, work, work / "candidates-squad-val.json.gz", say),
        squad_dir,
        settings,
        say,
        features_cache(work, "squad-val", args),
    )
    scifact: list[Case] = []
    scifact_view = None
    if not args.skip_scifact:
        scifact_items = _collect(
            "beir-scifact", None, work, work / "candidates-scifact.json.gz", say
        )
        scifact, scifact_view = build_cases(
            scifact_items,
            work / "beir-scifact" / "data",
            settings,
            say,
            features_cache(work, "scifact", args),
        )
        train_ids = {i.id for i in _split_half(scifact_items, args.seed)[0]}
    halves = (
        (
            [c for c in scifact if c.item.id in train_ids],
            [c for c in scifact if c.item.id not in train_ids],
        )
        if scifact
        else ([], [])
    )

    def ndcg(cases: list[Case], w: np.ndarray | None) -> str:
        return f"{score(cases, w, depth)['ndcg@10']:.3f}" if cases else "—"

    say(
        "| ranking | squad R@1 train | squad R@1 **val** | scifact nDCG@10 half A "
        "| scifact nDCG@10 half B | scifact nDCG@10 all 300 |"
    )
    say("|---|---:|---:|---:|---:|---:|")
    for label, w in (("fused (convex, default)", None), (f"reranked, depth {depth}", weights)):
        say(
            f"| {label} | {score(squad_train, w, depth)['recall@1']:.3f} "
            f"| {score(squad_val, w, depth)['recall@1']:.3f} "
            f"| {ndcg(halves[0], w)} | {ndcg(halves[1], w)} | {ndcg(scifact, w)} |"
        )

    # The service's own function over the same inputs must give the replayed order, and this
    # times the whole rerank step (query analysis, sentence split, tokenising, features).
    model = RerankModel(weights)
    times = []
    replays: list[tuple[list[Case], LexicalView]] = [(squad_val, squad_view)]
    if scifact_view is not None:
        replays.append((scifact, scifact_view))
    for cases, view in replays:
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
                l2=l2,
                script="bench/fit_rerank.py",
                trained_on=(
                    f"{len(squad_train)} answerable squad2-dev-qa-full questions outside the "
                    f"shipped sample (seed {args.seed}); depth and L2 by {args.folds}-fold "
                    "cross-validation on them"
                ),
            )
        )
        say(f"wrote {WEIGHTS}")


def search_latency(work: Path, say: Callable[[str], None], suites: list[str]) -> None:
    """Whole searches (embed, faiss, BM25, fuse, rerank, hydrate) through Searcher, reranking
    off and on alternately per query so that both see the same machine load; each suite's
    queries at the eval's top_k (40) and at the API's default (8). At top_k 40 the results are
    also scored as the eval runner scores them (its own key and metric functions): recall@1 and
    nDCG@10 of the questions with retrieval gold, through the service's search path."""
    say(
        "| suite | top_k | queries | fused p50 / p95 | reranked p50 / p95 | p95 ratio "
        "| recall@1 fused → reranked | nDCG@10 fused → reranked |"
    )
    say("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in suites:
        questions = load_suite(resolve_suite(Path(name))).questions
        data = work / name / "data"
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
                r1: dict[bool, list[float]] = {False: [], True: []}
                ndcg: dict[bool, list[float]] = {False: [], True: []}
                for number, question in enumerate(questions):
                    # Alternate which goes first: neither always meets a warm cache.
                    for on in (number % 2 == 0, number % 2 == 1):
                        started = time.perf_counter()
                        passages = searchers[on].search(question.question, top_k=top_k)
                        times[on].append((time.perf_counter() - started) * 1000)
                        if question.has_retrieval_gold:
                            ranked = _ranking_keys(question, passages)
                            r1[on].append(metrics.recall_at_k(ranked, _gold_keys(question), 1))
                            ndcg[on].append(metrics.ndcg_at_k(ranked, _gold_keys(question), 10))
                p = {on: np.percentile(t, [50, 95]) for on, t in times.items()}
                quality = (
                    f"{np.mean(r1[False]):.3f} → {np.mean(r1[True]):.3f} "
                    f"| {np.mean(ndcg[False]):.3f} → {np.mean(ndcg[True]):.3f}"
                    if top_k == RETRIEVAL_CHUNKS and r1[False]
                    else "| "
                )
                say(
                    f"| {name} | {top_k} | {len(questions)} "
                    f"| {p[False][0]:.1f} / {p[False][1]:.1f} ms "
                    f"| {p[True][0]:.1f} / {p[True][1]:.1f} ms | {p[True][1] / p[False][1]:.2f} "
                    f"| {quality} |"
                )


if __name__ == "__main__":
    main()

"""Fit the extractive backend's learned answerability decision (generation/answerability.py)
and compare it with the rules by cross-validation grouped by article.

    python bench/fit_answerability.py [--work-dir /tmp/answerability] [--squad 400]
        [--folds 5] [--seed 0] [--refeature] [--write] [--gates kind[,slot]] [--gate-report]

Data (step 1, cached in WORK_DIR; delete it or pass --refeature to recompute the features):
- the news QA set's spent splits, tune … holdout11 (evals/suites/news-qa-samples.json; the
  later ones are held out and never read here),
  asked of the whole collection as bench/news_abstention.py asks them (top_k 5): per question
  the passages the answerer reads, and the rules' own answer (`Answerer.ask`, rules);
- SQuAD 2.0 dev questions of squad2-dev-qa-full (paragraphs of squad2-dev-articles) that are
  neither in the shipped 300-question sample nor of the articles bench/squad_abstention.py
  reports on (its articles 0-2 of the shared file): a seeded sample, half answerable.

A sentence is a positive when its question is answerable, it comes from a gold article and it
holds a gold span (news: normalised as news_qa does; SQuAD: any of its answers). The model is
a logistic regression over standardised FEATURES with an L2 penalty, by L-BFGS; news and SQuAD
sentences weigh the same in total. A question is answered iff its best sentence's probability
reaches the threshold; the threshold is the one that answers most training news questions
while declining >= DECLINE_TARGET of the training news questions that are unanswerable.

Cross-validation: the news articles in FOLDS groups (seeded); each fold is fitted on the other
folds' questions + SQuAD, its threshold chosen on the other folds, and measured on its own
questions beside the rules' answers to the very same questions. `--write` fits on all of it
and stores generation/answerability_weights.json (the shipped one was last written with
SPENT = tune … holdout9: refitted on … holdout11 it declines a question a test pins).

`--gate-report` says why the rules decline the answerable news questions they decline: the
story gate (`unmentioned`, with the words it names), else the first checks the best
gold-holding sentence fails, else no retrieved sentence holds the gold span.

`--gates kind,slot` (shipped) fits the `hybrid` decision instead: only sentences passing
those rules are candidates (fitted and scored), `unmentioned` declines first, and `--write`
stores generation/answerability_weights_hybrid.json (learned's file is left as it is).
"""

from __future__ import annotations

import argparse
import gzip
import json
import pickle
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from squad_abstention import DEFAULT_SQUAD

from newsdesk.container import Newsdesk, build_embedder
from newsdesk.domain import ArticleInput, Passage
from newsdesk.embedding import Embedder
from newsdesk.evals import news_qa
from newsdesk.generation import answerability
from newsdesk.generation.answer import Answerer
from newsdesk.generation.budgets import passages_within
from newsdesk.generation.extractive import GATES, ExtractiveAnswerer, unmentioned
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SUITES = ROOT / "evals" / "suites"
WEIGHTS = ROOT / "generation" / answerability.WEIGHTS_FILE
HYBRID_WEIGHTS = ROOT / "generation" / answerability.HYBRID_WEIGHTS_FILE
# The articles bench/squad_abstention.py reports on by default (0-2 of the shared file).
SQUAD_REPORTED = ("1973_oil_crisis", "Amazon_rainforest", "Computational_complexity_theory")
DECLINE_TARGET = 0.85
# The splits already run for the last time; the later ones (holdout12 …) are held out of fitting.
SPENT = news_qa.SPLITS[: news_qa.SPLITS.index("holdout11") + 1]
L2 = 1e-3
TOP_K = 5


@dataclass
class Asked:
    """One question as the answerer reads it, with what the rules answered (news only)."""

    source: str  # "news" or "squad"
    group: str  # the gold article (news folds are drawn by it)
    split: str
    question: str
    content: str  # the question without its time words
    answerable: bool
    golds: list[str]  # normalised
    gold_articles: set[str]
    passages: list[Passage]
    declined_early: bool  # no passage, or none similar enough: both modes decline
    rules_abstained: bool | None = None
    rules_gold: bool | None = None
    # Step 2.
    sentences: list[str] | None = None
    kind_other: bool = False
    unmentioned: bool = False  # the rules' story gate before any sentence (a variant keeps it)
    features: np.ndarray | None = None
    labels: np.ndarray | None = None
    cosine_binding: np.ndarray | None = None  # the rules' order among passing sentences


def _normalise(text: str) -> str:
    return news_qa._normalise(text)


def _squad_normalise(text: str) -> str:
    text = re.sub(r"\b(a|an|the)\b", " ", text.lower())
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _retrieve(answerer: Answerer, question: str) -> tuple[str, list[Passage], bool]:
    """What Answerer._events reads before deciding: the content question and the passages."""
    scope = answerer.scope(question, None, None)
    request = answerer.searcher.request(question, TOP_K, scope.filters, recency=scope.recency)
    passages = passages_within(
        answerer.searcher.run(request), answerer.settings.max_answer_context_chars
    )
    content = scope.content_question(request.query)
    early = not passages or answerer._relevance(content, passages) < (
        answerer.settings.abstain_threshold
    )
    return content, passages, early


def collect_news(embedder: Embedder) -> list[Asked]:
    suite = news_qa.load()
    articles = news_qa.load_articles(suite, ROOT)
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "data",
            backend="extractive",
            extractive_answerability="rules",  # the rules' own answers are what is cached
            _env_file=None,
        )
        with Newsdesk.open(settings, embedder=embedder) as desk:
            desk.ingestor.ingest(articles)
            answerer = desk.answerer()
            for item in [q for q in suite.questions if q.split in SPENT]:
                content, passages, early = _retrieve(answerer, item.question)
                outcome = news_qa.outcome(item, answerer.ask(item.question, top_k=TOP_K))
                found.append(
                    Asked(
                        "news",
                        item.article_id,
                        item.split,
                        item.question,
                        content,
                        item.answerable,
                        [_normalise(g.text) for g in item.answers],
                        {item.article_id},
                        passages,
                        early,
                        outcome.abstained,
                        outcome.contains_gold,
                    )
                )
    return found


def collect_squad(embedder: Embedder, count: int, seed: int) -> list[Asked]:
    with gzip.open(SUITES / "squad2-dev-qa-full.json.gz", "rt", encoding="utf-8") as handle:
        questions = json.load(handle)["questions"]
    shipped = {
        q["id"] for q in json.loads((SUITES / "squad2-dev-qa.json").read_text())["questions"]
    }
    with gzip.open(SUITES / "squad2-dev-articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        articles = [ArticleInput.model_validate_json(line) for line in handle if line.strip()]
    reported = _squad_reported_ids()
    pool = [q for q in questions if q["id"] not in shipped and q["id"] not in reported]
    rng = random.Random(seed)
    answerable = [q for q in pool if not q.get("unanswerable")]
    impossible = [q for q in pool if q.get("unanswerable")]
    sample = rng.sample(answerable, count // 2) + rng.sample(impossible, count // 2)
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", backend="extractive", _env_file=None)
        with Newsdesk.open(settings, embedder=embedder) as desk:
            desk.ingestor.ingest(articles)
            answerer = desk.answerer()
            for q in sample:
                content, passages, early = _retrieve(answerer, q["question"])
                gold_articles = set(q.get("gold_article_ids", []))
                found.append(
                    Asked(
                        "squad",
                        next(iter(gold_articles), q["id"]),
                        "squad",
                        q["question"],
                        content,
                        not q.get("unanswerable"),
                        [_squad_normalise(a) for a in q.get("answers", []) if _squad_normalise(a)],
                        gold_articles,
                        passages,
                        early,
                    )
                )
    return found


def _squad_reported_ids() -> set[str]:
    """Question ids of the articles bench/squad_abstention.py reports on (kept out of
    training; the full suite does not say which article an unanswerable question is of)."""
    data = json.loads(DEFAULT_SQUAD.read_text())["data"]
    return {
        qa["id"]
        for article in data
        if article["title"] in SQUAD_REPORTED
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    }


def featurise(items: list[Asked], embedder: Embedder) -> list[float]:
    """Each item's sentences, features and labels; returns the ms each question took (the
    reading, every gate of every sentence, one embedding call)."""
    extractive = ExtractiveAnswerer(embedder)  # the default min_binding, as the service's
    took = []
    for item in items:
        started = time.perf_counter()
        reading = extractive.read(item.content, item.passages)
        found = answerability.candidates(reading, item.passages, embedder)
        took.append((time.perf_counter() - started) * 1000)
        item.kind_other = reading.kind == "other"
        item.sentences = [c.sentence for c in found]
        width = len(answerability.FEATURES)
        item.features = np.array([c.features for c in found]).reshape(-1, width)
        item.cosine_binding = np.array([c.cosine + 0.5 * c.binding for c in found])
        normalise = _normalise if item.source == "news" else _squad_normalise
        item.labels = np.array(
            [
                item.answerable
                and c.article_id in item.gold_articles
                and any(g and g in normalise(c.sentence) for g in item.golds)
                for c in found
            ],
            dtype=np.float64,
        )
    return took


# --- the model --------------------------------------------------------------------------------


def fit(items: list[Asked], l2: float = L2) -> tuple[float, np.ndarray, np.ndarray]:
    """Bias, weights and scale of a logistic regression over the items' sentences."""
    rows = [
        (i.source == "news", i.features, i.labels)
        for i in items
        if i.features is not None and i.labels is not None and len(i.features)
    ]
    x = np.vstack([f for _, f, _ in rows])
    y = np.concatenate([labels for _, _, labels in rows])
    source = np.concatenate([[news] * len(f) for news, f, _ in rows])
    # News and SQuAD weigh the same in total: the news questions are the target, SQuAD's
    # many more sentences would otherwise decide every weight.
    weight = np.where(source, 0.5 / max(source.sum(), 1), 0.5 / max((~source).sum(), 1))
    if source.all() or not source.any():
        weight = np.full(len(y), 1 / len(y))
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = x / scale

    def loss(v: np.ndarray) -> tuple[float, np.ndarray]:
        logits = v[0] + z @ v[1:]
        p = 1 / (1 + np.exp(-logits))
        eps = 1e-12
        value = -np.sum(weight * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))
        value += l2 * np.sum(v[1:] ** 2)
        residual = weight * (p - y)
        grad = np.concatenate([[residual.sum()], z.T @ residual + 2 * l2 * v[1:]])
        return float(value), grad

    result = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B")
    return float(result.x[0]), result.x[1:], scale


def question_scores(items: list[Asked], model: answerability.AnswerabilityModel) -> np.ndarray:
    """Each question's best sentence probability (-1: declined before any sentence is read)."""
    scores = []
    for item in items:
        if item.declined_early or item.features is None or not len(item.features):
            scores.append(-1.0)
        else:
            scores.append(float(model.probability(item.features).max()))
    return np.array(scores)


def choose_threshold(items: list[Asked], scores: np.ndarray) -> float:
    """The lowest threshold (most answered) that still declines DECLINE_TARGET of the
    unanswerable questions."""
    bad = np.sort(scores[[not i.answerable for i in items]])
    if not len(bad):
        return 0.5
    # Decline the lowest ceil(target · n) unanswerable: the threshold sits just above them.
    keep = int(np.ceil(DECLINE_TARGET * len(bad)))
    return float(bad[keep - 1] + 1e-9) if keep else 0.0


def answered_sentences(item: Asked, model: answerability.AnswerabilityModel) -> list[str]:
    """answerability.answer's choice, from the cached features."""
    if item.declined_early or item.features is None or not len(item.features):
        return []
    assert item.sentences is not None and item.cosine_binding is not None
    chances = model.probability(item.features)
    kept = [
        n for n in np.argsort(-item.cosine_binding, kind="stable") if chances[n] >= model.threshold
    ]
    if not kept:
        return []
    limit = 2 if item.kind_other else 1
    best = item.cosine_binding[kept[0]]
    return [item.sentences[n] for n in kept[:limit] if item.cosine_binding[n] >= 0.85 * best]


@dataclass
class Tally:
    answerable: int = 0
    answered: int = 0
    gold: int = 0
    unanswerable: int = 0
    declined: int = 0

    def add(self, answerable: bool, abstained: bool, gold: bool) -> None:
        if answerable:
            self.answerable += 1
            self.answered += not abstained
            self.gold += gold
        else:
            self.unanswerable += 1
            self.declined += abstained

    def extend(self, other: Tally) -> None:
        for attr in vars(self):
            setattr(self, attr, getattr(self, attr) + getattr(other, attr))

    def __str__(self) -> str:
        def rate(n: int, d: int) -> str:
            return f"{n / d:6.1%}" if d else "   n/a"

        return (
            f"answered {rate(self.answered, self.answerable)} ({self.answered}/{self.answerable})"
            f"  gold {rate(self.gold, self.answerable)}"
            f"  declined {rate(self.declined, self.unanswerable)}"
            f" ({self.declined}/{self.unanswerable})"
        )


def learned_tally(
    items: list[Asked], model: answerability.AnswerabilityModel, *, gate: bool = False
) -> Tally:
    """`gate`: the rules' `unmentioned` still declines first (the variant)."""
    tally = Tally()
    for item in items:
        if gate and item.unmentioned:
            tally.add(item.answerable, True, False)
            continue
        said = _normalise(" ".join(answered_sentences(item, model)))
        gold = bool(said) and any(g in said for g in item.golds)
        tally.add(item.answerable, not said, gold)
    return tally


def hybrid_tally(items: list[Asked], model: answerability.AnswerabilityModel) -> Tally:
    """The hybrid decision over all (ungated) items: its model's gates, after unmentioned."""
    return learned_tally(behind_gates(items, model.gates), model)


def rules_tally(items: list[Asked]) -> Tally:
    tally = Tally()
    for item in items:
        tally.add(item.answerable, bool(item.rules_abstained), bool(item.rules_gold))
    return tally


def folds_of(items: list[Asked], k: int, seed: int) -> list[list[Asked]]:
    groups = sorted({i.group for i in items})
    random.Random(seed).shuffle(groups)
    fold = {g: n % k for n, g in enumerate(groups)}
    return [[i for i in items if fold[i.group] == n] for n in range(k)]


def train(
    items: list[Asked], squad: list[Asked], l2: float, gates: tuple[str, ...] = ()
) -> answerability.AnswerabilityModel:
    bias, weights, scale = fit(items + squad, l2)
    model = answerability.AnswerabilityModel(bias, weights, scale, 0.5, gates)
    threshold = choose_threshold(items, question_scores(items, model))
    return answerability.AnswerabilityModel(bias, weights, scale, threshold, gates)


def behind_gates(items: list[Asked], gates: tuple[str, ...]) -> list[Asked]:
    """The hybrid's view of the items: only the sentences that pass `gates` are candidates,
    and a question `unmentioned` declines (news) has none."""
    if not gates:
        return items
    columns = [answerability.FEATURES.index(f"{g}_ok") for g in gates]
    seen = []
    for item in items:
        assert item.features is not None and item.labels is not None
        assert item.sentences is not None and item.cosine_binding is not None
        keep = np.flatnonzero(item.features[:, columns].all(axis=1))
        if item.unmentioned:
            keep = keep[:0]
        seen.append(
            replace(
                item,
                features=item.features[keep],
                labels=item.labels[keep],
                sentences=[item.sentences[n] for n in keep],
                cosine_binding=item.cosine_binding[keep],
            )
        )
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/answerability"))
    parser.add_argument("--squad", type=int, default=400, help="SQuAD questions (half answerable)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--l2", type=float, default=L2)
    parser.add_argument("--no-squad", action="store_true", help="Fit on news questions only.")
    parser.add_argument("--refeature", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument(
        "--gates",
        default="",
        help="Comma-separated rules kept as hard gates (the hybrid decision, e.g. kind or "
        "kind,slot); --write then stores the hybrid weights file.",
    )
    parser.add_argument(
        "--gate-report", action="store_true", help="Why the rules decline answerable questions."
    )
    parser.add_argument(
        "--latency", type=int, default=0, help="Time both decisions on the first N news questions."
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    args.work_dir.mkdir(parents=True, exist_ok=True)
    embedder = build_embedder(Settings(_env_file=None))
    retrieved = args.work_dir / f"retrieved-{args.squad}-{args.seed}.pkl"
    if retrieved.exists():
        news, squad = pickle.loads(retrieved.read_bytes())
    else:
        started = time.monotonic()
        news = collect_news(embedder)
        squad = collect_squad(embedder, args.squad, args.seed)
        retrieved.write_bytes(pickle.dumps((news, squad)))
        print(f"retrieved in {time.monotonic() - started:.0f} s")
    featured = args.work_dir / f"features-{args.squad}-{args.seed}.pkl"
    if featured.exists() and not args.refeature:
        news, squad = pickle.loads(featured.read_bytes())
    else:
        took = featurise(news + squad, embedder)
        p50, p95 = np.percentile(took, [50, 95])
        print(
            f"features of {len(took)} questions: {sum(took) / 1000:.0f} s, "
            f"p50 {p50:.0f} ms, p95 {p95:.0f} ms per question"
        )
        featured.write_bytes(pickle.dumps((news, squad)))
    if args.no_squad:
        squad = []
    for item in news:
        item.unmentioned = bool(unmentioned(item.content, item.passages))
    gates = tuple(g for g in args.gates.split(",") if g)
    if unknown := set(gates) - set(GATES):
        parser.error(f"unknown gates {sorted(unknown)}; the rules are {GATES}")
    if gates:
        # In service `unmentioned` declines a SQuAD question as it declines a news one.
        for item in squad:
            item.unmentioned = bool(unmentioned(item.content, item.passages))
    all_news, all_squad = news, squad  # learned (no gates) in the same folds, to compare
    news, squad = behind_gates(news, gates), behind_gates(squad, gates)
    if args.gate_report:
        gate_report(all_news)
    if args.latency:
        latency(news[: args.latency], embedder)
    sentences = sum(len(i.features) for i in news + squad if i.features is not None)
    positives = sum(int(i.labels.sum()) for i in news + squad if i.labels is not None)
    print(
        f"{len(news)} news questions ({sum(i.answerable for i in news)} answerable), "
        f"{len(squad)} SQuAD ({sum(i.answerable for i in squad)} answerable); "
        f"{sentences} sentences, {positives} holding a gold span"
    )

    curve = [0.2, 0.3, 0.4, 0.5]
    names = ["rules", "learned", "learned after unmentioned"] + (
        [f"hybrid ({'+'.join(gates)})"] if gates else []
    )
    pooled = {name: Tally() for name in names}
    # Per split, held folds only. The rules were written on every one of these splits (the
    # held-out ones stay out of fitting), so their rows here are in-sample.
    by_split: dict[str, dict[str, Tally]] = {}
    pooled_curve = {t: Tally() for t in curve}
    # Folds are drawn by article over the same questions, so learned and hybrid are
    # measured on the very same held questions.
    for n, held in enumerate(folds_of(all_news, args.folds, args.seed)):
        rest = [i for i in all_news if i not in held]
        model = train(rest, all_squad, args.l2)
        tallies: dict[str, Callable[[list[Asked]], Tally]] = {
            "rules": rules_tally,
            "learned": partial(learned_tally, model=model),
            "learned after unmentioned": partial(learned_tally, model=model, gate=True),
        }
        if gates:
            gated_rest, gated_held = behind_gates(rest, gates), behind_gates(held, gates)
            hybrid = train(gated_rest, squad, args.l2, gates)
            tallies[names[-1]] = partial(hybrid_tally, model=hybrid)
            model_used = hybrid
            curve_items = gated_held
        else:
            model_used, curve_items = model, held
        for t in curve:
            pooled_curve[t].extend(learned_tally(curve_items, _with_threshold(model_used, t)))
        for item in held:
            split = by_split.setdefault(item.split, {name: Tally() for name in names})
            for name, tally in tallies.items():
                split[name].extend(tally([item]))
        articles = len({i.group for i in held})
        print(
            f"fold {n} ({articles} articles, threshold learned {model.threshold:.3f}"
            + (f", hybrid {model_used.threshold:.3f}" if gates else "")
            + " from training folds)"
        )
        for name, tally in tallies.items():
            result = tally(held)
            pooled[name].extend(result)
            print(f"  {name:26} {result}")
    print("pooled over the held folds")
    for name, total in pooled.items():
        print(f"  {name:26} {total}")
    print("per split (held folds)")
    for split_name in [s for s in news_qa.SPLITS if s in by_split]:
        for name, total in by_split[split_name].items():
            print(f"  {split_name:8} {name:26} {total}")
    print(f"{names[-1]} at fixed thresholds (pooled held folds)")
    for t in curve:
        print(f"  {t:.2f}    {pooled_curve[t]}")

    if args.write:
        model = train(news, squad, args.l2, gates)
        trained_on = (
            f"{len(news)} news QA questions (tune … {SPENT[-1]}) and {len(squad)} SQuAD 2.0 dev "
            "questions outside the shipped sample and bench/squad_abstention.py's articles"
        )
        target = HYBRID_WEIGHTS if gates else WEIGHTS
        target.write_text(
            model.to_json(
                script="bench/fit_answerability.py"
                + (f" --gates {','.join(gates)}" if gates else ""),
                l2=args.l2,
                decline_target=DECLINE_TARGET,
                trained_on=trained_on,
            )
        )
        print(f"wrote {target} (threshold {model.threshold:.3f})")
        print(f"  in-sample news: {learned_tally(news, model)}")


def gate_report(news: list[Asked]) -> None:
    """Why the rules decline the answerable questions they decline, and how many unanswerable
    ones the story gate declines (what loosening it would cost)."""
    causes: Counter[str] = Counter()
    story_words: list[str] = []
    answerable = [i for i in news if i.answerable]
    for item in answerable:
        if not item.rules_abstained:
            continue
        if missing := unmentioned(item.content, item.passages):
            causes["story gate (unmentioned)"] += 1
            story_words.append(f"  [{item.split}] {item.question} → {missing}")
        elif item.labels is None or item.features is None or not item.labels.sum():
            causes["no retrieved sentence holds the gold span"] += 1
        else:
            failed = [
                [g for g in GATES if not row[answerability.FEATURES.index(f"{g}_ok")]]
                for row in item.features[item.labels > 0]
            ]
            fewest = min(failed, key=len)
            causes["fails " + "+".join(fewest) if fewest else "passes (not the answer chosen)"] += 1
    declined = sum(bool(i.rules_abstained) for i in answerable)
    print(f"rules decline {declined} of {len(answerable)} answerable news questions:")
    for cause, count in causes.most_common():
        print(f"  {count:4d}  {cause}")
    unanswerable = [i for i in news if not i.answerable]
    gated = sum(bool(unmentioned(i.content, i.passages)) for i in unanswerable)
    print(f"the story gate declines {gated} of {len(unanswerable)} unanswerable ones; it declined:")
    print("\n".join(story_words))


def latency(items: list[Asked], embedder: Embedder) -> None:
    """ms per question of the extractive answer, rules against learned and hybrid (shipped
    weights), on the same cached passages; each question once per decision, alternating. The
    hybrid decision declines first on the story check, as the answerer does."""
    extractive = ExtractiveAnswerer(embedder)
    learned = answerability.packaged_model()
    hybrid = answerability.packaged_model(hybrid=True)
    took: dict[str, list[float]] = {"rules": [], "learned": [], "hybrid": []}
    for item in items:
        for name in took:
            started = time.perf_counter()
            if name == "rules":
                extractive.answer(item.content, item.passages)
            elif name == "learned":
                answerability.answer(extractive, learned, item.content, item.passages)
            elif not unmentioned(item.content, item.passages):
                answerability.answer(extractive, hybrid, item.content, item.passages)
            took[name].append((time.perf_counter() - started) * 1000)
    for name, values in took.items():
        p50, p95 = np.percentile(values, [50, 95])
        print(f"{name:8} {len(values)} questions: p50 {p50:.0f} ms, p95 {p95:.0f} ms")


def _with_threshold(
    model: answerability.AnswerabilityModel, threshold: float
) -> answerability.AnswerabilityModel:
    return answerability.AnswerabilityModel(model.bias, model.weights, model.scale, threshold)


if __name__ == "__main__":
    main()

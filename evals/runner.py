"""Run a suite against the service in a data directory of its own (never the user's).

The suite's articles are ingested once into a temporary directory; each configuration
(backend × retrieval mode) then opens that collection with its own settings and answers every
question through the same public core the API uses: `desk.searcher`, `desk.answerer()` and
`desk.summarizer()`."""

from __future__ import annotations

import itertools
import logging
import platform
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from newsdesk.answers import CitedAnswer, SummaryRequest
from newsdesk.container import Newsdesk, build_embedder
from newsdesk.domain import Passage
from newsdesk.embedding import CachingEmbedder, Embedder
from newsdesk.evals import metrics
from newsdesk.evals.aggregate import aggregate_rows
from newsdesk.evals.results import (
    CheckerRow,
    Environment,
    EvalResults,
    IngestStats,
    Models,
    QuestionRow,
    ResultRow,
    RunConfig,
    RunResult,
    SummaryRow,
)
from newsdesk.evals.suite import Question, Suite, SummaryItem
from newsdesk.generation.evidence_sentences import evidence_spans
from newsdesk.generation.summarize import Summarizer
from newsdesk.generation.support import SupportScorer
from newsdesk.index.text import normalise_text, sentence_spans
from newsdesk.settings import Settings

log = logging.getLogger(__name__)

# Chunks fetched for the retrieval metrics: enough to rank 10 distinct articles even when an
# article has several chunks among the best.
RETRIEVAL_CHUNKS = 40
Progress = Callable[[str], None]


def _settings(data_dir: Path, config: RunConfig) -> Settings:
    # The rest (LLM endpoint, thresholds, fusion weights) comes from the environment as usual.
    overrides: dict[str, Any] = {
        "data_dir": data_dir,
        "backend": config.backend,
        "retrieval_mode": config.retrieval,
    }
    if config.top_k is not None:
        overrides["default_top_k"] = config.top_k
    return Settings(**overrides)


@contextmanager
def _scratch_dir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    path = Path(tempfile.mkdtemp(prefix="newsdesk-eval-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_suite(
    suite: Suite,
    configs: list[RunConfig],
    *,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    data_dir: Path | None = None,
) -> EvalResults:
    """Run every configuration; returns the results document (its shape: evals/results.py)."""
    say = progress or (lambda _message: None)
    started = datetime.now(UTC)
    with _scratch_dir(data_dir) as scratch:
        first = _settings(scratch / "data", configs[0])
        embedder = embedder or build_embedder(first)
        ingest = _ingest(suite, first, embedder, say)
        shared_rows = _shared_summary_rows(suite, embedder, first, say)
        runs = []
        for config in configs:
            say(f"running {config.label}")
            with Newsdesk.open(_settings(scratch / "data", config), embedder=embedder) as desk:
                runs.append(_run_config(suite, desk, config, shared_rows, say))
    return EvalResults(
        suite=suite.name,
        licence=suite.licence,
        started_at=started,
        finished_at=datetime.now(UTC),
        ingest=ingest,
        environment=_environment(embedder),
        runs=runs,
    )


def _environment(embedder: Embedder) -> Environment:
    versions: dict[str, str | None] = {}
    for package in ("newsdesk", "sentence-transformers", "faiss-cpu", "bm25s", "rouge-score"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return Environment(
        python=platform.python_version(), embedding_model=embedder.model_id, packages=versions
    )


def _ingest(suite: Suite, settings: Settings, embedder: Embedder, say: Progress) -> IngestStats:
    say(f"ingesting {len(suite.articles)} articles into {settings.data_dir}")
    started = time.perf_counter()
    with Newsdesk.open(settings, embedder=embedder) as desk:
        report = desk.ingestor.ingest(suite.articles)
    for rejected in report.rejected[:5]:
        log.warning("suite article rejected: %s: %s", rejected.id, rejected.reason)
    return IngestStats(
        articles=len(report.added) + len(report.updated) + len(report.unchanged),
        rejected=len(report.rejected),
        chunks=report.chunks,
        seconds=round(time.perf_counter() - started, 2),
    )


def _run_config(
    suite: Suite, desk: Newsdesk, config: RunConfig, shared_rows: list[CheckerRow], say: Progress
) -> RunResult:
    scorer = desk.checker.scorer  # the checker's own scorer, over the shared embedder cache
    threshold = desk.settings.support_threshold
    rows: list[ResultRow] = []
    models: set[str] = set()
    for number, question in enumerate(suite.questions, start=1):
        row, model = _question_row(desk, question, scorer, threshold)
        rows.append(row)
        if model:
            models.add(model)
        if number % 25 == 0 or number == len(suite.questions):
            say(f"{config.label}: {number}/{len(suite.questions)} questions")
    rows += _summary_rows(desk, suite, say)
    rows += shared_rows
    return RunResult(
        label=config.label,
        config=config,
        settings=desk.settings.model_dump(mode="json", exclude={"openai_api_key"}),
        models=Models(embedding=desk.embedder.model_id, llm=sorted(models)),
        aggregates=aggregate_rows(rows),
        rows=rows,
    )


# --- questions -----------------------------------------------------------------------------


def _ranking_keys(question: Question, passages: list[Passage]) -> list[str]:
    """What each retrieved chunk counts as: the gold passage it contains, else (with passage
    gold) itself, else (with article gold) its article."""
    if not question.gold_passages:
        return metrics.distinct([p.article_id for p in passages])
    golds = [" ".join(g.split()) for g in question.gold_passages]
    keys = []
    for passage in passages:
        text = " ".join(passage.text.split())
        hit = next((f"gold:{i}" for i, g in enumerate(golds) if g in text), None)
        keys.append(hit or f"chunk:{passage.chunk_id}")
    return metrics.distinct(keys)


def _gold_keys(question: Question) -> set[str]:
    if question.gold_passages:
        return {f"gold:{i}" for i in range(len(question.gold_passages))}
    return set(question.gold_article_ids)


def _add_retrieval(row: QuestionRow, desk: Newsdesk, question: Question) -> None:
    started = time.perf_counter()
    top_k = min(RETRIEVAL_CHUNKS, desk.settings.max_top_k)
    passages = desk.searcher.search(question.question, top_k=top_k)
    elapsed = (time.perf_counter() - started) * 1000
    ranked, gold = _ranking_keys(question, passages), _gold_keys(question)
    row.search_ms = round(elapsed, 2)
    row.ranked = ranked[:10]
    row.recall_at_1 = metrics.recall_at_k(ranked, gold, 1)
    row.recall_at_5 = metrics.recall_at_k(ranked, gold, 5)
    row.recall_at_10 = metrics.recall_at_k(ranked, gold, 10)
    row.mrr_at_10 = metrics.mrr_at_k(ranked, gold, 10)
    row.ndcg_at_10 = metrics.ndcg_at_k(ranked, gold, 10)
    row.latency_ms = row.search_ms  # replaced by the answer's latency when there is one


def _question_row(
    desk: Newsdesk, question: Question, scorer: SupportScorer, threshold: float
) -> tuple[QuestionRow, str | None]:
    row = QuestionRow(id=question.id, question=question.question)
    if question.group:
        row.group = question.group
    if question.has_retrieval_gold:
        _add_retrieval(row, desk, question)
    if not question.asks_for_answer:
        return row, None
    answer = desk.answerer().ask(question.question)
    _add_answer(row, question, answer, scorer, threshold)
    return row, answer.model


def _add_answer(
    row: QuestionRow,
    question: Question,
    answer: CitedAnswer,
    scorer: SupportScorer,
    threshold: float,
) -> None:
    prediction = "" if answer.abstained else metrics.strip_markers(answer.answer)
    timings = answer.timings
    row.prediction = prediction
    row.gold = question.answers
    row.unanswerable = question.unanswerable
    row.abstained = answer.abstained
    row.degraded_share = float(answer.degraded)
    row.exact_match = metrics.exact_match(prediction, question.answers)
    row.f1 = metrics.token_f1(prediction, question.answers)
    row.latency_ms = timings.total_ms
    row.retrieval_ms = timings.retrieval_ms
    row.generation_ms = timings.generation_ms
    row.check_ms = timings.check_ms
    if not question.unanswerable:
        row.exact_match_answerable = row.exact_match
        row.f1_answerable = row.f1
        row.answer_containment = metrics.answer_contains(prediction, question.answers)
    if answer.abstained or not answer.sentences:
        return
    row.answer_words = len(prediction.split())
    _add_citations(row, answer, scorer, threshold)


def _add_citations(
    row: QuestionRow, answer: CitedAnswer, scorer: SupportScorer, threshold: float
) -> None:
    """ALCE citation recall/precision with the service's scorer and with the lexical proxy,
    and faithfulness (share of sentences the service itself marked supported)."""
    quotes = {c.number: c.quote for c in answer.citations}
    sentences = [
        (s.text, [quotes[n] for n in s.citations if n in quotes]) for s in answer.sentences
    ]

    def service_entails(evidence: str, claim: str) -> bool:
        return float(scorer.score([claim], [evidence])[0, 0]) >= threshold

    row.citation_recall, row.citation_precision = metrics.citation_scores(
        sentences, service_entails
    )
    row.citation_recall_lexical, row.citation_precision_lexical = metrics.citation_scores(
        sentences, metrics.lexically_entails
    )
    row.faithfulness = float(np.mean([s.supported for s in answer.sentences]))


# --- summaries -----------------------------------------------------------------------------


def _article_texts(suite: Suite) -> dict[str, str]:
    return {a.id: a.text for a in suite.articles}


def _summary_rows(desk: Newsdesk, suite: Suite, say: Progress) -> list[SummaryRow]:
    items = [s for s in suite.summaries if s.reference]
    if not items:
        return []
    summarizer = desk.summarizer()
    texts = _article_texts(suite)
    rows = []
    for number, item in enumerate(items, start=1):
        reference = item.reference or ""
        row = SummaryRow(id=item.id, article_id=item.article_id)
        if item.group:
            row.group = item.group
        lead = metrics.rouge(metrics.lead_n(normalise_text(texts[item.article_id])), reference)
        row.lead3_rouge1, row.lead3_rouge2, row.lead3_rougeL = _rouge_triple(lead)
        _add_summary(row, summarizer, item, reference)
        rows.append(row)
        if number % 10 == 0 or number == len(items):
            say(f"{number}/{len(items)} summaries")
    return rows


def _rouge_triple(scores: dict[str, float]) -> tuple[float, float, float]:
    return scores["rouge1"], scores["rouge2"], scores["rougeL"]


def _add_summary(
    row: SummaryRow, summarizer: Summarizer, item: SummaryItem, reference: str
) -> None:
    summary = summarizer.summarize(SummaryRequest(article_id=item.article_id, length="medium"))
    text = metrics.strip_markers(summary.summary)
    row.summary = text
    row.summary_cached = summary.cached
    if not summary.cached:  # a cache hit (a re-run with --work-dir) says nothing of cost
        row.summary_ms = summary.timings.total_ms
    row.rouge1, row.rouge2, row.rougeL = _rouge_triple(metrics.rouge(text, reference))
    row.degraded_share = float(summary.degraded)
    if summary.sentences:
        row.summary_faithfulness = float(np.mean([s.supported for s in summary.sentences]))


_SPACE_BEFORE = re.compile(r"\s+([.,;:!?'])")  # FRANK summaries are PTB-tokenised: "locke 's ."


_CASED_WORD = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z]\w*)")
_MID_SENTENCE_WORD = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Za-z]\w*)")
# A word the suite's articles write capitalised mid-sentence at least this often (and at least
# _CASED_AT_LEAST times) is a name wherever it appears: "bbc", "london", "scotland".
_CASED_SHARE = 0.9
_CASED_AT_LEAST = 2


def corpus_casing(articles: Iterable[str]) -> dict[str, str]:
    """A truecasing lexicon learned from cased text: each word (lower case) that these
    articles nearly always capitalise mid-sentence, in its commonest capitalised form."""
    capitalised: dict[str, Counter[str]] = defaultdict(Counter)
    lower: Counter[str] = Counter()
    for article in articles:
        for word in _MID_SENTENCE_WORD.findall(article):
            if word[0].isupper():
                capitalised[word.lower()][word] += 1
            else:
                lower[word] += 1
    found = {}
    for key, forms in capitalised.items():
        count = forms.total()
        if count >= _CASED_AT_LEAST and count >= _CASED_SHARE * (count + lower[key]):
            found[key] = forms.most_common(1)[0][0]
    return found


def _truecase(summary: str, article: str, corpus: Mapping[str, str] | None = None) -> str:
    """Undo FRANK's lower-casing: a word takes the capitalised form the article uses for it
    mid-sentence, when the article never writes it in lower case; a word the article lacks
    takes its form in `corpus` (see corpus_casing), so an invented name ("the bbc") reads as
    one; and sentences open with a capital. (The checker reads names by their capitals.)"""
    if summary != summary.lower():
        return summary
    lower = set(re.findall(r"\b[a-z]\w*", article))
    cased = {w.lower(): w for w in _CASED_WORD.findall(article) if w.lower() not in lower}
    if corpus:
        in_article = set(re.findall(r"\w+", article.lower()))
        cased = {k: v for k, v in corpus.items() if k not in in_article} | cased
    words = re.sub(r"\w+", lambda m: cased.get(m.group(), m.group()), summary)
    return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), words)


def _shared_summary_rows(
    suite: Suite, embedder: Embedder, settings: Settings, say: Progress
) -> list[CheckerRow]:
    """The support checker against human factuality labels (independent of the backend, so
    computed once per run and shown in every configuration)."""
    labelled = [
        (item, ms, ms.human_factuality)
        for item in suite.summaries
        for ms in item.model_summaries
        if ms.human_factuality is not None
    ]
    if not labelled:
        return []
    say(f"scoring {len(labelled)} labelled summaries with the support checker")
    scorer = SupportScorer(CachingEmbedder(embedder))
    texts = _article_texts(suite)
    casing = corpus_casing(normalise_text(text) for text in texts.values())
    rows = []
    for item, model_summary, human_factuality in labelled:
        article = normalise_text(texts[item.article_id])
        spans = evidence_spans(article)  # the checker's sentences ("debt.But" is two)
        units = [article[s.start : s.end] for s in spans]
        units += [article[a.start : b.end] for a, b in itertools.pairwise(spans)]
        summary = _truecase(_SPACE_BEFORE.sub(r"\1", model_summary.summary), article, casing)
        claims = [summary[s.start : s.end] for s in sentence_spans(summary)] or [summary]
        # The summary cites the whole article, as an answer sentence cites its passage.
        best = scorer.score(claims, units, [article] * len(units)).max(axis=1)
        lexical = [metrics.lexical_support(article, claim) for claim in claims]
        row = CheckerRow(
            id=f"{item.id}/{model_summary.model}",
            human_factuality=human_factuality,
            checker_min=float(best.min()),
            checker_mean=float(best.mean()),
            lexical_min=float(min(lexical)),
        )
        if item.group:
            row.group = item.group
        rows.append(row)
    return rows

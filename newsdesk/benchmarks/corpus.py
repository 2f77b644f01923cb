"""Real news text for benchmarks, seeded.

Synthetic articles recombine runs of sentences from the FRANK CNN/DailyMail and XSum articles
of the shipped `news-summarisation` suite (so the installed wheel can run them, with no
repository checkout): every run with the same seed ingests the same text, and every article is
distinct so none is skipped as unchanged."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources

from newsdesk.domain import ArticleInput
from newsdesk.embedding import Embedder
from newsdesk.index.chunking import TextChunk, chunk_text
from newsdesk.index.text import normalise_text, sentence_spans
from newsdesk.settings import Settings

NEWS_SUITE = "news-summarisation.json.gz"
DEFAULT_SEED = 20240601


@dataclass(frozen=True, slots=True)
class SourceArticle:
    dataset: str
    sentences: tuple[str, ...]
    summary: str


def load_sources() -> list[SourceArticle]:
    """The shipped suite's articles, split into sentences, with their reference summaries."""
    suite_file = resources.files("newsdesk.evals") / "suites" / NEWS_SUITE
    data = json.loads(gzip.decompress(suite_file.read_bytes()))
    summaries = {s["article_id"]: s.get("reference", "") for s in data["summaries"]}
    sources = []
    for article in data["articles"]:
        text = normalise_text(article["text"])
        sentences = tuple(text[s.start : s.end] for s in sentence_spans(text))
        if sentences:
            dataset = article["id"].split("-")[1] if article["id"].count("-") >= 2 else "news"
            sources.append(SourceArticle(dataset, sentences, summaries.get(article["id"], "")))
    return sources


def make_queries(sources: Sequence[SourceArticle], count: int, seed: int) -> list[str]:
    """First sentence of each reference summary: news questions not verbatim in the corpus."""
    queries = []
    for source in sources:
        summary = " ".join(source.summary.replace(" .", ".").split())
        spans = sentence_spans(summary)
        if spans:
            queries.append(" ".join(summary[spans[0].start : spans[0].end].split()[:40]))
    random.Random(seed).shuffle(queries)
    if not queries:
        raise ValueError("no reference summaries to use as queries")
    return [queries[i % len(queries)] for i in range(count)]


class SyntheticCorpus:
    """News-like articles of 3–7 paragraphs, each a run of 2–5 sentences from one source."""

    def __init__(self, sources: Sequence[SourceArticle], seed: int = DEFAULT_SEED) -> None:
        if not sources:
            raise ValueError("no source articles")
        self._sources = sources
        self._rng = random.Random(seed)
        self._seen: set[str] = set()
        self._count = 0
        self._epoch = datetime(2015, 1, 1, tzinfo=UTC)

    def take(self, count: int) -> list[ArticleInput]:
        return [self._next() for _ in range(count)]

    def _next(self) -> ArticleInput:
        while True:
            first, paragraphs = self._paragraphs()
            text = "\n\n".join(paragraphs)
            digest = hashlib.sha256(text.encode()).hexdigest()
            if digest not in self._seen:
                self._seen.add(digest)
                break
        self._count += 1
        words = first.sentences[0].split()
        return ArticleInput(
            id=f"bench-{self._count:07d}",
            title=" ".join(words[:14]) + ("…" if len(words) > 14 else ""),
            text=text,
            source=f"synthetic-{first.dataset}",
            published_at=self._epoch + timedelta(minutes=self._rng.randrange(2 * 365 * 24 * 60)),
        )

    def _paragraphs(self) -> tuple[SourceArticle, list[str]]:
        paragraphs = []
        chosen = [self._rng.choice(self._sources) for _ in range(self._rng.randint(3, 7))]
        for source in chosen:
            run = min(self._rng.randint(2, 5), len(source.sentences))
            start = self._rng.randrange(len(source.sentences) - run + 1)
            paragraphs.append(" ".join(source.sentences[start : start + run]))
        return chosen[0], paragraphs


def chunk_texts(
    embedder: Embedder, settings: Settings, count: int, seed: int = DEFAULT_SEED
) -> list[str]:
    """``count`` chunk texts cut as the ingestor cuts them, from seeded synthetic articles."""
    corpus = SyntheticCorpus(load_sources(), seed)
    return [c.text for c in synthetic_chunks(corpus, embedder, settings, count)]


def synthetic_chunks(
    corpus: SyntheticCorpus, embedder: Embedder, settings: Settings, count: int
) -> list[TextChunk]:
    """The next ``count`` chunks of ``corpus``'s articles, cut as the ingestor cuts them."""
    max_tokens = min(settings.chunk_tokens, embedder.max_tokens)
    chunks: list[TextChunk] = []
    while len(chunks) < count:
        for article in corpus.take(16):
            chunks += chunk_text(
                normalise_text(article.text),
                embedder,
                max_tokens=max_tokens,
                overlap_sentences=settings.chunk_overlap_sentences,
            )
    return chunks[:count]

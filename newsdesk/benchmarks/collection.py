"""Synthetic collections for the search benchmarks: real news text, cheap vectors, cached.

Articles recombine runs of sentences from real news articles (the FRANK CNN/DM + XSum articles
of the shipped news suite, seeded), as ``corpus.py`` and ``bench/ingest_search.py`` do. Embedding a million chunks with the real model
would take hours on 2 cores, so chunk vectors come from a cheap deterministic encoder,
``SentenceMeanEncoder``: the normalised mean of the *real* embeddings of a text's sentences.
Each source sentence is embedded once with the real model and kept (``sentences.npz``), so a
chunk's vector costs a lookup. Queries go through the same encoder (the real model on each of
their sentences, uncached), so dense scores compare like with like and recall@10 against
exact search is measured on vectors that live where real embeddings live (mixtures of real
sentence embeddings) rather than on random points.

A collection is a newsdesk data directory under the work directory (``chunks-<N>-seed-<S>``):
SQLite built once, and one derived-index directory per index kind (``indexes-<kind>``), each
built once and then loaded from its snapshot; ``indexes`` is a symlink to the kind in use."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import numpy as np

from newsdesk.benchmarks.corpus import NEWS_SUITE, SourceArticle
from newsdesk.embedding import Embedder
from newsdesk.index.text import normalise_text, sentence_spans
from newsdesk.settings import Settings
from newsdesk.stores.sqlite import ArticleStore, ArticleWrite, ChunkWrite

log = logging.getLogger(__name__)

DEFAULT_WORK_DIR = Path.home() / ".cache" / "newsdesk-bench"
# Words per chunk: the chunker's default 200 model tokens at ~1.3 tokens per English word.
CHUNK_WORDS = 150
ARTICLES_PER_WRITE = 500
_GLUED = re.compile(r"([a-z0-9%)][.!?][\"']?)([A-Z])")


def load_sources() -> list[SourceArticle]:
    """The shipped news suite's articles as sentences (the FRANK CNN/DM + XSum articles).

    The XSum texts lost the space after most full stops ("approval.The move"): put it back,
    so that sentences split as written; a sentence still longer than half a chunk is left
    out (the chunker would cut it into pieces)."""
    suite_file = resources.files("newsdesk.evals") / "suites" / NEWS_SUITE
    data = json.loads(gzip.decompress(suite_file.read_bytes()))
    summaries: dict[str, str] = {}
    for summary in data["summaries"]:
        summaries.setdefault(summary["article_id"], summary.get("reference", ""))
    sources = []
    for article in data["articles"]:
        text = normalise_text(_GLUED.sub(r"\1 \2", article["text"]))
        sentences = tuple(
            sentence
            for span in sentence_spans(text)
            if len((sentence := text[span.start : span.end]).split()) <= CHUNK_WORDS // 2
        )
        if sentences:
            dataset = article["id"].split("-")[1] if article["id"].count("-") >= 2 else "news"
            sources.append(SourceArticle(dataset, sentences, summaries.get(article["id"], "")))
    return sources


@dataclass(frozen=True, slots=True)
class SyntheticArticle:
    id: str
    title: str
    text: str
    source: str
    published_at: datetime
    sentences: tuple[tuple[int, int], ...]  # character span of each sentence in ``text``


def synthetic_articles(sources: Sequence[SourceArticle], seed: int) -> Iterator[SyntheticArticle]:
    """Endless seeded articles of 3-7 paragraphs, each a run of 2-5 sentences of one source.
    The text is assembled here, so every sentence's span is known without splitting again."""
    rng = random.Random(seed)
    epoch = datetime(2015, 1, 1, tzinfo=UTC)
    count = 0
    while True:
        parts: list[str] = []
        spans: list[tuple[int, int]] = []
        position = 0
        first = None
        for paragraph in range(rng.randint(3, 7)):
            source = rng.choice(sources)
            first = first or source
            run = min(rng.randint(2, 5), len(source.sentences))
            start = rng.randrange(len(source.sentences) - run + 1)
            for n, sentence in enumerate(source.sentences[start : start + run]):
                separator = ("\n\n" if paragraph else "") if n == 0 else " "
                parts.append(separator + sentence)
                position += len(separator)
                spans.append((position, position + len(sentence)))
                position += len(sentence)
        assert first is not None
        count += 1
        yield SyntheticArticle(
            id=f"bench-{count:08d}",
            title=" ".join(first.sentences[0].split()[:14]),
            text="".join(parts),
            source=f"synthetic-{first.dataset}",
            published_at=epoch + timedelta(minutes=rng.randrange(2 * 365 * 24 * 60)),
            sentences=tuple(spans),
        )


@dataclass(frozen=True, slots=True)
class SyntheticChunk:
    seq: int
    char_start: int
    char_end: int
    words: int
    sentences: tuple[str, ...]


def chunk_sentences(
    article: SyntheticArticle, max_words: int = CHUNK_WORDS
) -> list[SyntheticChunk]:
    """The chunker's packing (index/chunking.py) on known sentences: whole sentences up to
    ``max_words`` words, the last sentence of a chunk repeated at the start of the next."""
    words = [len(article.text[a:b].split()) for a, b in article.sentences]
    groups: list[list[int]] = []
    group: list[int] = []
    for i in range(len(words)):
        if group and sum(words[j] for j in group) + words[i] > max_words:
            groups.append(group)
            overlap = group[-1:]
            group = overlap if words[overlap[0]] + words[i] <= max_words else []
        group.append(i)
    if group and (not groups or group != groups[-1][-len(group) :]):
        groups.append(group)
    return [
        SyntheticChunk(
            seq=seq,
            char_start=article.sentences[g[0]][0],
            char_end=article.sentences[g[-1]][1],
            words=sum(words[j] for j in g),
            sentences=tuple(article.text[slice(*article.sentences[j])] for j in g),
        )
        for seq, g in enumerate(groups)
    ]


class SentenceMeanEncoder:
    """The normalised mean of the real model's embeddings of a text's sentences.

    ``pooled`` serves the collection builder from the sentence cache; ``embed`` (what the
    searcher calls for queries) always runs the real model, so query latency is real."""

    def __init__(self, model: Embedder, cache: dict[str, np.ndarray] | None = None) -> None:
        self.model = model
        self.cache: dict[str, np.ndarray] = cache if cache is not None else {}

    @property
    def model_id(self) -> str:
        return f"bench-sentence-mean:{self.model.model_id}"

    @property
    def dimension(self) -> int:
        return self.model.dimension

    @property
    def max_tokens(self) -> int:
        return self.model.max_tokens

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return self.model.token_spans(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        sentences = [_sentences(text) for text in texts]
        flat = [s for group in sentences for s in group]
        vectors = self.model.embed(flat) if flat else np.zeros((0, self.dimension), np.float32)
        return self._means(sentences, dict(zip(flat, vectors, strict=True)))

    def pooled(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """Vectors of texts given as their sentences, from the sentence cache."""
        missing = sorted({s for group in sentences for s in group if s not in self.cache})
        if missing:
            self.cache.update(zip(missing, self.model.embed(missing), strict=True))
        return self._means([list(group) for group in sentences], self.cache)

    def _means(self, sentences: list[list[str]], vectors: dict[str, np.ndarray]) -> np.ndarray:
        out = np.zeros((len(sentences), self.dimension), dtype=np.float32)
        for row, group in enumerate(sentences):
            if group:
                mean = np.mean([vectors[s] for s in group], axis=0)
                out[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return out


def _sentences(text: str) -> list[str]:
    """Sentences, a paragraph break ending one too (a caption without a full stop)."""
    found = [part[s.start : s.end] for part in text.split("\n\n") for s in sentence_spans(part)]
    return found or ([text] if text else [])


def load_sentence_cache(
    path: Path, sources: Sequence[SourceArticle], model: Embedder
) -> dict[str, np.ndarray]:
    """The real embedding of every source sentence, computed once and kept in ``path``."""
    key = model.model_id
    texts = sorted({s for source in sources for s in source.sentences})
    if path.is_file():
        data = np.load(path, allow_pickle=False)
        if str(data["model"]) == key:
            cached = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
            if all(text in cached for text in texts):
                return cached
    log.info("embedding %d source sentences with %s (once)", len(texts), key)
    vectors = model.embed(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, model=np.array(key), texts=np.array(texts), vectors=vectors)
    partial.replace(path)
    return dict(zip(texts, vectors, strict=True))


@dataclass(frozen=True, slots=True)
class Collection:
    directory: Path  # a newsdesk data directory
    chunks: int
    articles: int
    seed: int
    build_seconds: float

    def settings(self, base: Settings, vector_index: str, vector_store: str = "faiss") -> Settings:
        """``base`` (the caller's settings: index parameters…) on this collection."""
        return on_collection(base, self.directory, vector_index, vector_store)

    def use_index(self, kind: str, vector_store: str = "faiss") -> Path:
        """Point ``indexes`` at this kind's own directory (built on first open)."""
        target = self.directory / f"indexes-{index_label(kind, vector_store)}"
        target.mkdir(exist_ok=True)
        link = self.directory / "indexes"
        if link.is_symlink() or link.exists():
            if link.is_symlink() and link.readlink().name == target.name:
                return target
            link.unlink()
        link.symlink_to(target.name)
        return target


def index_label(kind: str, vector_store: str) -> str:
    """What names a kind's snapshots (and Milvus files) in a benchmark collection."""
    return kind if vector_store == "faiss" else f"{vector_store}-{kind}"


def on_collection(
    base: Settings, directory: Path, vector_index: str, vector_store: str
) -> Settings:
    """``base`` on the collection in ``directory`` with this index; with Milvus, each index
    kind has its own milvus-lite directory beside the collection, as each faiss kind has its
    own snapshots."""
    update: dict[str, object] = {
        "data_dir": directory,
        "vector_index": vector_index,
        "vector_store": vector_store,
    }
    if vector_store == "milvus":
        update["milvus_uri"] = str(directory / f"{index_label(vector_index, vector_store)}.db")
    return base.model_copy(update=update)


def ensure_collection(
    work_dir: Path,
    chunks: int,
    seed: int,
    sources: Sequence[SourceArticle],
    encoder: SentenceMeanEncoder,
    progress: Callable[[str], None] = log.info,
) -> Collection:
    """The cached collection of at least ``chunks`` chunks, built on first use."""
    directory = work_dir / f"chunks-{chunks}-seed-{seed}"
    done = directory / "collection.json"
    if done.is_file():
        meta = json.loads(done.read_text())
        if meta.get("model_id") == encoder.model_id:
            return Collection(
                directory, meta["chunks"], meta["articles"], seed, meta["build_seconds"]
            )
    if directory.exists():  # an interrupted build: start over
        for entry in sorted(directory.rglob("*"), reverse=True):
            entry.unlink() if entry.is_file() or entry.is_symlink() else entry.rmdir()
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    store = ArticleStore(directory / "newsdesk.sqlite3")
    store.set_state("embedding_model", encoder.model_id)
    written = articles = 0
    batch: list[ArticleWrite] = []
    last_note = time.monotonic()
    for article in synthetic_articles(sources, seed):
        pieces = chunk_sentences(article)
        vectors = encoder.pooled([p.sentences for p in pieces])
        digest = hashlib.sha256(article.text.encode()).hexdigest()
        batch.append(
            ArticleWrite(
                id=article.id,
                title=article.title,
                text=article.text,
                url=None,
                source=article.source,
                author=None,
                published_at=article.published_at,
                metadata={},
                content_hash=digest,
                record_hash=digest,
                chunks=[
                    ChunkWrite(p.seq, p.char_start, p.char_end, p.words, v)
                    for p, v in zip(pieces, vectors, strict=True)
                ],
            )
        )
        written += len(pieces)
        articles += 1
        if len(batch) >= ARTICLES_PER_WRITE or written >= chunks:
            store.write(batch)
            batch = []
            if time.monotonic() - last_note > 30:
                progress(f"collection {directory.name}: {written:,} chunks written")
                last_note = time.monotonic()
        if written >= chunks:
            break
    store.close()
    build_seconds = time.perf_counter() - started
    meta = {
        "chunks": written,
        "articles": articles,
        "seed": seed,
        "model_id": encoder.model_id,
        "build_seconds": round(build_seconds, 2),
    }
    done.write_text(json.dumps(meta, indent=2))
    return Collection(directory, written, articles, seed, build_seconds)


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())

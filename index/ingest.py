"""The write path: validate → normalise → chunk → embed → store, then update the indexes.

Everything that can fail (validation, chunking, embedding) happens before anything is
written; each request (each 64 articles of a longer input) is then one SQLite transaction
followed by the matching index update, so a failure never leaves a half-written index."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from itertools import chain, islice

from newsdesk.domain import ArticleInput, IngestReport, RejectedArticle
from newsdesk.embedding import Embedder
from newsdesk.errors import ArticlesRejected, InvalidInput, NotFound
from newsdesk.index.chunking import TextChunk, Tokenizer, chunk_text
from newsdesk.index.duplicates import Fingerprinter
from newsdesk.index.readers import ReadResult
from newsdesk.index.text import normalise_text, sentence_spans
from newsdesk.metrics import IngestMetrics
from newsdesk.settings import Settings
from newsdesk.stores.derived import DerivedIndexes
from newsdesk.stores.groups import GroupRules
from newsdesk.stores.sqlite import ArticleStore, ArticleWrite, ChunkWrite

log = logging.getLogger(__name__)

ARTICLES_PER_BATCH = 64
Progress = Callable[[int], None]
# What ingest() takes: read articles (or rejections), or writes prepared elsewhere.
IngestItem = ReadResult | ArticleWrite


class Ingestor:
    def __init__(
        self,
        store: ArticleStore,
        indexes: DerivedIndexes,
        embedder: Embedder,
        settings: Settings,
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.embedder = embedder
        self.settings = settings
        self.metrics = IngestMetrics()  # read by /metrics
        self.fingerprinter = Fingerprinter(settings.duplicate_threshold)
        store.group_rules = GroupRules(threshold=settings.duplicate_threshold)

    @property
    def chunk_tokens(self) -> int:
        """Never ask for more tokens than the model embeds without truncating (read per use:
        a reindex may switch the model)."""
        return min(self.settings.chunk_tokens, self.embedder.max_tokens)

    def ingest(self, items: Iterable[IngestItem], progress: Progress | None = None) -> IngestReport:
        """Ingest ``items``. An input of at most ``max_batch_articles`` articles (every
        POST /articles) is committed as one transaction, so after a crash it is all there or
        not at all; a longer one (a CLI file) is committed every 64 articles as it goes.

        An item may arrive prepared (an ``ArticleWrite`` from ``prepare_article``), its chunks
        and fingerprint possibly computed elsewhere (index/ray_ingest.py): they are used when
        the text needs them and dropped when it does not."""
        report = IngestReport()
        seen: set[str] = set()
        iterator = iter(items)
        head = list(islice(iterator, self.settings.max_batch_articles + 1))
        atomic = len(head) <= self.settings.max_batch_articles
        iterator = chain(head, iterator)
        held: list[ArticleWrite] = []
        held_reports: list[IngestReport] = []
        while batch := list(islice(iterator, ARTICLES_PER_BATCH)):
            done, writes = self._ingest_batch(batch, seen)
            if atomic:
                held += writes
                held_reports.append(done)
            else:
                self._commit(writes)
                self.metrics.record(done)  # per batch: each is committed on its own
            report.merge(done)
            if progress:
                progress(len(batch))
        self._commit(held)
        for done in held_reports:
            self.metrics.record(done)
        return report

    def _commit(self, writes: list[ArticleWrite]) -> None:
        if writes:
            self.indexes.write(lambda: self.store.write(writes))

    def ingest_or_raise(
        self, items: Iterable[IngestItem], progress: Progress | None = None
    ) -> IngestReport:
        """Like ingest(), but a request in which every article was rejected is an error."""
        report = self.ingest(items, progress)
        if not (report.added or report.updated or report.unchanged or report.rejected):
            raise InvalidInput("no articles found in the input")
        if report.rejected and not (report.added or report.updated or report.unchanged):
            raise ArticlesRejected(report.rejected)
        return report

    def delete(self, article_id: str) -> None:
        if self.indexes.write(lambda: self.store.delete(article_id)) is None:
            raise NotFound(f"no article with id {article_id!r}")

    # --- one batch -----------------------------------------------------------------------
    def _ingest_batch(
        self, batch: list[IngestItem], seen: set[str]
    ) -> tuple[IngestReport, list[ArticleWrite]]:
        """Validate, chunk and embed a batch: its report and the writes to commit."""
        report = IngestReport()
        prepared: list[ArticleWrite] = []
        for item in batch:
            if isinstance(item, RejectedArticle):
                report.rejected.append(item)
                continue
            if item.id in seen:
                report.rejected.append(
                    RejectedArticle(
                        id=item.id, reason="duplicate id: already given earlier in this request"
                    )
                )
                continue
            seen.add(item.id)
            outcome = item if isinstance(item, ArticleWrite) else self._prepare(item)
            if isinstance(outcome, RejectedArticle):
                report.rejected.append(outcome)
            else:
                prepared.append(outcome)

        stored = self.store.stored_hashes([p.id for p in prepared])
        writes: list[ArticleWrite] = []
        needs_chunks: list[ArticleWrite] = []
        for write in prepared:
            previous = stored.get(write.id)
            if previous is not None and previous.record_hash == write.record_hash:
                report.unchanged.append(write.id)
                continue
            (report.updated if previous else report.added).append(write.id)
            if previous is None or previous.content_hash != write.content_hash:
                needs_chunks.append(write)
                # Computed before the transaction, which then only looks up and writes.
                if write.fingerprint is None:
                    write.fingerprint = self.fingerprinter.fingerprint(write.text)
            else:  # only the fields changed: chunks computed elsewhere are not needed
                write.chunks, write.fingerprint = None, None
            writes.append(write)

        report.chunks = self._chunk_and_embed(needs_chunks)
        return report, writes

    def _prepare(self, article: ArticleInput) -> ArticleWrite | RejectedArticle:
        return prepare_article(article, self.settings)

    def _chunk_and_embed(self, items: list[ArticleWrite]) -> int:
        """Chunk and embed the items that have no chunks yet; all their chunks, counted."""
        pending = [
            (item, chunk_article(item.text, self.embedder, self.chunk_tokens, self.settings))
            for item in items
            if item.chunks is None
        ]
        attach_embeddings(pending, self.embedder)
        return sum(len(item.chunks or ()) for item in items)

    # --- duplicate groups ----------------------------------------------------------------
    def reconcile_duplicates(self, batch_size: int = 256) -> int:
        """Group the articles that are in no group: all of them when the detection's
        parameters changed, else those stored before it existed. Returns how many."""
        if self.store.get_state("duplicate_parameters") != self.fingerprinter.parameters:
            self.store.clear_groups()
            self.store.set_state("duplicate_parameters", self.fingerprinter.parameters)
        done = 0
        # Oldest first, so that grouping in batches meets originals before their copies. The
        # ids are listed once: asking for "the next ungrouped batch" again and again would
        # scan and sort the whole archive per batch (quadratic: minutes at 60k articles).
        ids = self.store.ungrouped_article_ids()
        for start in range(0, len(ids), batch_size):
            batch = self.store.article_texts(ids[start : start + batch_size])
            fingerprints = [(i, self.fingerprinter.fingerprint(text)) for i, text in batch]
            self.store.place_in_groups(fingerprints)
            done += len(batch)
        if done:
            log.info("grouped %d articles by near-duplicate text", done)
        return done

    # --- model changes -------------------------------------------------------------------
    def reconcile_embedding_model(self) -> bool:
        """Re-embed every chunk if the stored vectors came from another model."""
        stored = self.store.get_state("embedding_model")
        if stored == self.embedder.model_id:
            return False
        if stored is not None and self.store.chunk_count():
            log.warning(
                "embedding model changed from %s to %s: re-embedding all chunks",
                stored,
                self.embedder.model_id,
            )
            # iter_texts pages by id, so rewriting the rows already read is safe.
            for ids, texts in self.store.iter_texts(batch_size=1024):
                self.store.replace_embeddings(ids, self.embedder.embed(texts))
        self.store.set_state("embedding_model", self.embedder.model_id)
        return stored is not None


def prepare_article(article: ArticleInput, settings: Settings) -> ArticleWrite | RejectedArticle:
    """Validate and normalise an article into the write that stores it (chunks to come)."""
    if len(article.text) > settings.max_article_chars:
        return RejectedArticle(
            id=article.id,
            reason=f"text is {len(article.text):,} characters; the limit is "
            f"{settings.max_article_chars:,} (NEWSDESK_MAX_ARTICLE_CHARS)",
        )
    metadata_bytes = len(
        json.dumps(article.metadata, ensure_ascii=False, separators=(",", ":"), default=str).encode(
            "utf-8"
        )
    )
    if metadata_bytes > settings.max_metadata_bytes:
        return RejectedArticle(
            id=article.id,
            reason=f"metadata is {metadata_bytes:,} bytes as JSON; the limit is "
            f"{settings.max_metadata_bytes:,} (NEWSDESK_MAX_METADATA_BYTES)",
        )
    text = normalise_text(article.text)
    if not text:
        return RejectedArticle(id=article.id, reason="text is empty")
    title = " ".join(article.title.split()) or _title_from(text)
    content_hash = _sha256(text)
    record = {
        "title": title,
        "text_sha256": content_hash,
        "url": article.url,
        "source": article.source,
        "author": article.author,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "metadata": article.metadata,
    }
    return ArticleWrite(
        id=article.id,
        title=title,
        text=text,
        url=article.url,
        source=article.source,
        author=article.author,
        published_at=article.published_at,
        metadata=article.metadata,
        content_hash=content_hash,
        record_hash=_sha256(json.dumps(record, sort_keys=True, default=str)),
        chunks=None,
    )


def chunk_article(
    text: str, tokenizer: Tokenizer, chunk_tokens: int, settings: Settings
) -> list[TextChunk]:
    """An article's chunks; ``chunk_tokens`` is the budget already capped at the model's limit."""
    return chunk_text(
        text,
        tokenizer,
        max_tokens=chunk_tokens,
        overlap_sentences=settings.chunk_overlap_sentences,
    )


def attach_embeddings(
    pending: list[tuple[ArticleWrite, list[TextChunk]]], embedder: Embedder
) -> None:
    """Embed the chunks of each write in one call and give each write its ``ChunkWrite``s."""
    vectors = embedder.embed([c.text for _, chunks in pending for c in chunks])
    row = 0
    for item, chunks in pending:
        item.chunks = [
            ChunkWrite(c.seq, c.char_start, c.char_end, c.token_count, vectors[row + i])
            for i, c in enumerate(chunks)
        ]
        row += len(chunks)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _title_from(text: str) -> str:
    spans = sentence_spans(text.split("\n", 1)[0])
    first = text[spans[0].start : spans[0].end] if spans else text
    return first if len(first) <= 120 else first[:117].rsplit(" ", 1)[0] + "…"

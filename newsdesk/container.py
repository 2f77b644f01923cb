"""The one place that builds the components from settings.

The HTTP app builds a ``Newsdesk`` in its lifespan hook and keeps it on ``app.state``; the CLI
and the evals build one per run. Nothing loads a model at import time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType

from newsdesk.embedding import Embedder, SentenceTransformerEmbedder
from newsdesk.index.ingest import Ingestor
from newsdesk.retrieval.search import Searcher
from newsdesk.settings import Settings
from newsdesk.stores.derived import DerivedIndexes
from newsdesk.stores.lexical import Bm25Index
from newsdesk.stores.sqlite import ArticleStore
from newsdesk.stores.vectors import FaissVectorIndex

log = logging.getLogger(__name__)


def build_embedder(settings: Settings) -> Embedder:
    return SentenceTransformerEmbedder(
        settings.embedding_model,
        device=settings.embedding_device,
        batch_size=settings.embedding_batch_size,
        offline=settings.offline,
    )


@dataclass
class Newsdesk:
    settings: Settings
    store: ArticleStore
    embedder: Embedder
    indexes: DerivedIndexes
    ingestor: Ingestor
    searcher: Searcher
    index_status: str

    @classmethod
    def open(cls, settings: Settings, *, embedder: Embedder | None = None) -> Newsdesk:
        """Open (or create) the collection in ``settings.data_dir``.

        ``embedder`` lets callers that open several collections share one loaded model.
        """
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        embedder = embedder or build_embedder(settings)
        store = ArticleStore(settings.database_path)
        indexes = DerivedIndexes(
            store,
            FaissVectorIndex(embedder.dimension, settings),
            Bm25Index(),
            settings.index_dir,
            embedder.model_id,
        )
        ingestor = Ingestor(store, indexes, embedder, settings)
        ingestor.reconcile_embedding_model()
        status = indexes.open()
        log.info("indexes %s (%d chunks)", status, len(indexes.vectors))
        return cls(
            settings=settings,
            store=store,
            embedder=embedder,
            indexes=indexes,
            ingestor=ingestor,
            searcher=Searcher(store, indexes, embedder, settings),
            index_status=status,
        )

    def close(self) -> None:
        self.indexes.flush()
        self.store.close()

    def __enter__(self) -> Newsdesk:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

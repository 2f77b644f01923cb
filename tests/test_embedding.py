from pathlib import Path

import numpy as np
import pytest

from newsdesk.benchmarks.corpus import chunk_texts
from newsdesk.container import Newsdesk, build_embedder
from newsdesk.domain import ArticleInput
from newsdesk.embedding import (
    CachingEmbedder,
    Embedder,
    SentenceTransformerEmbedder,
    is_local_model,
)
from newsdesk.settings import EmbeddingBackend, Settings


def test_cached_vectors_equal_fresh_ones_and_old_ones_are_evicted(embedder: Embedder) -> None:
    cache = CachingEmbedder(embedder, max_items=3)
    texts = ["The crane fell.", "NATO refused.", "The crane fell."]
    vectors = cache.embed(texts)
    assert np.allclose(vectors, embedder.embed(texts), atol=1e-6)
    assert len(cache) == 2
    cache.embed(["Shuttle retired.", "Rain fell."])
    assert len(cache) == 3
    # "The crane fell." was used again after "NATO refused.", so NATO goes first.
    assert "NATO refused." not in cache
    assert "The crane fell." in cache and "Rain fell." in cache
    assert cache.embed([]).shape == (0, embedder.dimension)


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def news_chunks(torch_embedder: Embedder) -> list[str]:
    return chunk_texts(torch_embedder, Settings(_env_file=None), 48, seed=3)


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty conversion cache: this module converts the packaged model itself, once."""
    return tmp_path_factory.mktemp("models")


@pytest.mark.parametrize("backend", ["openvino", "openvino-bf16"])
def test_openvino_vectors_agree_with_torch_fp32_on_news_text(
    backend: EmbeddingBackend,
    tmp_path: Path,
    model_cache: Path,
    torch_embedder: Embedder,
    news_chunks: list[str],
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        embedding_backend=backend,
        embedding_cache_dir=model_cache,
        _env_file=None,
    )
    fast = build_embedder(settings)
    assert fast.model_id != torch_embedder.model_id and backend.split("-")[0] in fast.model_id
    assert (fast.dimension, fast.max_tokens) == (torch_embedder.dimension, 256)
    # Batches of mixed lengths (padding), a single text, and none.
    texts = [*news_chunks, "Flood warnings."]
    cosines = np.sum(fast.embed(texts) * torch_embedder.embed(texts), axis=1)
    assert cosines.min() >= 0.99, cosines.min()
    assert np.allclose(np.linalg.norm(fast.embed(texts[:1]), axis=1), 1.0, atol=1e-4)
    assert fast.embed([]).shape == (0, fast.dimension)
    # Chunking counts tokens through token_spans: the same spans as the torch tokenizer's.
    assert fast.token_spans(news_chunks) == torch_embedder.token_spans(news_chunks)
    # The conversion is kept: a second embedder loads it instead of converting again.
    exports = list(model_cache.iterdir())
    assert len(exports) == 1 and (exports[0] / "manifest.json").is_file()
    build_embedder(settings)
    assert list(model_cache.iterdir()) == exports


def test_changing_the_backend_re_embeds_the_collection(
    tmp_path: Path, torch_embedder: Embedder, samples: list[ArticleInput]
) -> None:
    settings = Settings(data_dir=tmp_path / "data", backend="extractive", _env_file=None)
    with Newsdesk.open(settings, embedder=torch_embedder) as desk:
        desk.ingestor.ingest(samples[:3])
        assert desk.store.get_state("embedding_model") == torch_embedder.model_id
        ids, texts = next(desk.store.iter_texts())
    fast = build_embedder(settings.model_copy(update={"embedding_backend": "openvino-bf16"}))
    with Newsdesk.open(settings, embedder=fast) as desk:
        assert desk.store.get_state("embedding_model") == fast.model_id
        # The stored vectors are now exactly the new backend's vectors of the chunk texts.
        stored_ids, vectors = next(desk.store.iter_vectors())
        assert np.array_equal(stored_ids, ids)
        assert np.allclose(vectors, fast.embed(texts), atol=1e-5)
        if _cpu_has_bf16():
            # torch's and bf16's differ by ~1e-3 per component, so this tells them apart; a
            # CPU without bf16 runs OpenVINO in fp32, whose vectors match torch's.
            assert not np.allclose(vectors, torch_embedder.embed(texts), atol=1e-5)
        assert desk.searcher.search(texts[0], mode="dense")[0].text == texts[0]


def _cpu_has_bf16() -> bool:
    import openvino

    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def test_only_the_packaged_model_or_a_model_folder_is_local(tmp_path: Path) -> None:
    assert is_local_model("all-MiniLM-L6-v2")
    assert not is_local_model("sentence-transformers/all-mpnet-base-v2")  # a hub name
    assert not is_local_model("x" * 300)  # longer than a file name may be: no error either
    assert not is_local_model(str(tmp_path))
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    assert is_local_model(str(tmp_path))

import numpy as np

from newsdesk.embedding import CachingEmbedder, Embedder


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

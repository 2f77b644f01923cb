"""The reference every embedding ratio is taken against: a plain fp32 torch
``SentenceTransformer.encode`` of the same texts, loaded from the same model files."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from newsdesk.embedding import resolve_model_path
from newsdesk.settings import Settings

BASELINE_BATCH_SIZE = 64


def plain_encoder(settings: Settings) -> Callable[[Sequence[str]], np.ndarray]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_model_path(settings.embedding_model), device="cpu")

    def encode(texts: Sequence[str]) -> np.ndarray:
        vectors = model.encode(
            list(texts),
            batch_size=BASELINE_BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    return encode

"""An embedding cache kept in a scratch file between benchmark runs.

The checker's benchmarks embed tens of thousands of article sentences (the FRANK suite alone
holds ~25,000 evidence units); on a shared 2-core machine that takes many minutes, so
bench/fact_checker.py and bench/train_checker.py can keep the vectors in a file
(`--embeddings /tmp/<you>/embeddings.pkl`) keyed by the model and the text. Only a cache:
the same model gives the same vectors, deleting the file changes no figure.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from newsdesk.embedding import CachingEmbedder, Embedder


class ScratchEmbeddings(CachingEmbedder):
    """A CachingEmbedder that never forgets and loads/saves its vectors to `path`."""

    def __init__(self, inner: Embedder, path: Path | None) -> None:
        super().__init__(inner, max_items=10**7)
        self.path = path
        if path is not None and path.exists():
            stored = pickle.loads(path.read_bytes())
            if stored.get("model") == inner.model_id:
                self._vectors.update(stored["vectors"])

    def save(self) -> None:
        if self.path is not None:
            data = {"model": self.model_id, "vectors": dict(self._vectors)}
            self.path.write_bytes(pickle.dumps(data))

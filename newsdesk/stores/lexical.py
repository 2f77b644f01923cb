"""BM25 lexical index (bm25s, English stemming and stop words), keyed by chunk id.

bm25s builds a static index, so changes are applied by rebuilding from SQLite; the owner
decides when (lazily, on the next search after a write)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import bm25s
import numpy as np
import Stemmer

# bm25s sets its own logger to DEBUG on import, which floods every caller's output.
logging.getLogger("bm25s").setLevel(logging.WARNING)


class LexicalIndex(Protocol):
    def __len__(self) -> int: ...

    def rebuild(self, ids: np.ndarray, texts: Sequence[str]) -> None: ...

    def search(
        self, query: str, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """BM25 scores and ids of the k best chunks with a positive score."""

    def save(self, directory: Path) -> None: ...

    def load(self, directory: Path) -> None: ...


class Bm25Index:
    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._bm25: bm25s.BM25 | None = None
        self._ids = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._ids)

    def _tokenize(self, texts: Sequence[str]) -> bm25s.tokenization.Tokenized:
        return bm25s.tokenize(
            list(texts), stopwords="en", stemmer=self._stemmer, show_progress=False
        )

    def rebuild(self, ids: np.ndarray, texts: Sequence[str]) -> None:
        order = np.argsort(ids, kind="stable")
        self._ids = np.ascontiguousarray(ids[order], dtype=np.int64)
        if not len(ids):
            self._bm25 = None
            return
        tokens = self._tokenize([texts[i] for i in order])
        if not tokens.vocab:
            # Nothing but stop words: nothing to match (bm25s cannot index an empty vocabulary).
            self._bm25 = None
            return
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        self._bm25 = bm25

    def search(
        self, query: str, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        empty = np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        if self._bm25 is None or k <= 0:
            return empty
        tokens = self._tokenize([query])
        # A query of nothing but stop words or unseen terms matches nothing.
        if not any(token_ids for token_ids in tokens.ids):
            return empty
        mask = None
        if allowed_ids is not None:
            mask = np.isin(self._ids, allowed_ids).astype(np.float32)
            if not mask.any():
                return empty
        docs, scores = self._bm25.retrieve(
            tokens, k=min(k, len(self._ids)), show_progress=False, weight_mask=mask, n_threads=1
        )
        positions, values = docs[0], scores[0]
        keep = values > 0
        return values[keep].astype(np.float32), self._ids[positions[keep]]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "chunk_ids.npy", self._ids)
        if self._bm25 is not None:
            self._bm25.save(str(directory / "bm25"), show_progress=False)
        (directory / "lexical.json").write_text(json.dumps({"empty": self._bm25 is None}))

    def load(self, directory: Path) -> None:
        self._ids = np.load(directory / "chunk_ids.npy")
        empty = json.loads((directory / "lexical.json").read_text())["empty"]
        self._bm25 = (
            None if empty else bm25s.BM25.load(str(directory / "bm25"), show_progress=False)
        )

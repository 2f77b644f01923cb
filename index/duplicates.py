"""Near-duplicate fingerprints: a MinHash signature of an article's word shingles (datasketch)
and its LSH band keys. stores/groups.py finds and confirms the duplicates with them inside the
article's write transaction.

Why these choices:
- Shingles of 5 lower-cased words: a rewritten lead or an inserted paragraph changes only the
  shingles it touches, while two different stories on one topic share few 5-word runs (their
  background paragraphs aside).
- 128 permutations: the Jaccard estimate's standard error is ≤ 0.045, small against the gap
  between copies (exact Jaccard 0.42–0.9 on the hand-labelled fixture, tests/data/duplicates)
  and different stories (≤ 0.14 there, for a follow-up that reuses a background paragraph).
- Bands chosen by datasketch for the threshold with false negatives weighted 0.8: at the
  default threshold 0.4 (31 bands of 3 rows) a copy at 0.4 is a candidate with probability
  0.87, at 0.5 0.98 (missing copies is worse than confirming a few more candidates, which
  costs a signature comparison each)."""

from __future__ import annotations

import hashlib
import re

import numpy as np
from datasketch import MinHash, MinHashLSH

from newsdesk.stores.groups import Fingerprint

SHINGLE_WORDS = 5
NUM_PERM = 128
_SEED = 1
# datasketch 2's default hashing scheme, named so that a new default cannot change the
# signatures under us (the stored ones would stop matching new ones).
_SCHEME = "affine32"
_WORD = re.compile(r"\w+")


class Fingerprinter:
    def __init__(self, threshold: float) -> None:
        lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM, weights=(0.2, 0.8))
        self.bands: int = lsh.b
        self.rows: int = lsh.r
        # Permutations drawn once (datasketch draws them per MinHash otherwise: most of the
        # cost for a short text).
        self._permutations = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME).permutations

    @property
    def parameters(self) -> str:
        """What the stored signatures and bands depend on: a change regroups every article."""
        return f"minhash:{_SCHEME}:w{SHINGLE_WORDS}:p{NUM_PERM}:s{_SEED}:b{self.bands}r{self.rows}"

    def fingerprint(self, text: str) -> Fingerprint | None:
        """None for a text without words: it is nobody's copy."""
        runs = shingles(text)
        if not runs:
            return None
        minhash = MinHash(
            num_perm=NUM_PERM, seed=_SEED, permutations=self._permutations, scheme=_SCHEME
        )
        minhash.update_batch(runs)
        signature = np.asarray(minhash.hashvalues, dtype=np.uint32)
        keys = tuple(
            _band_key(signature[band * self.rows : (band + 1) * self.rows])
            for band in range(self.bands)
        )
        return Fingerprint(signature=signature, band_keys=keys)


def shingles(text: str) -> list[bytes]:
    """The distinct runs of SHINGLE_WORDS words (a shorter text is one shingle; an empty one
    has none, and its signature matches nothing)."""
    words = _WORD.findall(text.lower())
    if len(words) <= SHINGLE_WORDS:
        return [" ".join(words).encode("utf-8")] if words else []
    runs = {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}
    return [run.encode("utf-8") for run in sorted(runs)]


def _band_key(values: np.ndarray) -> int:
    digest = hashlib.blake2b(values.astype("<u4").tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)  # fits SQLite's INTEGER

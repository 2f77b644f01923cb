"""What authentication costs a request: the stored-key lookup the auth middleware makes for
every request with a key (one indexed SELECT by SHA-256 digest, on the event loop), for a
known key, an unknown one, and the "are there keys at all" check of a service without keys.

    python bench/key_lookup.py [--keys 1000] [--rounds 20000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from newsdesk.stores.keys import KeyStore, new_key


def _per_call_us(call: Callable[[int], object], rounds: int) -> float:
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for i in range(rounds):
            call(i)
        samples.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        empty = KeyStore(Path(tmp) / "empty" / "newsdesk.sqlite3")
        print(
            f"has_keys, no keys stored: {_per_call_us(lambda _: empty.has_keys(), args.rounds):.1f} µs"
        )
        store = KeyStore(Path(tmp) / "keys" / "newsdesk.sqlite3")
        keys = [store.create("read")[1] for _ in range(args.keys)]
        unknown = new_key()
        hit = _per_call_us(lambda i: store.lookup(keys[i % len(keys)]), args.rounds)
        miss = _per_call_us(lambda _: store.lookup(unknown), args.rounds)
        print(f"lookup among {args.keys} keys: known {hit:.1f} µs, unknown {miss:.1f} µs")


if __name__ == "__main__":
    main()

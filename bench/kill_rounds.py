"""Many rounds of kill -9 against a real `newsdesk serve` during a long ingest (see
tests/support/kill_rounds.py). Prints rounds, articles acknowledged, articles lost (must be 0)
and half-visible batches (must be 0).

    PYTHONPATH=$PWD .venv/bin/python bench/kill_rounds.py --rounds 50 --seed 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.kill_rounds import run_rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = run_rounds(Path(tmp) / "data", args.rounds, args.seed, report=print)
    print(f"seed {args.seed}, {args.rounds} rounds in {time.monotonic() - started:.0f} s")
    print(f"articles acknowledged: {ledger.acknowledged}")
    print(f"articles checked after restarts: {len(ledger.checked)}")
    print(f"unacknowledged batches: {ledger.unacknowledged_present} present in full,")
    print(f"  {ledger.unacknowledged_absent} absent")
    print(f"articles lost: {len(ledger.lost)} {ledger.lost[:5]}")
    print(f"half-visible batches: {len(ledger.half_visible)}")
    print(f"refused ingests: {len(ledger.refusals)} {ledger.refusals[:2]}")
    starts = {s: ledger.starts.count(s) for s in set(ledger.starts)}
    print(f"index at each start: {starts}")


if __name__ == "__main__":
    main()

"""The API fuzz test (tests/test_fuzz_api.py) with many more examples: prints figures.

It runs the same pytest module — schemathesis against real uvicorn servers on loopback, with
and without an API key, the extractive backend and the sample articles — with
``NEWSDESK_FUZZ_EXAMPLES`` generated cases per operation (default here 500, against 25 in the
suite), then prints how many requests each run and operation sent, the statuses they got and
how many were server errors (5xx). Schemathesis stops an operation at its first failure and
shrinks it; the failures are in pytest's output, printed after the table.

Run from the repository root (about 20 minutes at 500 examples on 2 busy cores)::

    .venv/bin/python bench/fuzz_api.py                       # 500 examples per operation
    .venv/bin/python bench/fuzz_api.py --examples 2000 --seed 7
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="cases per operation")
    parser.add_argument(
        "--seed", type=int, help="explore other inputs (default: derandomized, as in the suite)"
    )
    parser.add_argument("-k", dest="select", help="pytest -k expression, e.g. 'search or ask'")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fuzz-api-") as tmp:
        log = Path(tmp) / "requests.jsonl"
        env = {
            **os.environ,
            "NEWSDESK_FUZZ_EXAMPLES": str(args.examples),
            "NEWSDESK_FUZZ_LOG": str(log),
        }
        if args.seed is not None:
            env["NEWSDESK_FUZZ_SEED"] = str(args.seed)
        command = [sys.executable, "-m", "pytest", "tests/test_fuzz_api.py", "-q"]
        command += ["-p", "no:cacheprovider", *(["-k", args.select] if args.select else [])]
        started = time.monotonic()
        result = subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
        )
        elapsed = time.monotonic() - started
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    requests = [json.loads(line) for line in lines]

    print(f"examples per operation: {args.examples}; seed: {args.seed or 'derandomized'}")
    print(f"wall clock: {elapsed:.0f} s; pytest exit status: {result.returncode}")
    _print_table(requests)
    tail = result.stdout.strip().splitlines()
    print("\npytest:", *(tail if result.returncode else tail[-1:]), sep="\n")
    return result.returncode


def _print_table(requests: list[dict[str, object]]) -> None:
    by_run: dict[str, dict[str, Counter[int]]] = defaultdict(lambda: defaultdict(Counter))
    for request in requests:
        status = request["status"]
        assert isinstance(status, int)
        by_run[str(request["run"])][str(request["operation"])][status] += 1
    for run, operations in by_run.items():
        statuses: Counter[int] = sum(operations.values(), Counter())
        errors = sum(n for status, n in statuses.items() if status >= 500)
        print(f"\n## {run}: {statuses.total()} requests, {errors} with a 5xx")
        print(f"{'operation':<34} {'requests':>8}  statuses")
        for operation, counts in sorted(operations.items()):
            shown = ", ".join(f"{status}×{n}" for status, n in sorted(counts.items()))
            print(f"{operation:<34} {counts.total():>8}  {shown}")


if __name__ == "__main__":
    raise SystemExit(main())

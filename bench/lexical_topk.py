"""BM25 top-k on one saved lexical index: this checkout's search against an earlier
revision's, side by side on the same queries (exactness checked, latency p50/p95/max).

    PYTHONPATH=$PWD .venv/bin/python bench/lexical_topk.py \
        --snapshot ~/.cache/newsdesk-bench/chunks-1000000-seed-13/indexes-hnsw/<snapshot>/lexical \
        --baseline 80365c9 [--queries 300] [--k 50]

The snapshot is a `lexical/` folder of a `newsdesk bench search` collection; the queries are
drawn from the same news text as that benchmark's (seeded). The baseline's lexical module is
read from git (`git show REV:newsdesk/stores/lexical.py`) and loaded beside this one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from newsdesk.benchmarks.corpus import load_sources, make_queries
from newsdesk.stores import lexical


def _module_at(revision: str) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{revision}:newsdesk/stores/lexical.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"lexical_{revision}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def _timings(index: object, queries: list[str], k: int) -> tuple[list[float], list[object]]:
    seconds, results = [], []
    for query in queries:
        started = time.perf_counter()
        results.append(index.search(query, k))  # type: ignore[attr-defined]
        seconds.append(time.perf_counter() - started)
    return seconds, results


def _figures(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, required=True)
    parser.add_argument("--baseline", required=True, help="git revision to compare against")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    indexes = {}
    for name, module in (("baseline", _module_at(args.baseline)), ("current", lexical)):
        index = module.Bm25Index()
        index.load(args.snapshot)
        indexes[name] = index
    queries = make_queries(load_sources(), args.queries + 20, args.seed)
    for index in indexes.values():  # page the memory-mapped matrix in, warm caches
        _timings(index, queries[:20], args.k)
    queries = queries[20:]
    # Interleaved rounds so that both see the same machine state.
    runs: dict[str, list[float]] = {name: [] for name in indexes}
    outputs: dict[str, list[object]] = {}
    for _ in range(2):
        for name, index in indexes.items():
            seconds, outputs[name] = _timings(index, queries, args.k)
            runs[name].extend(seconds)
    # Scores compared, not ids: summing in another order moves float32 scores in the last
    # bits, which reorders documents whose scores tie.
    differing = sum(
        len(a[0]) != len(b[0]) or not np.allclose(a[0], b[0], rtol=1e-5, atol=1e-4)
        for a, b in zip(outputs["baseline"], outputs["current"], strict=True)
    )
    report = {name: _figures(seconds) for name, seconds in runs.items()}
    report["p95_ratio"] = round(report["baseline"]["p95_ms"] / report["current"]["p95_ms"], 2)
    report["queries"] = len(queries)
    report["k"] = args.k
    report["documents"] = len(indexes["current"])
    report["results_differing"] = differing
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

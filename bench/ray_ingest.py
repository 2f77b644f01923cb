"""Ingest throughput, local only against Ray: prints figures, asserts nothing.

The same articles (the 326 news articles of the news-summarisation suite's FRANK CNN/DM +
XSum set, written as 16 .jsonl shards so that read tasks have files to share) are ingested
into fresh collections, alternately:

* ``local``: ``newsdesk ingest`` as it is (one process: read, chunk, embed, write);
* ``ray``: ``newsdesk ingest --ray --workers N`` on a local Ray instance started before the
  clock starts (its start-up is reported on its own), so the figure includes what every Ray
  ingest pays: the pipeline's start, each actor loading the model, and moving the packs.

For each: wall-clock seconds and chunks/s; then the ratio ray / local. Run from the
repository root::

    .venv/bin/python bench/ray_ingest.py --rounds 2 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from newsdesk.api import operations
from newsdesk.container import Newsdesk, build_embedder
from newsdesk.index.ray_ingest import RayOptions
from newsdesk.index.readers import read_paths
from newsdesk.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = (
    REPO_ROOT / ".." / "shared/evaldata/news-summarisation/frank_cnndm_xsum_shared.jsonl"
).resolve()
SHARDS = 16


def write_shards(corpus: Path, folder: Path) -> int:
    records = [json.loads(line) for line in corpus.read_text("utf-8").splitlines() if line]
    folder.mkdir(parents=True)
    for shard in range(SHARDS):
        with (folder / f"shard-{shard:02d}.jsonl").open("w", encoding="utf-8") as out:
            for record in records[shard::SHARDS]:
                article = {"id": record["id"], "title": "", "text": record["article"]}
                out.write(json.dumps(article) + "\n")
    return len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import ray

    work = Path(tempfile.mkdtemp(prefix="ray-ingest-bench-"))
    articles = write_shards(args.corpus, work / "articles")
    settings = Settings(data_dir=work / "unused", backend="extractive", _env_file=None)
    embedder = build_embedder(settings)  # loaded once for the local runs, outside the clock
    started = time.perf_counter()
    ray.init(
        num_cpus=args.workers + 1,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="warning",
    )
    ray_start = time.perf_counter() - started
    print(f"{articles} articles; local Ray instance started in {ray_start:.1f} s")
    print(f"load average at start: {os.getloadavg()}")
    figures: dict[str, list[float]] = {"local": [], "ray": []}
    for round_ in range(args.rounds):
        for mode in ("local", "ray"):
            data = work / f"{mode}-{round_}"
            run_settings = settings.model_copy(update={"data_dir": data})
            with Newsdesk.open(run_settings, embedder=embedder) as desk:
                started = time.perf_counter()
                if mode == "local":
                    report = operations.ingest(desk, read_paths([work / "articles"]))
                else:
                    options = RayOptions(None, args.workers)
                    report = operations.ingest_on_ray(desk, [work / "articles"], options)
                seconds = time.perf_counter() - started
            rate = report.chunks / seconds
            figures[mode].append(rate)
            print(
                f"round {round_} {mode:5}: {len(report.added)} articles, {report.chunks} chunks "
                f"in {seconds:.1f} s = {rate:.1f} chunks/s (load {os.getloadavg()[0]:.1f})"
            )
    ray.shutdown()
    local, distributed = max(figures["local"]), max(figures["ray"])
    print(
        f"best of {args.rounds}: local {local:.1f} chunks/s, ray ({args.workers} workers) "
        f"{distributed:.1f} chunks/s, ratio ray/local {distributed / local:.2f}"
    )


if __name__ == "__main__":
    main()

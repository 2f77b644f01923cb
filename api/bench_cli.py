"""`newsdesk bench …`: one measurement per subcommand, printed as JSON (figures and the baseline
measured in the same run). The measuring lives in newsdesk.benchmarks, imported when a command
runs so that `newsdesk --help` stays fast."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from newsdesk.settings import Settings

bench_app = typer.Typer(
    help="Benchmarks: `newsdesk bench embed|ingest|search|http [--chunks N] --json` print "
    "figures with a baseline measured in the same run.",
    no_args_is_help=True,
)

ChunksOption = Annotated[
    int, typer.Option("--chunks", min=1, help="Chunks of seeded real news text to measure on.")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the synthetic articles.")]
BenchJsonOption = Annotated[
    bool, typer.Option("--json", help="Print the figures as JSON (the only output format).")
]


def print_figures(figures: dict[str, Any]) -> None:
    print(json.dumps(figures, indent=2))


@bench_app.command("embed")
def bench_embed(
    chunks: ChunksOption = 512,
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="Timed passes of each encoder (best kept).")
    ] = 3,
    seed: SeedOption = 20240601,
    as_json: BenchJsonOption = True,
) -> None:
    """Embedding chunks/s of the configured backend vs plain fp32 SentenceTransformer.encode."""
    from newsdesk.benchmarks import embed

    print_figures(embed.run(Settings(), chunks=chunks, repeats=repeats, seed=seed))


@bench_app.command("ingest")
def bench_ingest(
    chunks: ChunksOption = 512, seed: SeedOption = 20240601, as_json: BenchJsonOption = True
) -> None:
    """End-to-end ingestion chunks/s vs plain fp32 SentenceTransformer.encode of its chunks."""
    from newsdesk.benchmarks import ingest

    print_figures(ingest.run(Settings(), chunks=chunks, seed=seed))


class IndexChoice(StrEnum):
    exact = "exact"
    hnsw = "hnsw"
    ivfpq = "ivfpq"
    auto = "auto"


IndexOption = Annotated[
    IndexChoice,
    typer.Option(
        "--index",
        help="Vector index: exact (flat), hnsw, ivfpq, or auto (the `vector_index=auto` choice "
        "for the collection's size).",
    ),
]


class VectorStoreChoice(StrEnum):
    faiss = "faiss"
    milvus = "milvus"


WorkDirOption = Annotated[
    Path | None,
    typer.Option(
        "--work-dir",
        help="Where synthetic collections and their indexes are cached between runs "
        "(default ~/.cache/newsdesk-bench).",
    ),
]


@bench_app.command("search")
def bench_search(
    chunks: ChunksOption = 10_000,
    index: IndexOption = IndexChoice.auto,
    queries: Annotated[int, typer.Option("--queries", min=1, help="Timed queries.")] = 200,
    work_dir: WorkDirOption = None,
    startup: Annotated[
        bool, typer.Option(help="Also time a fresh process opening the collection.")
    ] = True,
    seed: SeedOption = 13,
    write_probe: Annotated[
        bool,
        typer.Option(
            "--write-probe",
            help="Then add one article (and delete it again) while 2 threads search: time "
            "to searchable, search and lock-wait times during the write (key `write`).",
        ),
    ] = False,
    vector_store: Annotated[
        VectorStoreChoice,
        typer.Option(
            "--vector-store",
            help="Where the vectors are searched: faiss (in process) or milvus (milvus-lite "
            "beside the collection, with --index's Milvus index type).",
        ),
    ] = VectorStoreChoice.faiss,
    as_json: BenchJsonOption = True,
) -> None:
    """Retrieval latency p50/p95 (query embedding + dense + BM25 + fusion), recall@10 against
    exact search, bytes per chunk, build and startup time, on a cached synthetic collection."""
    from newsdesk.benchmarks import search
    from newsdesk.benchmarks.collection import DEFAULT_WORK_DIR

    print_figures(
        search.run(
            Settings(),
            chunks=chunks,
            index=index.value,
            queries=queries,
            work_dir=work_dir or DEFAULT_WORK_DIR,
            seed=seed,
            startup=startup,
            write_probe=write_probe,
            vector_store=vector_store.value,
        )
    )


def concurrency_levels(text: str) -> list[int]:
    """``1,8,32`` as levels; anything else is a usage error (exit status 2), not a traceback."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise typer.BadParameter(
            f"{text!r}: give positive integers separated by commas, e.g. 1,8,32",
            param_hint="'--concurrency'",
        )
    return [int(part) for part in parts]


@bench_app.command("http")
def bench_http(
    chunks: ChunksOption = 10_000,
    index: IndexOption = IndexChoice.auto,
    requests: Annotated[
        int, typer.Option("--requests", min=1, help="Requests per concurrency level.")
    ] = 200,
    concurrency: Annotated[
        str, typer.Option("--concurrency", help="Concurrent clients, comma-separated levels.")
    ] = "1,8,32",
    work_dir: WorkDirOption = None,
    seed: SeedOption = 13,
    as_json: BenchJsonOption = True,
) -> None:
    """/search requests/s and p95 per concurrency over real uvicorn on loopback (a separate
    load-generator process), against the in-process rate of the same searches."""
    levels = concurrency_levels(concurrency)
    from newsdesk.benchmarks import http
    from newsdesk.benchmarks.collection import DEFAULT_WORK_DIR

    print_figures(
        http.run(
            Settings(),
            chunks=chunks,
            index=index.value,
            requests=requests,
            levels=levels,
            work_dir=work_dir or DEFAULT_WORK_DIR,
            seed=seed,
        )
    )

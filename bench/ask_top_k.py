"""A cold `/ask` with a large `top_k`: what the answer stage costs with and without the budget
of passage characters (NEWSDESK_MAX_ANSWER_CONTEXT_CHARS).

    .venv/bin/python bench/ask_top_k.py [--top-k 100] [--backend extractive] [--repeat 2]

Each run opens a fresh collection of the bundled samples (so the answer path's embedding cache
is cold: the first question about a story pays for embedding its sentences) and asks one
question with `top_k`. "unbounded" sets the budget beyond any collection (the behaviour before
the budget existed); "budget" is the default. Prints seconds per run and the answer's stage
timings; asserts nothing."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from newsdesk.container import Newsdesk, build_embedder
from newsdesk.domain import ArticleInput
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "articles.jsonl"
QUESTION = "Why did NATO refuse a no-fly zone over Ukraine?"
UNBOUNDED = 10**12


def load_samples() -> list[ArticleInput]:
    lines = SAMPLES.read_text(encoding="utf-8").splitlines()
    return [ArticleInput.model_validate(json.loads(line)) for line in lines if line.strip()]


def one_run(embedder: Embedder, backend: str, top_k: int, budget: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        extra = {} if budget is None else {"max_answer_context_chars": budget}
        settings = Settings(
            data_dir=Path(tmp) / "data",
            backend=backend,
            max_top_k=max(top_k, 100),
            _env_file=None,
            **extra,
        )
        with Newsdesk.open(settings, embedder=embedder) as desk:
            desk.ingestor.ingest(load_samples())
            answerer = desk.answerer()  # the LLM (if any) starts outside the timed region
            started = time.perf_counter()
            answer = answerer.ask(QUESTION, top_k)
            seconds = time.perf_counter() - started
            return {
                "seconds": seconds,
                "timings": answer.timings.model_dump(exclude_none=True),
                "citations": len(answer.citations),
                "abstained": answer.abstained,
                "degraded": answer.degraded,
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top-k", type=int, default=100)
    parser.add_argument("--backend", default="extractive")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    embedder = build_embedder(Settings(_env_file=None))
    embedder.embed(["warm-up"])  # model loading is not what is measured
    for label, budget in (("unbounded", UNBOUNDED), ("budget", None)):
        runs = [one_run(embedder, args.backend, args.top_k, budget) for _ in range(args.repeat)]
        times = [r["seconds"] for r in runs]
        print(
            f"{label:9} backend={args.backend} top_k={args.top_k}: "
            f"median {statistics.median(times):.1f} s over {len(runs)} cold runs "
            f"({', '.join(f'{t:.1f}' for t in times)})"
        )
        last = runs[-1]
        print(
            f"          last run: timings {last['timings']}, citations {last['citations']}, "
            f"abstained {last['abstained']}, degraded {last['degraded']}"
        )


if __name__ == "__main__":
    main()

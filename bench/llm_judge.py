"""The LLM judge on the perturbation set: per kind, the claims flagged by the checker alone,
the judge alone and both combined (as `supported` combines them), through the `openai`
backend's client.

    .venv/bin/python bench/llm_judge.py                            # Gemma 3 270M, local server
    .venv/bin/python bench/llm_judge.py --local-model qwen2.5-coder-0.5b  # another local model
    .venv/bin/python bench/llm_judge.py --local-model-path M.gguf  # another GGUF, local server
    .venv/bin/python bench/llm_judge.py --base-url URL --model NAME  # any OpenAI-compatible API

Without --base-url, llama.cpp's OpenAI-compatible server is started here on a loopback port
(as the `local` backend does) and the judge talks to it through the same OpenAI client the
`openai` backend uses. Each claim is one answer of one sentence citing its passage: the
checker cites it (the quote is the passage sentence or pair that supports it best), then one
judge call judges it, exactly as /ask would. Local models: measure with --no-json-mode
(llama.cpp's JSON grammar made a Gemma call take over 300 s on a loaded machine). The LLM is slow on 2 cores, so a seeded sample
of --per-kind claims of each kind is judged (the split's full size is printed).
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

from newsdesk.container import build_embedder
from newsdesk.embedding import CachingEmbedder
from newsdesk.evals import perturbations
from newsdesk.evals.metrics import percentile
from newsdesk.generation.citations import CitationChecker
from newsdesk.generation.judge import SentenceJudge
from newsdesk.generation.llm import ChatModel, OpenAIChatModel
from newsdesk.generation.local_server import LocalLlamaServer
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def sample(items: list[perturbations.Item], per_kind: int, seed: int) -> list[perturbations.Item]:
    by_kind: dict[str, list[perturbations.Item]] = defaultdict(list)
    for item in items:
        by_kind[item.kind].append(item)
    rng = random.Random(seed)
    chosen: list[perturbations.Item] = []
    for kind in perturbations.KINDS:
        pool = by_kind.get(kind, [])
        chosen += rng.sample(pool, min(per_kind, len(pool)))
    return chosen


def measure(
    judge: SentenceJudge, checker: CitationChecker, items: list[perturbations.Item]
) -> None:
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    seconds: list[float] = []
    for number, item in enumerate(items, start=1):
        cited = checker.check_marked([(item.claim, [1])], [perturbations.as_passage(item)])
        started = time.perf_counter()
        judged = judge.judge(cited)
        seconds.append(time.perf_counter() - started)
        before, after = cited.sentences[0], judged.sentences[0]
        verdict = after.judge.verdict if after.judge else "unknown"
        row = rows[item.kind]
        row["items"] += 1
        row["checker"] += not before.supported
        row["judge"] += verdict == "unsupported"
        row["unknown"] += verdict == "unknown"
        row["combined"] += not after.supported
        # One line a claim, so that an interrupted run still tells what it saw.
        print(
            f"  {number}/{len(items)} {item.kind}: checker "
            f"{'flags' if not before.supported else 'passes'}, judge {verdict} "
            f"({seconds[-1]:.1f} s)",
            flush=True,
        )
    print()
    print("| kind | claims | checker alone | judge alone | judge unknown | combined |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in perturbations.KINDS:
        row = rows.get(kind)
        if not row:
            continue
        n = row["items"]
        cells = [f"{row[k] / n:.1%}" for k in ("checker", "judge", "unknown", "combined")]
        print(f"| {kind} | {n} | " + " | ".join(cells) + " |")
    for label, kinds in (
        ("true claims flagged", perturbations.SUPPORTED_KINDS),
        ("changed claims flagged", perturbations.CHANGED_KINDS),
    ):
        total = Counter[str]()
        for kind in kinds:
            total.update(rows.get(kind, Counter()))
        n = max(total["items"], 1)
        print(
            f"{label}: checker {total['checker'] / n:.1%}, judge {total['judge'] / n:.1%} "
            f"(unknown {total['unknown'] / n:.1%}), combined {total['combined'] / n:.1%} "
            f"of {total['items']}"
        )
    passes = {
        sample.labels["outcome"]: int(sample.value)
        for metric in judge.metrics.passes.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
    print(f"judge passes by outcome: {passes}")
    print(
        f"judge call: median {percentile(seconds, 50):.2f} s, "
        f"p90 {percentile(seconds, 90):.2f} s, total {sum(seconds):.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["tune", "test"])
    parser.add_argument("--per-kind", type=int, default=20, help="claims judged per kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base-url", help="an OpenAI-compatible endpoint (else: local server)")
    parser.add_argument("--model", default="judge", help="model name sent with --base-url")
    parser.add_argument("--local-model", default="gemma3-270m", help="NEWSDESK_LOCAL_MODEL")
    parser.add_argument("--local-model-path", type=Path, help="GGUF for the local server")
    parser.add_argument("--timeout", type=float, default=120.0, help="per judge call, seconds")
    parser.add_argument("--no-json-mode", action="store_true", help="no response_format")
    args = parser.parse_args()

    items = perturbations.load(ROOT / "evals/suites/perturbations.jsonl.gz", args.split)
    chosen = sample(items, args.per_kind, args.seed)
    settings = Settings(
        _env_file=None,
        data_dir=Path("/tmp/judge-bench/data"),
        local_model=args.local_model,
        local_model_path=args.local_model_path,
        local_startup_seconds=600,
        llm_timeout_seconds=args.timeout,
    )
    checker = CitationChecker(CachingEmbedder(build_embedder(settings), max_items=100_000))
    server: LocalLlamaServer | None = None
    model: ChatModel
    if args.base_url:
        model = OpenAIChatModel(
            base_url=args.base_url,
            api_key=None,
            model=args.model,
            timeout=args.timeout,
            max_retries=0,
        )
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        server = LocalLlamaServer(settings)
        server.start()
        model = server.client_for_current_port(max_retries=0)  # an OpenAIChatModel
    try:
        print(
            f"## LLM judge ({model.name}), {args.split} split: {len(chosen)} claims sampled "
            f"({args.per_kind} per kind, seed {args.seed}) of {len(items)}"
        )
        judge = SentenceJudge(
            model, timeout_seconds=args.timeout, json_output=not args.no_json_mode
        )
        measure(judge, checker, chosen)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()

"""Answer quality and latency on the bundled samples, for the local LLM and the extractive
backend side by side: abstention on off-topic questions, share of answer sentences that pass
the citation check, and latency p50 (retrieval, time to first token, total).

    python bench/answers.py [--backends local,extractive] [--out bench/results/answers.json]

A handful of hand-written questions: a smoke measurement, not an evaluation suite (the evals
issue brings those)."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from newsdesk.container import Newsdesk, build_embedder
from newsdesk.index.readers import read_paths
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

ON_TOPIC = [
    "How many people were killed when the crane fell in Mecca?",
    "Why did NATO refuse to close Ukraine's airspace?",
    "How did Biden describe Zelenskyy?",
    "When did the space shuttle programme end?",
    "Which nationalities get an asylum questionnaire instead of an interview?",
    "What caused the crane to fall into the Grand Mosque?",
    "What did Stoltenberg say a no-fly zone would require?",
    "Who won the robotics competition award for the Afghan girls team?",
]
OFF_TOPIC = [
    "What is the recipe for French onion soup?",
    "Who won the 1998 Eurovision song contest?",
    "How tall is the Eiffel Tower?",
    "What is the capital of Mongolia?",
]


def _p50(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def run_backend(backend: str, data_dir: Path, embedder) -> dict:
    settings = Settings(data_dir=data_dir, backend=backend, _env_file=None)
    with Newsdesk.open(settings, embedder=embedder) as desk:
        answerer = desk.answerer()
        answerer.ask("warm-up question about the news?")
        rows = []
        for question in ON_TOPIC + OFF_TOPIC:
            final = None
            for event in answerer.stream(question):
                final = getattr(event, "answer", final)
            rows.append(
                {
                    "question": question,
                    "off_topic": question in OFF_TOPIC,
                    **json.loads(final.model_dump_json()),
                }
            )
    on = [r for r in rows if not r["off_topic"]]
    off = [r for r in rows if r["off_topic"]]
    sentences = [s for r in on for s in r["sentences"]]
    return {
        "backend": backend,
        "answered_on_topic": sum(not r["abstained"] for r in on),
        "abstained_off_topic": sum(r["abstained"] for r in off),
        "sentences": len(sentences),
        "supported_share": round(sum(s["supported"] for s in sentences) / len(sentences), 3)
        if sentences
        else None,
        "degraded": sum(r["degraded"] for r in rows),
        "retrieval_p50_ms": _p50([r["timings"]["retrieval_ms"] for r in rows]),
        "first_token_p50_ms": _p50(
            [r["timings"]["first_token_ms"] for r in rows if r["timings"]["first_token_ms"]]
        ),
        "total_p50_ms": _p50([r["timings"]["total_ms"] for r in rows]),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="local,extractive")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "answers.json")
    args = parser.parse_args()
    embedder = build_embedder(Settings(_env_file=None))
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        with Newsdesk.open(Settings(data_dir=data_dir, _env_file=None), embedder=embedder) as desk:
            desk.ingestor.ingest(read_paths([ROOT / "samples" / "articles.jsonl"]))
        results = [run_backend(b, data_dir, embedder) for b in args.backends.split(",")]
    header = f"{len(ON_TOPIC)} on-topic and {len(OFF_TOPIC)} off-topic questions on the samples"
    print(header)
    columns = [
        "backend",
        "answered_on_topic",
        "abstained_off_topic",
        "sentences",
        "supported_share",
        "degraded",
        "retrieval_p50_ms",
        "first_token_p50_ms",
        "total_p50_ms",
    ]
    for column in columns:
        print(f"{column:22}" + "".join(f"{r[column]!s:>14}" for r in results))
    for result in results:
        print(f"\n--- {result['backend']}")
        for row in result["rows"]:
            flag = (
                "ABSTAIN"
                if row["abstained"]
                else f"{sum(s['supported'] for s in row['sentences'])}/{len(row['sentences'])} ok"
            )
            print(f"[{flag}] {row['question']}\n    {row['answer'][:300]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

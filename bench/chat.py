"""Follow-up questions on the bundled samples: does rewriting them into standalone questions
(generation/conversation.py) bring back the right article, and what does it cost?

For each hand-written two-turn conversation the first question is answered (extractive), its
reply becomes the assistant turn, and the follow-up is answered three ways: as typed, rewritten
by the rules, and (with --llm) rewritten by the local model (Gemma 3 270M, with the rules as
fallback when its rewrite is implausible). Printed per way: the rewritten question names the
earlier turn's entity, the answer cites the right article, rewrite latency p50.

    python bench/chat.py [--llm]

A smoke measurement on eight conversations, not an evaluation suite."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from newsdesk.container import Newsdesk, build_embedder
from newsdesk.generation.conversation import QuestionRewriter, Turn, render_sources
from newsdesk.generation.local_server import LocalLlamaServer
from newsdesk.index.readers import read_paths
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
NATO = "nato-no-fly-zone-stoltenberg"
CRANE = "wikinews-2015-mecca-crane-collapse"

# (first question, follow-up, a term the standalone question must contain, article to cite)
CONVERSATIONS = [
    ("How did Stoltenberg describe Zelenskyy?", "And how did Biden describe him?", "Zelenskyy", NATO),
    ("How many people were killed when the crane fell in Mecca?", "How many were injured?", "Mecca", CRANE),
    ("How many people were killed when the crane fell in Mecca?", "What caused it?", "crane", CRANE),
    ("Why did NATO refuse to close Ukraine's airspace?", "What would it have required?", "NATO", NATO),
    ("When did NASA launch the first space shuttle?", "Where will the retired ones go?", "shuttle",
     "wikinews-2011-nasa-shuttle-anniversary-retirement"),
    ("Why did hackers attack the Church of Scientology website?", "Who were they?", "Scientology",
     "wikinews-2008-scientology-website-attack"),
    ("How many asylum seekers were rescued off Indonesia?", "Where did they come from?", "Indonesia",
     "wikinews-2015-asylum-seekers-rescued-off-indonesia"),
    ("Which team won the robotics award despite visa problems?", "Who is their coach?", "robotics",
     "wikinews-2017-afghan-girls-robotics-team"),
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", action="store_true", help="also rewrite with the local model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", backend="extractive", _env_file=None)
        with Newsdesk.open(settings, embedder=build_embedder(settings)) as desk:
            desk.ingestor.ingest(list(read_paths([ROOT / "samples" / "articles.jsonl"])))
            ways: dict[str, QuestionRewriter | None] = {"as typed": None}
            ways["rules"] = QuestionRewriter(None)
            server = LocalLlamaServer(settings.model_copy(update={"backend": "local"}))
            if args.llm:
                server.start()
                ways["local LLM"] = QuestionRewriter(server.chat_model())
            try:
                rows = [_measure(desk, name, rewriter) for name, rewriter in ways.items()]
            finally:
                server.stop()
    print(
        "| follow-up as | names the earlier entity | right article cited | LLM rewrite used | rewrite p50 |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['way']} | {row['named']} / {len(CONVERSATIONS)} | {row['cited']} / "
            f"{len(CONVERSATIONS)} | {row['llm_used']} | {row['p50']} |"
        )


def _measure(desk: Newsdesk, way: str, rewriter: QuestionRewriter | None) -> dict:
    answerer = desk.answerer()
    named = cited = llm_used = 0
    seconds: list[float] = []
    for first, follow_up, term, article_id in CONVERSATIONS:
        reply = answerer.ask(first)
        sources = render_sources(reply)
        turns = [
            Turn("user", first),
            Turn("assistant", f"{reply.answer}\n\n{sources}" if sources else reply.answer),
            Turn("user", follow_up),
        ]
        question, started = follow_up, time.perf_counter()
        if rewriter is not None:
            standalone = rewriter.rewrite(turns)
            seconds.append(time.perf_counter() - started)
            question = standalone.text
            llm_used += standalone.method == "llm"
            print(f"{way}: {follow_up!r} -> {question!r} {standalone.note or ''}", file=sys.stderr)
        answer = answerer.ask(question)
        named += term.lower() in question.lower()
        right = bool(answer.citations) and answer.citations[0].article_id == article_id
        if not right:
            print(f"{way}: {question!r} not answered from {article_id}", file=sys.stderr)
        cited += right
    p50 = f"{statistics.median(seconds) * 1000:.1f} ms" if seconds else "—"
    return {
        "way": way,
        "named": named,
        "cited": cited,
        "llm_used": llm_used if way == "local LLM" else "—",
        "p50": p50,
    }


if __name__ == "__main__":
    main()

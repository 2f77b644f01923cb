"""Near-duplicate detection: grouping precision / recall, and what it costs an ingest.

1. Precision / recall of pairs (two articles in one group vs one story by label):
   - ``hand``: the hand-labelled fixture (tests/data/duplicates: copies with rewritten leads,
     revisions, excerpts, an undated copy, a follow-up story reusing a paragraph). The
     threshold (0.4) was chosen looking at this set: it is *tuned on*.
   - ``news``: the 326 CNN/DailyMail and XSum articles of /work/shared/evaldata (FRANK), never
     looked at while choosing anything. Half of them get 1–3 copies made by rules: the lead
     sentence replaced by another article's, a tail of sentences dropped (to 70–100 %), 1–2
     sentences appended from another article, and 2 % of words replaced (copy-editing).
2. Cost at ingest, in the same run: writing 1,000 articles into a store with detection
   (fingerprint + LSH look-up + signature check + group rows) against the same writes without
   it (a group of one each), in batches of 64 (one transaction each, as the ingestor does),
   first into an empty store, then into one holding ``--articles`` (default 100,000). The
   articles are synthesised from real text: 10–25 sentences drawn at random from the FRANK
   news articles and the BEIR SciFact abstracts, every 20th an edited copy of an earlier one.
   Embedding (what an ingest mostly costs) is left out: articles are written with no chunks;
   for scale, a real ingest of 64 news articles (chunking, embedding) is timed in the same run.

    PYTHONPATH=$PWD .venv/bin/python bench/duplicates.py [--articles 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput
from newsdesk.index.duplicates import Fingerprinter
from newsdesk.index.text import sentence_spans
from newsdesk.settings import Settings
from newsdesk.stores.groups import Fingerprint, GroupRules
from newsdesk.stores.sqlite import ArticleStore, ArticleWrite
from tests.support.duplicates import labelled_articles, pair_scores

EVALDATA = Path("/work/shared/evaldata")
BATCH = 64


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in sentence_spans(text)]


def news_articles() -> list[str]:
    rows = (EVALDATA / "news-summarisation" / "frank_cnndm_xsum_shared.jsonl").read_text()
    seen: dict[str, str] = {}
    for line in rows.splitlines():
        row = json.loads(line)
        # The XSum texts lost the space after each sentence ("hospital.It said"): put it back
        # so that they split into sentences.
        seen.setdefault(row["hash"], _SENTENCE_GLUE.sub(r"\1 ", row["article"]))
    return list(seen.values())


_SENTENCE_GLUE = re.compile(r"([a-z0-9%)][.!?][\"'’”]?)(?=[A-Z\"“‘])")


def scifact_abstracts() -> list[str]:
    with gzip.open(EVALDATA / "beir-scifact" / "corpus.jsonl.gz", "rt") as lines:
        return [json.loads(line)["text"] for line in lines]


def edited_copy(text: str, donors: list[str], rng: random.Random) -> str:
    """A syndicated copy by rule: new lead, trimmed tail, appended update, copy-edits."""
    parts = sentences(text) or [text]
    donor = sentences(rng.choice(donors)) or ["Update."]
    parts[0] = rng.choice(donor)
    parts = parts[: max(1, round(len(parts) * rng.uniform(0.7, 1.0)))]
    parts += rng.sample(donor, k=min(len(donor), rng.randint(1, 2)))
    words = " ".join(parts).split(" ")
    for i in rng.sample(range(len(words)), k=len(words) // 50):
        words[i] = rng.choice(words)
    return " ".join(words)


def write_of(article_id: str, text: str, fingerprint: Fingerprint | None) -> ArticleWrite:
    return ArticleWrite(
        id=article_id,
        title=article_id,
        text=text,
        url=None,
        source=f"outlet-{zlib.crc32(article_id.encode()) % 50}",
        author=None,
        published_at=None,
        metadata={},
        content_hash=article_id,
        record_hash=article_id,
        chunks=[],
        fingerprint=fingerprint,
    )


def group_scores(labelled: list[tuple[str, str, str]], fingerprinter: Fingerprinter) -> dict:
    """Ingest (id, text, story) into a fresh store; pairwise precision / recall."""
    with tempfile.TemporaryDirectory() as tmp:
        store = ArticleStore(Path(tmp) / "db.sqlite")
        store.group_rules = GroupRules(threshold=Settings().duplicate_threshold)
        for start in range(0, len(labelled), BATCH):
            batch = labelled[start : start + BATCH]
            store.write([write_of(i, t, fingerprinter.fingerprint(t)) for i, t, _ in batch])
        groups: dict[str, int | None] = {}
        for article_id, _, _ in labelled:
            article = store.get_article(article_id)
            groups[article_id] = article.group.id if article and article.group else None
        store.close()
    labels = {i: story for i, _, story in labelled}
    precision, recall, predicted, true = pair_scores(labels, groups)
    return {
        "articles": len(labelled),
        "copy_pairs": true,
        "grouped_pairs": predicted,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
    }


def news_set(rng: random.Random) -> list[tuple[str, str, str]]:
    articles = news_articles()
    labelled = [(f"news-{n}", text, f"news-{n}") for n, text in enumerate(articles)]
    for n, text in enumerate(articles):
        if n % 2:
            continue
        for c in range(rng.randint(1, 3)):
            labelled.append((f"news-{n}-copy{c}", edited_copy(text, articles, rng), f"news-{n}"))
    rng.shuffle(labelled)
    return labelled


def synthetic(count: int, pool: list[str], rng: random.Random) -> Iterator[str]:
    made: list[str] = []
    for n in range(count):
        if n % 20 == 19 and made:
            text = edited_copy(rng.choice(made[-2000:]), made[-50:] or [pool[0]], rng)
        else:
            text = " ".join(rng.sample(pool, k=rng.randint(10, 25)))
        made.append(text)
        if len(made) > 4000:
            del made[:2000]
        yield text


def timed_writes(
    store: ArticleStore, texts: list[tuple[str, str]], fingerprinter: Fingerprinter | None
) -> float:
    """Seconds to write these articles in batches of 64 (fingerprinting included)."""
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        store.write(
            [
                write_of(i, t, fingerprinter.fingerprint(t) if fingerprinter else None)
                for i, t in batch
            ]
        )
    return time.perf_counter() - started


def cost(size: int, pool: list[str], fingerprinter: Fingerprinter, rng: random.Random) -> dict:
    """ms per 1,000 articles with and without detection, into an empty store and one of
    ``size`` articles. The two are interleaved in slices of 200 so load changes hit both."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = ArticleStore(Path(tmp) / "db.sqlite")
        store.group_rules = GroupRules(threshold=Settings().duplicate_threshold)
        filled = 0
        for stage in (0, size):
            chunk = 1000
            texts = synthetic(stage - filled, pool, rng)
            while filled < stage:  # the fill: large transactions, detection on
                batch = [
                    (f"fill-{filled + i}", next(texts)) for i in range(min(chunk, stage - filled))
                ]
                store.write([write_of(i, t, fingerprinter.fingerprint(t)) for i, t in batch])
                filled += len(batch)
                if filled % 10_000 == 0:
                    print(f"  filled {filled:,}", flush=True)
            probe = list(synthetic(2000, pool, rng))
            on = off = 0.0
            for s in range(0, 1000, 200):
                on += timed_writes(
                    store,
                    [(f"on-{stage}-{s + i}", t) for i, t in enumerate(probe[s : s + 200])],
                    fingerprinter,
                )
                off += timed_writes(
                    store,
                    [(f"off-{stage}-{s + i}", t) for i, t in enumerate(probe[1000 + s : 1200 + s])],
                    None,
                )
            filled += 2000
            results[f"{stage}"] = {
                "with_detection_ms_per_1000": round(on * 1000, 1),
                "without_ms_per_1000": round(off * 1000, 1),
                "detection_ms_per_1000": round((on - off) * 1000, 1),
                "ratio": round(on / off, 2),
            }
            print(f"  at {stage:,} articles: {results[f'{stage}']}", flush=True)
        db = Path(tmp) / "db.sqlite"
        results["database_mb"] = round(db.stat().st_size / 2**20, 1)
        store.close()
    return results


def full_ingest_ms(texts: list[str]) -> dict:
    """For scale: a real ingest (chunking and embedding included) of these articles, per
    article, with the share of it that is the detection's fingerprint."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", backend="extractive", _env_file=None)
        with Newsdesk.open(settings) as desk:
            articles = [ArticleInput(id=f"news-{n}", text=t) for n, t in enumerate(texts)]
            started = time.perf_counter()
            desk.ingestor.ingest(articles)
            elapsed = time.perf_counter() - started
            fingerprinting = time.perf_counter()
            for text in texts:
                desk.ingestor.fingerprinter.fingerprint(text)
            fingerprinting = time.perf_counter() - fingerprinting
    return {
        "articles": len(texts),
        "ingest_ms_per_article": round(elapsed * 1000 / len(texts), 1),
        "fingerprint_share": round(fingerprinting / elapsed, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    fingerprinter = Fingerprinter(Settings().duplicate_threshold)
    report: dict = {"parameters": fingerprinter.parameters, "load": os.getloadavg()}

    hand = [(a.id, a.text, story) for a, story in labelled_articles()]
    report["hand"] = group_scores(hand, fingerprinter)
    print("hand-labelled (tuned on):", report["hand"], flush=True)
    report["news"] = group_scores(news_set(rng), fingerprinter)
    print("news copies by rule (untuned):", report["news"], flush=True)

    texts = news_articles()
    started = time.perf_counter()
    for text in texts:
        fingerprinter.fingerprint(text)
    report["fingerprint_ms_per_news_article"] = round(
        (time.perf_counter() - started) * 1000 / len(texts), 3
    )
    report["full_ingest"] = full_ingest_ms(texts[:64])
    print("a real ingest of 64 news articles:", report["full_ingest"], flush=True)
    pool = [s for text in texts + scifact_abstracts() for s in sentences(text) if len(s) > 30]
    report["sentence_pool"] = len(pool)
    report["cost"] = cost(args.articles, pool, fingerprinter, rng)
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Rounds of `kill -9` against a real `newsdesk serve` during a long ingest: a client posts
batches of small distinct articles, the server is killed at a random (seeded) moment, and the
next start must hold every acknowledged article — readable, found by dense search and by
lexical search — and each unacknowledged batch entirely or not at all. Used by
tests/test_crash_durability.py (a few rounds) and bench/kill_rounds.py (many)."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .cli import NEWSDESK, newsdesk_serve
from .patience import PATIENCE_S

PLACES = ["harbour", "valley", "market", "station", "bridge", "library", "quarry", "orchard"]
EVENTS = ["reopened", "flooded", "was repainted", "closed early", "held a fair", "lost power"]


def token(n: int) -> str:
    """A made-up word no other article contains: `kx` and n in letters."""
    letters = ""
    while True:
        n, digit = divmod(n, 26)
        letters += chr(ord("a") + digit)
        if n == 0:
            return "Kx" + letters + "v"


def article(n: int) -> dict[str, str]:
    name = token(n)
    place, event = PLACES[n % len(PLACES)], EVENTS[n % len(EVENTS)]
    return {
        "id": f"kill-{n:06d}",
        "title": f"The {place} of {name} {event}",
        "text": f"The {place} of {name} {event} on day {n}. People in {name} said the "
        f"{place} would be watched closely.",
    }


@dataclass
class Ledger:
    """What the server told the client, across rounds."""

    committed: dict[str, str] = field(default_factory=dict)  # article id -> its token
    checked: set[str] = field(default_factory=set)
    next_article: int = 0
    acknowledged: int = 0
    lost: list[str] = field(default_factory=list)
    half_visible: list[list[str]] = field(default_factory=list)
    unacknowledged_present: int = 0
    unacknowledged_absent: int = 0
    starts: list[str] = field(default_factory=list)  # index status at each start
    refusals: list[str] = field(default_factory=list)  # answers other than 200 to an ingest


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    # A snapshot flush every half second: kills land during flushes too.
    env.update(
        NEWSDESK_DATA_DIR=str(data_dir),
        NEWSDESK_BACKEND="extractive",
        NEWSDESK_INDEX_FLUSH_SECONDS="0",
    )
    return env


def check(url: str, ledger: Ledger, in_flight: list[list[str]]) -> None:
    """After a start: the batches in flight at the kill are whole or absent; every committed
    article not yet checked is readable and found by dense and by lexical search; and nothing
    else is stored."""
    with httpx.Client(base_url=url, timeout=PATIENCE_S) as client:
        for batch in in_flight:
            present = [a for a in batch if client.get(f"/articles/{a}").status_code == 200]
            if present and len(present) != len(batch):
                ledger.half_visible.append(batch)
            if len(present) == len(batch):
                ledger.unacknowledged_present += 1
                for article_id in batch:
                    ledger.committed[article_id] = token(int(article_id.split("-")[1]))
            else:
                ledger.unacknowledged_absent += 1
        for article_id, word in ledger.committed.items():
            if article_id in ledger.checked:
                continue
            ledger.checked.add(article_id)
            if not _stored_and_found(client, article_id, word):
                ledger.lost.append(article_id)
        total = client.get("/articles", params={"limit": 1}).json()["total"]
        if total != len(ledger.committed):
            ledger.lost.append(f"stored {total} articles, expected {len(ledger.committed)}")


def _stored_and_found(client: httpx.Client, article_id: str, word: str) -> bool:
    stored = client.get(f"/articles/{article_id}")
    if stored.status_code != 200:
        return False
    dense = client.post(
        "/search",
        json={
            "query": stored.json()["text"],
            "mode": "dense",
            "top_k": 1,
            "filters": {"article_ids": [article_id]},
        },
    ).json()["results"]
    lexical = client.post("/search", json={"query": word, "mode": "lexical", "top_k": 1}).json()[
        "results"
    ]
    return (
        bool(dense)
        and dense[0]["article_id"] == article_id
        and (bool(lexical) and lexical[0]["article_id"] == article_id)
    )


def kill_round(
    data_dir: Path, log: Path, ledger: Ledger, rng: random.Random, in_flight: list[list[str]]
) -> list[list[str]]:
    """Start the server, check what the last round left, ingest until a random kill -9.
    Returns the batches whose requests were in flight when the server died."""
    with newsdesk_serve(NEWSDESK, env=env_for(data_dir), cwd=data_dir.parent, log=log) as served:
        with httpx.Client(timeout=PATIENCE_S) as probe:
            ready = probe.get(f"{served.url}/ready").json()
        ledger.starts.append(str(ready.get("index", "?")))
        check(served.url, ledger, in_flight)
        # The kill comes a random time after a random number of acknowledged batches (after
        # the first, so every round has something to lose): during embedding, a commit or a
        # flush, whatever the server was doing.
        wait_for = rng.randint(1, 3)
        delay = rng.uniform(0.0, 3.0)
        acknowledged = threading.Semaphore(0)
        sizes = [rng.randint(1, 100) for _ in range(1000)]
        unanswered: list[list[str]] = []
        stop = threading.Event()

        def post_batches() -> None:
            with httpx.Client(base_url=served.url, timeout=PATIENCE_S) as client:
                for size in sizes:
                    if stop.is_set():
                        return
                    first = ledger.next_article
                    ledger.next_article += size
                    batch = [article(n) for n in range(first, first + size)]
                    ids = [a["id"] for a in batch]
                    try:
                        response = client.post("/articles", json=batch)
                    except httpx.TransportError:
                        unanswered.append(ids)
                        return
                    if response.status_code != 200:
                        ledger.refusals.append(f"{response.status_code}: {response.text[:300]}")
                        unanswered.append(ids)
                        return
                    for a in batch:
                        ledger.committed[a["id"]] = token(int(a["id"].split("-")[1]))
                    ledger.acknowledged += len(batch)
                    acknowledged.release()

        client = threading.Thread(target=post_batches, daemon=True)
        client.start()
        for _ in range(wait_for):
            if not acknowledged.acquire(timeout=PATIENCE_S):
                break
        time.sleep(delay)
        served.process.send_signal(signal.SIGKILL)
        served.process.wait(timeout=PATIENCE_S)
        stop.set()
        client.join(PATIENCE_S)
        return unanswered


def run_rounds(
    data_dir: Path, rounds: int, seed: int, report: Callable[[str], None] = print
) -> Ledger:
    rng = random.Random(seed)
    ledger = Ledger()
    in_flight: list[list[str]] = []
    for number in range(rounds):
        in_flight = kill_round(
            data_dir, data_dir.parent / f"serve-{number}.log", ledger, rng, in_flight
        )
        report(
            f"round {number + 1}/{rounds}: {ledger.acknowledged} acknowledged so far, "
            f"{len(in_flight)} batch(es) in flight at the kill, start: {ledger.starts[-1]}"
        )
    # A last start checks what the last round left.
    with newsdesk_serve(
        NEWSDESK, env=env_for(data_dir), cwd=data_dir.parent, log=data_dir.parent / "final.log"
    ) as served:
        check(served.url, ledger, in_flight)
    return ledger

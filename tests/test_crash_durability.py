"""`kill -9` of `newsdesk serve` at random moments during a long ingest, several times over
(real processes, real SQLite, the real embedding model): every acknowledged article is stored
and found by dense and by lexical search after the restart, and no batch is half-visible —
including batches of more than 64 articles, which used to be committed 64 at a time. The seed
is printed; bench/kill_rounds.py runs many more rounds."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput

from .support.kill_rounds import article, run_rounds, token

ROUNDS = 4


@pytest.mark.slow  # every round starts a server (and loads the model) afresh
def test_acknowledged_articles_survive_kill_9_rounds(tmp_path: Path) -> None:
    seed = int(os.environ.get("NEWSDESK_KILL_SEED", "12"))
    print(f"kill -9 rounds: seed {seed}")
    ledger = run_rounds(tmp_path / "data", ROUNDS, seed)
    assert ledger.refusals == []
    assert ledger.acknowledged > 0, "no batch was acknowledged before the kills"
    assert ledger.lost == []
    assert ledger.half_visible == []
    assert len(ledger.checked) == len(ledger.committed) >= ledger.acknowledged


def test_a_request_of_more_than_64_articles_is_one_transaction(desk: Newsdesk) -> None:
    # A real SQLite failure part-way through the request (a trigger refusing one article),
    # past the first 64 articles: nothing of the request may stay, as after a crash there.
    with sqlite3.connect(desk.settings.database_path) as db:
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON articles WHEN NEW.id = 'kill-000080'"
            " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )
    batch = [ArticleInput.model_validate(article(n)) for n in range(100)]
    with pytest.raises(sqlite3.DatabaseError, match="refused by the test"):
        desk.ingestor.ingest_or_raise(batch)
    assert desk.store.article_count() == 0
    assert len(desk.indexes.vectors) == 0
    assert desk.searcher.search(token(3), mode="lexical") == []

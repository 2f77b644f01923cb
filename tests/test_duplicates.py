"""Near-duplicate groups (issue 14): syndicated copies and revisions are grouped at ingest
against hand labels, the earliest full copy is the original, deletes and edits regroup, the
API shows the group, search collapses copies, and bad input stays linear."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput
from newsdesk.embedding import Embedder
from newsdesk.index.duplicates import Fingerprinter
from newsdesk.settings import RetrievalMode, Settings
from newsdesk.stores import groups as groups_module
from newsdesk.stores.groups import GroupRules
from newsdesk.stores.migrations import _set_schema_version, migrate
from newsdesk.stores.sqlite import ArticleStore, ArticleWrite
from tests.support.duplicates import labelled_articles, pair_scores
from tests.support.samples import load_samples

from .support.stored import stored_article

# Every test that uses the article store runs on SQLite and on PostgreSQL.
pytestmark = [pytest.mark.both_stores, pytest.mark.lexical_stores]

LABELLED = labelled_articles()
LABELS = {article.id: story for article, story in LABELLED}
CRANE = "wikinews-2015-mecca-crane-collapse"


@pytest.fixture(scope="module")
def labelled_desk(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, module_database_url: str | None
) -> Iterator[Newsdesk]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("dups") / "data",
        backend="extractive",
        database_url=module_database_url,
        _env_file=None,
    )
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest([article for article, _ in LABELLED])
        yield desk


def groups_of(desk: Newsdesk) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    for article_id in LABELS:
        article = stored_article(desk.store, article_id)
        assert article.group is not None
        found[article_id] = article.group.id
    return found


def test_groups_match_the_hand_labels(labelled_desk: Newsdesk) -> None:
    precision, recall, _predicted, true = pair_scores(LABELS, groups_of(labelled_desk))
    assert true == 19  # the fixture's copy pairs (a change to it should be deliberate)
    assert precision == 1.0, "a different story was grouped with a copy"
    assert recall >= 0.9


def test_the_original_is_the_earliest_full_copy(labelled_desk: Newsdesk) -> None:
    stories = {story for story in LABELS.values()}
    for story in stories:
        members = [a for a, s in LABELLED if s == story]
        if len(members) == 1:
            continue
        article = stored_article(labelled_desk.store, members[0].id)
        group = article.group
        assert group is not None
        # Every story's sample article is its first full copy: the excerpt published two
        # hours earlier (Pacific Brief) and the undated copy (EuroDesk) are not originals.
        assert group.original_id == story, (story, group.original_id)
        assert {m.id for m in group.members} >= {m.id for m in members} - {"meridian-mecca-crane"}


def test_a_unique_article_is_a_group_of_one(labelled_desk: Newsdesk) -> None:
    article = stored_article(labelled_desk.store, "wikinews-2007-taipei-lantern-festival")
    assert article.group is not None
    assert article.group.original_id == article.id
    assert [m.id for m in article.group.members] == [article.id]


def test_the_api_shows_the_group(labelled_desk: Newsdesk) -> None:
    with TestClient(create_app(labelled_desk.settings, desk=labelled_desk)) as client:
        body = client.get("/articles/gulfwire-mecca-crane").json()
        found = client.post("/search", json={"query": "crane fell into Mecca's Grand Mosque"})
    group = body["group"]
    assert group["original_id"] == CRANE
    members = {m["id"]: m for m in group["members"]}
    assert members["gulfwire-mecca-crane"]["source"] == "Gulf Wire Service"
    assert members[CRANE]["published_at"].startswith("2015-09-12")
    results = found.json()["results"]
    crane = [r for r in results if LABELS.get(r["article_id"]) == CRANE]
    assert crane and all(r["group_id"] == group["id"] for r in crane)
    assert "Gulf Wire Service" in crane[0]["carried_by"]


def test_search_collapses_copies_of_one_story(labelled_desk: Newsdesk) -> None:
    query = "How many people were killed when the crane fell on Mecca's Grand Mosque?"
    collapsed = labelled_desk.searcher.search(query, top_k=8)
    articles_per_group: dict[int | None, set[str]] = {}
    for passage in collapsed:
        articles_per_group.setdefault(passage.group_id, set()).add(passage.article_id)
    assert all(len(articles) == 1 for articles in articles_per_group.values())
    # The same search without collapsing fills the top k with the copies.
    off = labelled_desk.settings.model_copy(update={"collapse_duplicates": False})
    searcher = type(labelled_desk.searcher)(
        labelled_desk.store, labelled_desk.indexes, labelled_desk.embedder, off
    )
    plain = searcher.search(query, top_k=8)
    copies = {p.article_id for p in plain if LABELS.get(p.article_id) == CRANE}
    assert len(copies) >= 2


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "dense"])
def test_collapsed_copies_leave_no_hole_in_the_top_k(
    labelled_desk: Newsdesk, mode: RetrievalMode
) -> None:
    """Candidate lists barely longer than top_k fill up with copies of one story; collapsing
    them must not return fewer than top_k passages while the collection holds more."""
    narrow = labelled_desk.settings.model_copy(update={"candidate_multiplier": 1})
    searcher = type(labelled_desk.searcher)(
        labelled_desk.store, labelled_desk.indexes, labelled_desk.embedder, narrow
    )
    query = "crane fell on the Grand Mosque in Mecca killing pilgrims"
    found = searcher.search(query, top_k=6, mode=mode)
    assert len(found) == 6
    groups = [p.group_id for p in found]
    articles_per_group: dict[int | None, set[str]] = {}
    for passage in found:
        articles_per_group.setdefault(passage.group_id, set()).add(passage.article_id)
    assert all(len(articles) == 1 for articles in articles_per_group.values()), groups


# --- the store on its own (no embedding needed: grouping reads the text only) -------------


def _stored(article: ArticleInput, **fields: Any) -> ArticleWrite:
    """The write of ``article`` as the store takes it (text hash = the text itself)."""
    defaults: dict[str, Any] = {
        "id": article.id,
        "title": article.title,
        "text": article.text,
        "url": None,
        "source": article.source,
        "author": None,
        "published_at": article.published_at,
        "metadata": {},
        "content_hash": article.text,
        "record_hash": article.text,
    }
    return ArticleWrite(**{**defaults, **fields})


def _write(store: ArticleStore, fingerprinter: Fingerprinter, article: ArticleInput) -> None:
    store.write([_stored(article, chunks=[], fingerprint=fingerprinter.fingerprint(article.text))])


def _write_fields(store: ArticleStore, article: ArticleInput, record_hash: str) -> None:
    """Store changed fields of an article whose text did not change (no chunks, no fingerprint)."""
    store.write([_stored(article, record_hash=record_hash, chunks=None)])


@pytest.fixture
def store(tmp_path: Path, database_url: str | None) -> Iterator[ArticleStore]:
    opened = ArticleStore(database_url or tmp_path / "db.sqlite")
    opened.group_rules = GroupRules(threshold=0.4)
    yield opened
    opened.close()


def _group(store: ArticleStore, article_id: str) -> tuple[int, str, list[str]]:
    article = stored_article(store, article_id)
    assert article.group is not None
    group = article.group
    return group.id, group.original_id, sorted(m.id for m in group.members)


def test_deleting_the_bridge_splits_a_group(store: ArticleStore) -> None:
    fingerprinter = Fingerprinter(0.4)
    base = next(a for a in load_samples() if a.id == "wikinews-2018-world-cup-day-five")
    paragraphs = base.text.split("\n\n")
    # A and C share only the middle paragraphs; B, a longer revision, overlaps both: A and C
    # are two groups until B joins (merges) them.
    parts = {"a": paragraphs[:8], "c": paragraphs[5:13], "b": paragraphs[:13]}
    for name, kept in parts.items():
        if name == "b":
            assert _group(store, "a")[2] == ["a"] and _group(store, "c")[2] == ["c"]
        _write(store, fingerprinter, ArticleInput(id=name, text="\n\n".join(kept), source=name))
    assert _group(store, "a")[2] == ["a", "b", "c"]
    assert _group(store, "a")[1] == "b"  # the only full copy (A and C are excerpts of it)
    store.delete("b")
    assert _group(store, "a")[2] == ["a"]
    assert _group(store, "c")[2] == ["c"]
    assert _group(store, "a")[0] != _group(store, "c")[0]


def test_an_edited_text_leaves_its_group(store: ArticleStore) -> None:
    fingerprinter = Fingerprinter(0.4)
    samples = {a.id: a for a in load_samples()}
    crane = samples[CRANE]
    _write(store, fingerprinter, crane)
    _write(store, fingerprinter, crane.model_copy(update={"id": "copy", "published_at": None}))
    assert _group(store, "copy")[2] == sorted([CRANE, "copy"])
    other = samples["wikinews-2006-hajj-stampede"].text
    _write(store, fingerprinter, crane.model_copy(update={"id": "copy", "text": other}))
    assert _group(store, "copy")[2] == ["copy"]
    assert _group(store, CRANE)[2] == [CRANE]


def test_the_original_follows_a_changed_date(store: ArticleStore) -> None:
    fingerprinter = Fingerprinter(0.4)
    crane = next(a for a in load_samples() if a.id == CRANE)
    _write(store, fingerprinter, crane)
    assert crane.published_at is not None
    earlier = crane.published_at.replace(year=2014)
    _write(store, fingerprinter, crane.model_copy(update={"id": "wire"}))
    assert _group(store, CRANE)[1] == CRANE  # same date: the first ingested
    wire = crane.model_copy(update={"id": "wire", "source": None, "published_at": earlier})
    _write_fields(store, wire, "changed date")
    assert _group(store, CRANE)[1] == "wire"


def test_ungrouped_articles_are_grouped_at_start(labelled_desk: Newsdesk) -> None:
    before = groups_of(labelled_desk)
    labelled_desk.store.set_state("duplicate_parameters", "an older method")
    assert labelled_desk.ingestor.reconcile_duplicates() == len(LABELS)
    after = groups_of(labelled_desk)
    assert pair_scores(LABELS, after)[:2] == pair_scores(LABELS, before)[:2]
    assert labelled_desk.ingestor.reconcile_duplicates() == 0


def test_grouping_at_start_reads_each_article_once(
    labelled_desk: Newsdesk, store_kind: str
) -> None:
    """Articles stored before detection existed are listed once, then read in batches:
    asking for "the next ungrouped batch" per batch scanned the whole archive each time
    (quadratic: minutes at 60k articles)."""
    if store_kind != "sqlite":
        pytest.skip("counts statements through SQLite's trace callback; the code is shared")
    labelled_desk.store.set_state("duplicate_parameters", "an older method")
    statements: list[str] = []
    db = labelled_desk.store._connection()
    assert isinstance(db, sqlite3.Connection)
    db.set_trace_callback(statements.append)
    try:
        grouped = labelled_desk.ingestor.reconcile_duplicates(batch_size=2)
    finally:
        db.set_trace_callback(None)
    assert grouped == len(LABELS) > 4
    scans = [s for s in statements if s.startswith("SELECT a.id FROM articles a LEFT JOIN")]
    assert len(scans) == 1, scans
    text_reads = [s for s in statements if s.startswith("SELECT id, text FROM articles")]
    assert len(text_reads) == -(-len(LABELS) // 2)


def test_many_copies_of_one_text_cost_linear_time(store: ArticleStore, store_kind: str) -> None:
    """Bad input: the same text again and again. Each write confirms a bounded number of
    candidates, so the last hundred copies cost about what the first hundred did. Work is
    counted, not timed: the SQLite virtual-machine steps of each block of writes."""
    if store_kind != "sqlite":
        pytest.skip("counts SQLite's virtual-machine steps; the code is shared")
    fingerprinter = Fingerprinter(0.4)
    crane = next(a for a in load_samples() if a.id == CRANE)
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0  # go on

    db = store._connection()
    assert isinstance(db, sqlite3.Connection)
    db.set_progress_handler(count, 1000)
    work = []
    try:
        for block in range(3):
            before = steps
            for i in range(100):
                copy = crane.model_copy(update={"id": f"c{block}-{i}", "published_at": None})
                _write(store, fingerprinter, copy)
            work.append(steps - before)
    finally:
        db.set_progress_handler(None, 1000)
    assert len(_group(store, "c0-0")[2]) == 300
    assert work[0] > 0
    # Once a write's candidates reach the bound, every further block costs the same.
    assert work[2] <= 1.05 * work[1] < 1.5 * work[0], work


def _stored_and_live_outlets(
    store: ArticleStore,
) -> tuple[dict[int, list[list[str | None]]], dict[int, list[list[str | None]]]]:
    db = store._connection()
    stored = {
        group: json.loads(outlets)
        for group, outlets in db.execute("SELECT id, outlets FROM duplicate_groups")
    }
    live = {group: [list(o) for o in groups_module._outlets(db, group)] for group in stored}
    return stored, live


def test_each_group_keeps_its_outlet_list_in_step_with_its_members(store: ArticleStore) -> None:
    """Search hits read a group's outlets from one row (a story copied thousands of times
    would otherwise cost a read of every copy per hit): every write that changes a group's
    members, or a member's outlet or date, keeps that row equal to what the members say."""
    fingerprinter = Fingerprinter(0.4)
    crane = next(a for a in load_samples() if a.id == CRANE)
    outlets = ["Wire", "Daily", "Herald", "Gazette"]
    for i, outlet in enumerate(outlets):
        _write(store, fingerprinter, crane.model_copy(update={"id": f"copy-{i}", "source": outlet}))
    stored, live = _stored_and_live_outlets(store)
    assert stored == live
    group = _group(store, "copy-0")[0]
    crane_date = live[group][0][1]
    assert {name for name, _ in stored[group]} == set(outlets)
    # A member's outlet changes without its text (refresh), another copy goes, one joins.
    renamed = crane.model_copy(update={"id": "copy-1", "source": "Evening Post"})
    _write_fields(store, renamed, "renamed outlet")
    stored, live = _stored_and_live_outlets(store)
    assert stored == live and ["Evening Post", crane_date] in stored[group]
    store.delete("copy-2")
    _write(store, fingerprinter, crane.model_copy(update={"id": "copy-9", "source": "Courier"}))
    stored, live = _stored_and_live_outlets(store)
    assert stored == live
    names = [name for name, _ in stored[group]]
    assert "Evening Post" in names and "Herald" not in names and "Courier" in names


def test_groups_from_before_the_outlet_list_read_their_members(store: ArticleStore) -> None:
    fingerprinter = Fingerprinter(0.4)
    crane = next(a for a in load_samples() if a.id == CRANE)
    for i, outlet in enumerate(["Wire", "Daily"]):
        _write(store, fingerprinter, crane.model_copy(update={"id": f"old-{i}", "source": outlet}))
    db = store._connection()
    db.execute("UPDATE duplicate_groups SET outlets = NULL")  # as migration 5 leaves them
    group = _group(store, "old-0")[0]
    assert set(groups_module.group_outlets(db, [group])[group]) == {"Wire", "Daily"}


def test_the_migration_fills_the_outlet_lists_of_existing_groups(store: ArticleStore) -> None:
    fingerprinter = Fingerprinter(0.4)
    for article in load_samples()[:6]:
        _write(store, fingerprinter, article)
    crane = next(a for a in load_samples() if a.id == CRANE)
    for i, outlet in enumerate(["Wire", "Daily", "Wire"]):
        _write(store, fingerprinter, crane.model_copy(update={"id": f"m-{i}", "source": outlet}))
    expected, _ = _stored_and_live_outlets(store)
    db = store._connection()
    # A database of version 4: without the outlet lists (5), the reindex table (6) and the
    # chunk-origin indexes (7).
    db.execute("ALTER TABLE duplicate_groups DROP COLUMN outlets")
    db.execute("DROP TABLE staged_embeddings")
    db.execute("DROP INDEX chunks_article_of")
    db.execute("DROP INDEX article_groups_group_of")
    _set_schema_version(db, 4)
    migrate(db)
    stored, live = _stored_and_live_outlets(store)
    assert stored == live == expected
    assert any(len(outlets) > 1 for outlets in stored.values())


def test_search_reads_chunk_origins_from_covering_indexes(
    labelled_desk: Newsdesk, store_kind: str
) -> None:
    """What collapsing copies reads per candidate — its article and group — comes from two
    small indexes, not from rows that hold a chunk's vector or an article's signature (pages
    a large collection mostly does not keep in memory); a database from before them gets them."""
    store = labelled_desk.store
    db = store._connection()
    expected = {
        chunk: (article, group)
        for chunk, article, group in db.execute(
            "SELECT c.id, c.article_id, m.group_id FROM chunks c"
            " LEFT JOIN article_groups m ON m.article_id = c.article_id"
        )
    }
    grouped = [group for _, group in expected.values() if group is not None]
    assert len(set(grouped)) < len({article for article, _ in expected.values()})  # copies
    asked = [*expected, 10**9]  # and an id that does not exist
    assert store.chunk_groups(asked) == expected
    if store_kind == "sqlite":
        assert isinstance(db, sqlite3.Connection)
        ran: list[str] = []
        db.set_trace_callback(ran.append)
        store.chunk_groups(asked)
        db.set_trace_callback(None)
        query = next(statement for statement in ran if "article_groups" in statement)
        plan = " ".join(str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {query}"))
        assert plan.count("COVERING INDEX") == 2, plan
    # A database of version 6 gets the indexes, and the same answers.
    db.execute("DROP INDEX chunks_article_of")
    db.execute("DROP INDEX article_groups_group_of")
    _set_schema_version(db, 6)
    migrate(db)
    assert store.chunk_groups(asked) == expected

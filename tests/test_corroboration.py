"""Corroboration per sentence (issue 14): how many passages, outlets and *independent* stories
support each sentence of an answer or summary. Copies of one wire story count once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.retrieval.search import Searcher
from newsdesk.settings import Settings
from tests.support.duplicates import labelled_articles

pytestmark = [
    pytest.mark.both_stores,
    pytest.mark.vector_stores,
]  # store-facing: each store kind

CRANE = "wikinews-2015-mecca-crane-collapse"
FOLLOW_UP = "crescent-mecca-crane-inquiry"  # another story that reuses a background paragraph
CRANE_COPIES = {CRANE, "gulfwire-mecca-crane", "meridian-mecca-crane", CRANE + "-update"}
KEPT = CRANE_COPIES | {
    FOLLOW_UP,
    "wikinews-2006-hajj-stampede",
    "levant-post-hajj-stampede",
    "wikinews-2007-taipei-lantern-festival",
    "wikinews-2011-microsoft-ie6-decline",
}
# In the original, two of its copies (the trimmed Meridian copy lacks it) and the follow-up.
BACKGROUND = "The crane accident came just ten days before the beginning of the Hajj."


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Newsdesk]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("corroboration") / "data",
        backend="extractive",
        _env_file=None,
    )
    with Newsdesk.open(settings, embedder=embedder) as opened:
        opened.ingestor.ingest([a for a, _ in labelled_articles() if a.id in KEPT])
        yield opened


def _searcher(desk: Newsdesk, *, collapse: bool) -> Searcher:
    settings = desk.settings.model_copy(update={"collapse_duplicates": collapse})
    return Searcher(desk.store, desk.indexes, desk.embedder, settings)


def test_copies_count_as_one_group_not_as_many_sources(desk: Newsdesk) -> None:
    # Without collapsing, the copies are all retrieved and all support the sentence.
    passages = _searcher(desk, collapse=False).search(BACKGROUND, top_k=10)
    cited = desk.checker.cite([BACKGROUND], passages)
    corroboration = cited.sentences[0].corroboration
    assert corroboration.groups == 2  # the wire story and the follow-up
    assert corroboration.sources >= 3  # the original and its copies, each a passage
    # Wikinews, Gulf Wire Service and The Daily Meridian carried the story (the Meridian
    # copy is a group member), Crescent Herald the follow-up.
    assert corroboration.outlets == 4


def test_collapsed_passages_still_count_the_outlets_that_carried_them(desk: Newsdesk) -> None:
    passages = _searcher(desk, collapse=True).search(BACKGROUND, top_k=10)
    assert len({p.article_id for p in passages if p.article_id in CRANE_COPIES}) == 1
    corroboration = desk.checker.cite([BACKGROUND], passages).sentences[0].corroboration
    assert corroboration.groups == 2
    assert corroboration.outlets == 4
    assert corroboration.sources >= corroboration.groups


def test_a_sentence_nothing_supports_has_no_corroboration(desk: Newsdesk) -> None:
    passages = _searcher(desk, collapse=True).search(BACKGROUND, top_k=10)
    claim = "The Taipei mayor opened the lantern festival on the moon."
    sentence = desk.checker.cite([claim], passages).sentences[0]
    assert not sentence.supported
    assert sentence.corroboration.model_dump() == {"sources": 0, "outlets": 0, "groups": 0}


def _assert_counted(sentences: list[dict]) -> None:
    assert sentences
    for sentence in sentences:
        counts = sentence["corroboration"]
        assert set(counts) == {"sources", "outlets", "groups"}
        assert counts["groups"] <= counts["sources"]
        if sentence["supported"]:
            assert counts["sources"] >= 1 and counts["groups"] >= 1


def test_answers_summaries_and_chat_carry_corroboration(desk: Newsdesk) -> None:
    question = "How many people died in the Mecca crane collapse?"
    with TestClient(create_app(desk.settings, desk=desk)) as client:
        answer = client.post("/ask", json={"question": question}).json()
        summary = client.post(
            "/summaries", json={"article_ids": [CRANE, "gulfwire-mecca-crane", FOLLOW_UP]}
        ).json()
        chat = client.post(
            "/v1/chat/completions",
            json={"model": "newsdesk", "messages": [{"role": "user", "content": question}]},
        ).json()
    assert not answer["abstained"]
    _assert_counted(answer["sentences"])
    _assert_counted(summary["sentences"])
    _assert_counted(chat["newsdesk"]["sentences"])
    # The answer's first citation names the wire story's original and its outlets.
    first = answer["citations"][0]
    assert first["original_id"] == CRANE
    assert {"Wikinews", "Gulf Wire Service"} <= set(first["carried_by"])
    # In the summary of two copies and a follow-up, copies never count as two stories.
    assert all(s["corroboration"]["groups"] <= 2 for s in summary["sentences"])

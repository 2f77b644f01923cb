"""Disagreement beyond numbers: two reports of one story that conflict on a number, a date, a
name in the same role, the speaker of a statement or an outcome are reported by /ask and
/summaries as `disagrees` with that `kind`, the conflicting words of each side, and both
sides cited; reports that agree in other words are not. Real embedder, real pipeline,
extractive backend; the labelled pairs are tests/data/disagreement/dev.jsonl (the split the
rules were designed on; bench/disagreement.py measures the held-out one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.generation.agreement import relation_between
from newsdesk.generation.conflicts import conflict
from newsdesk.generation.support import SupportScorer

from .support.cli import run_newsdesk
from .support.disagreement import CONFLICTS, ConflictingReports
from .support.duplicates import labelled_articles
from .support.stored import stored_article

pytestmark = [
    pytest.mark.both_stores,
    pytest.mark.vector_stores,
]  # store-facing: each store kind

PAIRS = Path(__file__).parent / "data" / "disagreement" / "dev.jsonl"
KINDED = [r for r in CONFLICTS if r.kind is not None]
AGREEING = [r for r in CONFLICTS if r.kind is None]


def _disagreements(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in result["relations"] if r["relation"] == "disagrees"]


def _assert_conflict_reported(desk: Newsdesk, result: dict[str, Any], reports: Any) -> None:
    by_number = {c["number"]: c for c in result["citations"]}
    for citation in result["citations"]:
        article = stored_article(desk.store, citation["article_id"])
        text = article.text
        assert text[citation["char_start"] : citation["char_end"]] == citation["quote"]
    disagreements = _disagreements(result)
    assert disagreements, result["relations"]
    both = {reports.first.id, reports.second.id}
    for relation in disagreements:
        assert relation["kind"] == reports.kind, relation
        sentence = result["sentences"][relation["sentence"]]
        assert {by_number[n]["article_id"] for n in sentence["citations"]} == both
        other = by_number[relation["citation"]]
        assert other["article_id"] == relation["article_id"]
        own = [by_number[n]["quote"] for n in sentence["citations"] if n != relation["citation"]]
        # The conflicting words are each side's own, and they differ.
        assert relation["evidence"] and relation["evidence"] in other["quote"]
        assert relation["claim"] and any(relation["claim"] in quote for quote in own)
        assert relation["claim"] != relation["evidence"]


@pytest.mark.parametrize("reports", KINDED, ids=[r.kind for r in KINDED])
def test_an_answer_reports_each_kind_of_conflict_citing_both_sides(
    desk: Newsdesk, client: TestClient, reports: ConflictingReports
) -> None:
    desk.ingestor.ingest([reports.first, reports.second])
    answer = client.post("/ask", json={"question": reports.question}).json()
    assert not answer["abstained"], answer["abstain_reason"]
    _assert_conflict_reported(desk, answer, reports)


@pytest.mark.parametrize("reports", KINDED, ids=[r.kind for r in KINDED])
def test_a_summary_reports_each_kind_of_conflict_citing_both_sides(
    desk: Newsdesk, client: TestClient, reports: ConflictingReports
) -> None:
    desk.ingestor.ingest([reports.first, reports.second])
    ids = [reports.first.id, reports.second.id]
    summary = client.post("/summaries", json={"article_ids": ids}).json()
    _assert_conflict_reported(desk, summary, reports)


def test_newsdesk_ask_prints_the_conflict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_BACKEND", "extractive")
    (reports,) = [r for r in KINDED if r.kind == "name"]
    articles = tmp_path / "reports.jsonl"
    articles.write_text(
        "".join(a.model_dump_json() + "\n" for a in (reports.first, reports.second)),
        encoding="utf-8",
    )
    data = tmp_path / "data"
    assert run_newsdesk(data, "ingest", str(articles)).returncode == 0
    result = run_newsdesk(data, "ask", reports.question)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if " disagrees [" in x)
    assert "(name: “" in line and "Tomas Eriksen" in line and "Henrik Dahl" in line, line


@pytest.mark.parametrize("reports", AGREEING)
def test_reports_that_agree_in_other_words_are_no_disagreement(
    desk: Newsdesk, client: TestClient, reports: ConflictingReports
) -> None:
    desk.ingestor.ingest([reports.first, reports.second])
    answer = client.post("/ask", json={"question": reports.question}).json()
    assert not answer["abstained"], answer["abstain_reason"]
    assert _disagreements(answer) == [], answer["relations"]
    ids = [reports.first.id, reports.second.id]
    summary = client.post("/summaries", json={"article_ids": ids}).json()
    assert _disagreements(summary) == [], summary["relations"]


def test_syndicated_copies_with_edited_leads_are_no_disagreement(
    desk: Newsdesk, client: TestClient
) -> None:
    """The hand-labelled copies of the NATO story (tests/data/duplicates): each reworded lead
    ("NATO turned down Ukraine's request…" / "NATO refused to close…") says what the original
    says. Summarised together, no sentence is marked as disagreeing."""
    story = "nato-no-fly-zone-stoltenberg"
    reports = [a for a, label in labelled_articles() if label == story]
    assert len(reports) >= 3
    desk.ingestor.ingest(reports)
    ids = [a.id for a in reports]
    summary = client.post("/summaries", json={"article_ids": ids, "length": "long"}).json()
    assert len({c["article_id"] for c in summary["citations"]}) >= 2, summary["citations"]
    assert _disagreements(summary) == [], summary["relations"]


def test_the_conflicting_words_of_each_side_are_named() -> None:
    named = conflict(
        "The driver, Ahmed Ali, was taken to hospital.",
        "The driver, Mohammed Saleh, was taken to hospital.",
    )
    assert named is not None
    assert (named.kind, named.claim, named.evidence) == ("name", "Ahmed Ali", "Mohammed Saleh")
    said = conflict(
        '"We will defend every inch," said Stoltenberg.', '"We will defend every inch," said Biden.'
    )
    assert said is not None and (said.kind, said.claim, said.evidence) == (
        "attribution",
        "Stoltenberg",
        "Biden",
    )
    # One side names someone more: extra detail, not another person in the same role.
    assert (
        conflict(
            "Police arrested Ahmed Ali on Monday.",
            "Police arrested Ahmed Ali and his brother Omar on Monday in Jeddah.",
        )
        is None
    )
    # An alias and a longer form of the same name are the same fact.
    assert (
        conflict(
            "Stoltenberg said the US would send more troops.",
            "NATO Secretary General Jens Stoltenberg said the United States would send more troops.",
        )
        is None
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # Lists of different places on one topic: more than one name differs.
        (
            "After this, Huguenots fled to surrounding Protestant countries: England, the "
            "Netherlands, Switzerland, Norway, Denmark, and Prussia.",
            "The bulk of Huguenot emigres relocated to Protestant European nations such as "
            "England, Wales, Scotland, Denmark, Sweden, Switzerland and the Dutch Republic.",
        ),
        # One figure each, of different things (X.25 is named on one side only).
        (
            "Before the introduction of X.25 in 1973, about twenty different network "
            "technologies had been developed.",
            "There were two kinds of X.25 networks.",
        ),
        # A decade holds the year.
        (
            "Evidence accumulating since the 1980s indicates that the cydippids are not "
            "monophyletic.",
            "Richard Harbison's analysis in 1985 concluded that the cydippids are not "
            "monophyletic.",
        ),
        # Ordinals name two of a series.
        (
            "Germanic tribes crossed the Rhine by the 5th century.",
            "By the 6th century, the Rhine was within the borders of Francia.",
        ),
    ],
)
def test_sentences_of_one_topic_about_different_matters_do_not_conflict(
    first: str, second: str
) -> None:
    assert conflict(first, second) is None
    assert conflict(second, first) is None


def test_a_revision_that_changes_two_figures_of_one_sentence_still_conflicts() -> None:
    revised = conflict(
        "A crane fell into Mecca's Grand Mosque, killing at least 111 and wounding 331, "
        "according to the Civil Defense Authority.",
        "A crane fell into Mecca's Grand Mosque, killing 107 or more and wounding 238, "
        "according to the Civil Defense Authority.",
    )
    assert revised is not None and revised.kind == "number"
    # Two different decades are two different dates.
    decades = conflict("The reform began in the 1950s.", "The reform began in the 1960s.")
    assert decades is not None and decades.kind == "date"


def test_the_labelled_pairs(embedder: Embedder) -> None:
    """The dev split: no agreeing pair is flagged, and at least 90 % of the conflicting
    pairs are found with their kind (the held-out split is bench/disagreement.py's)."""
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    scorer = SupportScorer(embedder)
    first = embedder.embed([p["a"] for p in pairs])
    second = embedder.embed([p["b"] for p in pairs])
    found = []
    for i, pair in enumerate(pairs):
        support = float(scorer.score([pair["a"]], [pair["b"]])[0, 0])
        relation, conflicting = relation_between(
            pair["a"], pair["b"], float(first[i] @ second[i]), support, 0.5
        )
        found.append(conflicting.kind if relation == "disagrees" and conflicting else "agrees")
    flagged = [p for p, kind in zip(pairs, found, strict=True) if p["kind"] == "agrees" != kind]
    assert flagged == []
    labelled = [(p["kind"], kind) for p, kind in zip(pairs, found, strict=True)]
    right = sum(1 for label, kind in labelled if label == kind != "agrees")
    total = sum(1 for label, _ in labelled if label != "agrees")
    assert total >= 75 and right >= 0.9 * total, labelled

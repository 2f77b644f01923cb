"""The citation checker against the real embedding model, on small hand-made articles whose
passages are honest slices of the article text (so quote offsets can be checked exactly)."""

from __future__ import annotations

import pytest

from newsdesk.answers import CitedText
from newsdesk.domain import Passage
from newsdesk.embedding import Embedder
from newsdesk.generation.citations import CitationChecker
from newsdesk.generation.markers import ParsedSentence, parse_markers
from newsdesk.generation.support import SupportScorer

QUAKE = (
    "Quake hits Marlow\n\n"
    "An earthquake struck the coastal city of Marlow on Tuesday. "
    "The quake killed 107 people, officials said. "
    "Rescue teams searched the rubble through the night."
)
NATO = (
    "NATO refused to impose a no-fly zone over Ukraine. "
    "The alliance said such a move could escalate the war. "
    "Its foreign ministers met in Brussels on Friday."
)
BUDGET = (
    "Budget day\n\n"
    "The finance minister presented the budget to parliament on Monday. "
    "It raises spending on hospitals by 4 percent."
)
ARTICLES = {"quake": QUAKE, "nato": NATO, "budget": BUDGET}


def _passage(chunk_id: int, article_id: str, first_words: str) -> Passage:
    """The chunk of an article from `first_words` to its end, with honest offsets."""
    article = ARTICLES[article_id]
    start = article.index(first_words)
    return Passage(
        chunk_id=chunk_id,
        article_id=article_id,
        title=article_id.title(),
        url=f"https://news.example/{article_id}",
        source="Example Wire",
        text=article[start:],
        char_start=start,
        char_end=len(article),
        score=1.0,
        dense_score=None,
        lexical_score=None,
    )


@pytest.fixture
def passages() -> list[Passage]:
    """Numbered [1] quake, [2] NATO, [3] budget, as the LLM would see them."""
    return [
        _passage(101, "quake", "An earthquake"),
        _passage(202, "nato", "NATO refused"),
        _passage(303, "budget", "The finance minister"),
    ]


@pytest.fixture(scope="module")
def checker(embedder: Embedder) -> CitationChecker:
    return CitationChecker(embedder)


def _assert_quotes_exact(cited: CitedText) -> None:
    for citation in cited.citations:
        article = ARTICLES[citation.article_id]
        assert article[citation.char_start : citation.char_end] == citation.quote
        assert citation.quote in citation.passage


# --- parse_markers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("generated", "expected"),
    [
        (
            "NATO refused a no-fly zone [1][2].",
            [ParsedSentence("NATO refused a no-fly zone.", [1, 2])],
        ),
        (
            "The quake killed 107 people [1, 3]. It hit Marlow [2-3].",
            [
                ParsedSentence("The quake killed 107 people.", [1, 3]),
                ParsedSentence("It hit Marlow.", [2, 3]),
            ],
        ),
        (
            "The quake struck Marlow [1]. [4] He said that the toll would rise.",
            [
                ParsedSentence("The quake struck Marlow.", [1]),
                ParsedSentence("He said that the toll would rise.", [4]),
            ],
        ),
        (
            "[4] He said that the toll would rise.",
            [ParsedSentence("He said that the toll would rise.", [4])],
        ),
        (
            "Rescuers [2] searched the rubble [1] overnight [2].",
            [ParsedSentence("Rescuers searched the rubble overnight.", [2, 1])],
        ),
        (
            "The quake killed 107 people.[1] Rescuers searched the rubble.[2]",
            [
                ParsedSentence("The quake killed 107 people.", [1]),
                ParsedSentence("Rescuers searched the rubble.", [2]),
            ],
        ),
        (
            # Markers written after the full stop, the last one ending the text: trailing style.
            "The quake struck. [1] Rescuers came. [2]",
            [ParsedSentence("The quake struck.", [1]), ParsedSentence("Rescuers came.", [2])],
        ),
        (
            "No markers here. None at all!",
            [ParsedSentence("No markers here.", []), ParsedSentence("None at all!", [])],
        ),
        ("The quake struck [1]. [2].", [ParsedSentence("The quake struck.", [1, 2])]),
        ("[1]. [2]", []),
        ("", []),
    ],
)
def test_parse_markers(generated: str, expected: list[ParsedSentence]) -> None:
    assert parse_markers(generated) == expected


# --- SupportScorer --------------------------------------------------------------------------


def test_number_mismatch_scores_clearly_lower(embedder: Embedder) -> None:
    evidence = ["The quake killed 107 people, officials said."]
    claims = [
        "The earthquake killed 107 people.",
        "The earthquake killed 500 people.",
        "The earthquake killed one hundred and seven people.",
    ]
    matching, swapped, in_words = SupportScorer(embedder).score(claims, evidence)[:, 0]
    assert matching >= 0.5 > swapped
    assert matching - swapped > 0.3
    assert in_words >= 0.5  # "one hundred and seven" agrees with "107"


def test_changed_day_scores_lower(embedder: Embedder) -> None:
    evidence = ["The finance minister presented the budget to parliament on Monday."]
    claims = [
        "On Monday the budget was presented to lawmakers by the finance minister.",
        "The finance minister presented the budget on Friday.",
    ]
    paraphrase, wrong_day = SupportScorer(embedder).score(claims, evidence)[:, 0]
    assert paraphrase >= 0.5 > wrong_day


def test_negation_mismatch_scores_lower(embedder: Embedder) -> None:
    evidence = [
        "The finance minister presented the budget to parliament on Monday.",
        "NATO refused to impose a no-fly zone over Ukraine.",
    ]
    claims = [
        "The finance minister presented the budget on Monday.",
        "The finance minister did not present the budget to parliament.",
        "NATO refused a no-fly zone over Ukraine.",
        "NATO agreed to impose a no-fly zone over Ukraine.",
    ]
    scores = SupportScorer(embedder).score(claims, evidence)
    assert scores[0, 0] >= 0.5 > scores[1, 0]
    assert scores[2, 1] >= 0.5 > scores[3, 1]  # "no-fly" is not a negation; "refused" is


def test_scores_shape_range_and_determinism(embedder: Embedder) -> None:
    scorer = SupportScorer(embedder)
    claims = ["The quake killed 107 people.", "Ministers met in Brussels."]
    evidence = [NATO, QUAKE, "The quake killed 107 people."]
    first = scorer.score(claims, evidence)
    assert first.shape == (2, 3)
    assert ((first >= 0) & (first <= 1)).all()
    assert (first == scorer.score(claims, evidence)).all()
    assert first[0].argmax() == 2 and first[1].argmax() == 0
    assert scorer.score([], evidence).shape == (0, 3)


# --- CitationChecker.check ------------------------------------------------------------------


def test_faithful_answer_is_cited_as_written(
    checker: CitationChecker, passages: list[Passage]
) -> None:
    cited = checker.check(
        "NATO refused a no-fly zone over Ukraine [2]. The quake killed 107 people [1].", passages
    )
    assert cited.text == (
        "NATO refused a no-fly zone over Ukraine [1]. The quake killed 107 people [2]."
    )
    assert [s.supported for s in cited.sentences] == [True, True]
    assert [c.chunk_id for c in cited.citations] == [202, 101]  # renumbered by first appearance
    assert cited.citations[0].quote == "NATO refused to impose a no-fly zone over Ukraine."
    assert cited.citations[1].quote == "The quake killed 107 people, officials said."
    assert cited.citations[1].url == "https://news.example/quake"
    assert cited.check.model_dump() == {
        "invalid_markers": [],
        "unmarked_sentences": [],
        "reassigned_sentences": [],
        "removed_sentences": [],
    }
    _assert_quotes_exact(cited)


def test_wrong_marker_is_reassigned_to_the_supporting_passage(
    checker: CitationChecker, passages: list[Passage]
) -> None:
    cited = checker.check(
        "The quake killed 107 people [1]. NATO refused a no-fly zone [1].", passages
    )
    assert cited.check.reassigned_sentences == [1]
    assert cited.sentences[1].citations == [2]
    assert cited.citations[1].chunk_id == 202
    assert cited.sentences[1].supported
    _assert_quotes_exact(cited)


def test_fabricated_sentence_is_flagged(checker: CitationChecker, passages: list[Passage]) -> None:
    cited = checker.check(
        "The quake killed 107 people [1]. The minister resigned in disgrace [1].", passages
    )
    fabricated = cited.sentences[1]
    assert fabricated.text == "The minister resigned in disgrace."
    assert not fabricated.supported
    assert fabricated.support < 0.4
    assert cited.sentences[0].supported
    assert cited.check.removed_sentences == []
    assert cited.check.reassigned_sentences == []  # nothing supports it better elsewhere


def test_drop_unsupported_removes_and_reports(embedder: Embedder, passages: list[Passage]) -> None:
    checker = CitationChecker(embedder, drop_unsupported=True)
    cited = checker.check(
        "The minister resigned in disgrace [1]. The quake killed 107 people [1].", passages
    )
    assert cited.check.removed_sentences == ["The minister resigned in disgrace."]
    assert [s.text for s in cited.sentences] == ["The quake killed 107 people."]
    assert cited.text == "The quake killed 107 people [1]."
    assert [c.number for c in cited.citations] == [1]


def test_invalid_marker_is_dropped_and_reported(
    checker: CitationChecker, passages: list[Passage]
) -> None:
    cited = checker.check(
        "The quake killed 107 people [9]. Ministers met in Brussels on Friday [2][9].", passages
    )
    assert cited.check.invalid_markers == [9]
    assert cited.check.unmarked_sentences == [0]  # [9] was its only marker
    assert all(c.number <= 2 for c in cited.citations)
    assert "[9]" not in cited.text
    assert [c.chunk_id for c in cited.citations] == [101, 202]
    assert cited.text == (
        "The quake killed 107 people [1]. Ministers met in Brussels on Friday [2]."
    )
    _assert_quotes_exact(cited)


def test_same_quote_shares_one_citation(checker: CitationChecker, passages: list[Passage]) -> None:
    cited = checker.check(
        "NATO refused a no-fly zone over Ukraine [2]. "
        "NATO has declined to impose a no-fly zone over Ukraine [2].",
        passages,
    )
    assert [s.citations for s in cited.sentences] == [[1], [1]]
    assert len(cited.citations) == 1


def test_fused_claim_quotes_two_adjacent_sentences(
    checker: CitationChecker, passages: list[Passage]
) -> None:
    cited = checker.check(
        "An earthquake struck Marlow on Tuesday and killed 107 people [1].", passages
    )
    assert cited.sentences[0].supported
    assert cited.citations[0].quote == (
        "An earthquake struck the coastal city of Marlow on Tuesday. "
        "The quake killed 107 people, officials said."
    )
    _assert_quotes_exact(cited)


def test_unmarked_sentence_gets_best_passage(
    checker: CitationChecker, passages: list[Passage]
) -> None:
    cited = checker.check(
        "Spending on hospitals rises by 4 percent. The minister resigned in disgrace.", passages
    )
    assert cited.check.unmarked_sentences == [0, 1]
    assert cited.citations[0].chunk_id == 303
    assert cited.sentences[0].citations == [1]
    assert cited.sentences[1].citations == []  # below threshold: left uncited, flagged
    assert cited.text == (
        "Spending on hospitals rises by 4 percent [1]. The minister resigned in disgrace."
    )


def test_no_passages_leaves_everything_unsupported(checker: CitationChecker) -> None:
    cited = checker.check("The quake killed 107 people [1].", [])
    assert cited.check.invalid_markers == [1]
    assert cited.citations == []
    assert [(s.support, s.supported) for s in cited.sentences] == [(0.0, False)]


# --- CitationChecker.cite -------------------------------------------------------------------


def test_cite_assigns_citations_to_plain_sentences(
    checker: CitationChecker, passages: list[Passage]
) -> None:
    sentences = [
        "The finance minister presented the budget to parliament on Monday.",
        "Rescue teams searched the rubble through the night.",
        "The finance minister presented the budget to parliament on Monday.",
    ]
    cited = checker.cite(sentences, passages)
    assert [s.citations for s in cited.sentences] == [[1], [2], [1]]
    assert [c.chunk_id for c in cited.citations] == [303, 101]
    assert cited.citations[1].quote == "Rescue teams searched the rubble through the night."
    assert cited.check.unmarked_sentences == []
    assert all(s.supported for s in cited.sentences)
    assert cited.text.startswith(
        "The finance minister presented the budget to parliament on Monday [1]."
    )
    _assert_quotes_exact(cited)

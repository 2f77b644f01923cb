"""Acronyms bind the names they stand for: a sentence that says "the ASI" answers a question
about the Archaeological Survey of India, and the other way round."""

from __future__ import annotations

from newsdesk.embedding import Embedder
from newsdesk.generation.acronyms import acronyms, linked_words, spelled_out
from newsdesk.generation.extractive import ExtractiveAnswerer

from .support.passages import passage


def test_a_name_spelled_out_is_known_by_its_initials() -> None:
    names = spelled_out("Did Singapore's Asian Civilisation Museum ask the Survey of India?")
    assert names["acm"] == "Asian Civilisation Museum"
    assert names["si"] == "Survey of India"
    assert "aw" not in names  # no run of capitals says "AW"
    assert acronyms("The ASI and the NHS met; US officials (AT&T) said") == {
        "asi",
        "nhs",
        "us",
        "at&t",
    }


def test_a_sentence_links_to_the_question_through_initials_either_way() -> None:
    question = "When did the Archaeological Survey of India ask for the sculpture back?"
    said = "The ASI submitted an official request for the return of the sculpture in May."
    assert linked_words(question, said) == "Archaeological Survey of India"
    assert linked_words("What did the ACM pay?", "The Asian Civilisation Museum paid") == "ACM"
    # Initials that stand for another name link nothing.
    assert linked_words(question, "The BBC reported the request in May.") == ""


def test_the_rules_answer_from_a_sentence_that_uses_the_initials(embedder: Embedder) -> None:
    answerer = ExtractiveAnswerer(embedder)
    story = passage(
        "The Archaeological Survey of India (ASI) says the bronze was stolen from a temple in "
        "Tamil Nadu. The ASI submitted an official request for the return of the sculpture in "
        "May, according to the museum. The museum bought it in 2007.",
        article_id="a",
        title="Singapore museum to return stolen bronze",
        similarity=0.6,
    )
    question = "When did the Archaeological Survey of India ask for the return of the sculpture?"
    assert any("in May" in s for s in answerer.answer(question, [story]))

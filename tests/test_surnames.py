"""A person the question names in full and the story by surname alone ("Alex Salmond" /
"Mr Salmond"): the given name is no detail the story lacks. Sentences written for these
tests; the extractive answerer with the real embedding model where a whole answer is checked."""

from __future__ import annotations

from newsdesk.embedding import Embedder
from newsdesk.generation.extractive import ExtractiveAnswerer, unmentioned
from newsdesk.generation.surnames import dropped_given_names

from .support.passages import passage

_STORY = (
    "Holyrood said farewell to retiring MSPs on Thursday. Mr Salmond, who was Scotland's "
    "first minister from 2007 to 2014, joked that his speech would not outshine the "
    "Cheltenham Gold Cup. Ms Marwick thanked Mr Salmond and Mr McNeil for their service."
)


def test_a_given_name_is_forgiven_where_the_story_writes_the_surname_alone() -> None:
    question = "In which years was Alex Salmond Scotland's first minister?"
    assert dropped_given_names(question, _STORY) == {"alex"}
    assert dropped_given_names("What did Ashley say?", "Sports Direct owner Ashley said") == set()
    assert dropped_given_names("By when must Mike Ashley reply?", "owner Ashley said") == {"mike"}


def test_a_surname_written_after_another_name_forgives_nothing() -> None:
    # "Real Madrid" is not the Madrid of "Atletico Madrid"; "Rachel Salmond" is not Alex.
    assert dropped_given_names("Who did Atletico Madrid beat?", "Real Madrid won 2-0.") == set()
    assert dropped_given_names("Did Alex Salmond vote?", "Rachel Salmond voted.") == set()
    # Neither name in the story: nothing to forgive, the question is about someone else.
    assert dropped_given_names("What did Nicola Sturgeon say?", _STORY) == set()


def test_the_story_check_and_the_answer_take_the_surname(embedder: Embedder) -> None:
    story = passage(_STORY, article_id="a", title="MSPs bid farewell", similarity=0.6)
    question = "In which years was Alex Salmond Scotland's first minister?"
    assert unmentioned(question, [story]) == []
    answer = ExtractiveAnswerer(embedder).answer(question, [story])
    assert any("2007 to 2014" in s for s in answer)
    # Someone the story does not name is still declined.
    assert unmentioned("What did Nicola Sturgeon say about the farewell?", [story])

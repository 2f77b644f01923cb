"""The answer's slot (generation/answer_slots.py): a sentence answers only if what it holds of
the asked kind is bound to what the question asks about. Sentences written for these tests,
then the sample articles through the whole pipeline (real embedding model, faiss, SQLite)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.generation import answer_slots
from newsdesk.generation.extractive import ExtractiveAnswerer, question_keys, word_keys

from .support.passages import passage


def _asked(question: str) -> Callable[[str], bool]:
    keys = question_keys(question)
    return lambda word: bool(word_keys(word) & keys)


def test_the_shape_of_an_asked_number() -> None:
    assert answer_slots.number_shape("How old was the pilot?") == "age"
    assert answer_slots.number_shape("How long did the strike last?") == "duration"
    assert answer_slots.number_shape("How far did the runner fall behind?") == "distance"
    assert answer_slots.number_shape("What proportion of voters turned out?") == "share"
    assert answer_slots.number_shape("How many ferries were cancelled?") == "count"
    assert answer_slots.number_shape("How much did the bridge cost?") is None


def test_a_match_result_is_two_scores_not_any_number(embedder: Embedder) -> None:
    question = "By what score did Manchester United beat Aston Villa at Old Trafford?"
    assert answer_slots.number_shape(question.lower()) == "result"
    assert answer_slots.number_shape("what score did mcilroy card in dubai?") is None
    asked = _asked(question)
    won = "United beat Villa 3-1 at Old Trafford to make it five wins in a row."
    assert answer_slots.has_shape(won, "result", question, asked, None)
    rivals = "We face two or three big rivals like Chelsea, City and Arsenal, Mata said."
    assert not answer_slots.has_shape(rivals, "result", question, asked, None)
    assert not answer_slots.has_shape(
        "He was manager from 2007-2014.", "result", question, asked, None
    )
    story = passage(
        f"Juan Mata spoke after the game at Old Trafford. {rivals} {won}",
        article_id="a",
        title="Mata: every game is a final",
        similarity=0.6,
    )
    answer = ExtractiveAnswerer(embedder).answer(question, [story])
    assert answer and all("3-1" in s for s in answer)


def test_an_age_belongs_to_the_one_asked_about() -> None:
    question = "How old is Maria Lopez?"
    asked = _asked(question)
    assert answer_slots.has_shape("Maria Lopez, 61, opened the shop.", "age", question, asked, None)
    # Someone else's age, beside their name or a person noun, is not hers.
    assert not answer_slots.has_shape(
        "Maria Lopez hired Tom Reid, 23, last spring.", "age", question, asked, None
    )
    assert not answer_slots.has_shape(
        "Lopez drove her 12-year-old son to school.", "age", question, asked, None
    )
    # A question that names nobody takes the name beside the age as its person.
    role = "How old is the driver?"
    assert answer_slots.has_shape(
        "The driver, Tom Reid, 45, was arrested.", "age", role, _asked(role), None
    )
    # "The Christies' children": the children's age, not their mother's beside her name.
    owned = "How old are the Christies' children?"
    mother = "Mary Pat Christie, 51, a managing director, quit her job."
    assert not answer_slots.has_shape(mother, "age", owned, _asked(owned), None)
    salary = "In the same year Christie's salary was $175,000."
    assert not answer_slots.has_shape(salary, "age", owned, _asked(owned), None)
    children = "The Christies have four children, aged 21, 18, 14 and 11."
    assert answer_slots.has_shape(children, "age", owned, _asked(owned), None)


def test_a_count_counts_the_asked_thing() -> None:
    question = "How many ferries were cancelled?"
    counted = _asked("ferries")
    sentence = "Forty ferries were cancelled on Monday."
    assert answer_slots.has_shape(sentence, "count", question, _asked(question), counted)
    other = "The storm cancelled sailings for 3,000 passengers."
    assert not answer_slots.has_shape(other, "count", question, _asked(question), counted)
    # A duration is a number with a unit of time; a page count is not one.
    how_long = "How long was the road closed?"
    assert answer_slots.has_shape(
        "The road was closed for six hours.", "duration", how_long, _asked(how_long), None
    )
    assert not answer_slots.has_shape(
        "The 40-page report was closed.", "duration", how_long, _asked(how_long), None
    )


def test_a_name_fills_the_role_only_in_apposition() -> None:
    asked = _asked("Who is the harbour master of Oban?")
    role = [_asked("harbour"), _asked("master")]
    assert answer_slots.named_in_role(
        "Harbour master Ian Grant said the port was shut.", role, asked
    )
    assert answer_slots.named_in_role("Ian Grant, the harbour master, closed it.", role, asked)
    # The role and a name in one sentence, but the name does something else to the role.
    assert not answer_slots.named_in_role(
        "Kate Moss thanked the harbour master for his help.", role, asked
    )
    # Every word of the role: a prime minister is not the foreign minister.
    foreign = [_asked("foreign"), _asked("minister")]
    assert not answer_slots.named_in_role(
        "Prime Minister, Ana Silva, met the foreign press.", foreign, asked
    )


def test_a_passive_names_its_doer_after_a_phrase_in_between() -> None:
    knocked = _asked("knocked")
    assert answer_slots.doer_named(
        "Wales were knocked out of the World Cup by South Africa in the quarter-final.", knocked
    )
    # The clause ends before any "by": nobody is named as the doer.
    assert not answer_slots.doer_named(
        "Wales were knocked out of the World Cup, watched by 80,000 fans.", knocked
    )


def test_the_speaker_asked_about_is_the_one_who_speaks() -> None:
    is_mayor = _asked("mayor")
    assert answer_slots.speaker_speaks('"We will rebuild," the mayor said.', is_mayor)
    assert answer_slots.speaker_speaks("The harbour is closed, said the mayor.", is_mayor)
    assert not answer_slots.speaker_speaks("The governor said the mayor would resign.", is_mayor)
    # Any verb the checker reads as speech (facts.SPEECH_VERBS) says who speaks here too.
    assert answer_slots.speaker_speaks("'He was pushed,' the mayor revealed in court.", is_mayor)
    assert answer_slots.speaker_speaks("The mayor admitted the harbour was closed.", is_mayor)
    assert not answer_slots.speaker_speaks("The mayor visited the harbour.", is_mayor)


def test_why_wants_a_reason_not_the_event_again() -> None:
    question = "Why was the match abandoned?"
    asked = _asked(question)
    assert answer_slots.asks_reason(question)
    assert answer_slots.gives_reason("The match was abandoned because of heavy snow.", asked)
    assert not answer_slots.gives_reason("Fans went home after the match was abandoned.", asked)
    assert not answer_slots.gives_reason("The match was abandoned on Sunday.", asked)


def test_a_sentence_that_says_it_is_not_known_answers_nothing() -> None:
    assert answer_slots.says_unknown("The cause of the blaze remains unknown.")
    assert answer_slots.says_unknown("The club would not comment on the size of the fee.")
    assert not answer_slots.says_unknown("The blaze was caused by a faulty heater.")
    # Who it is, not told: whatever role the sentence names, it names no one.
    assert answer_slots.names_no_one("The official accused of the attack has not been named.")
    assert answer_slots.names_no_one("An unidentified gunman opened fire.")
    assert not answer_slots.names_no_one("The official, Ivan Petrov, has been named.")


def test_sentences_glued_without_a_space_are_told_apart() -> None:
    glued = 'The ferry broke down.Cars were damaged."It is a prototype," he said.'
    assert answer_slots.unglued(glued) == [
        "The ferry broke down.",
        "Cars were damaged.",
        '"It is a prototype," he said.',
    ]
    assert answer_slots.unglued("U.S. officials met at 3.30pm.") == [
        "U.S. officials met at 3.30pm."
    ]


def test_captions_run_into_the_story_without_a_stop_are_told_apart() -> None:
    captions = (
        "Hazard was substituted with 28 minutes to go in a game his side won 1-0 over Israel "
        "in Jerusalem on Tuesday night The 24-year-old playmaker has played all but five of "
        "his club's games this season, mainly avoiding injury In the end the manager said he "
        "had looked tired."
    )
    assert answer_slots.unglued(captions) == [
        "Hazard was substituted with 28 minutes to go in a game his side won 1-0 over Israel "
        "in Jerusalem on Tuesday night",
        "The 24-year-old playmaker has played all but five of his club's games this season, "
        "mainly avoiding injury",
        "In the end the manager said he had looked tired.",
    ]
    # An ordinary sentence keeps "The" and "In" where a name or title puts them.
    short = "Ministers met in The Hague on Tuesday and flew on to talks In Bruges."
    assert answer_slots.unglued(short) == [short]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How old is Thomas Sam?", "42"),
        ("Who is the State Department spokesperson?", "Jeff Rathke"),
        ("What did the Environment Canada spokeswoman say?", "Sujata Raisinghani"),
    ],
)
def test_a_bound_answer_is_given(sample_desk: Newsdesk, question: str, expected: str) -> None:
    answer = sample_desk.answerer().ask(question)
    assert not answer.abstained, answer.abstain_reason
    assert expected in answer.answer


@pytest.mark.parametrize(
    "question",
    [
        # The story gives the parents' ages and the barrister's name, not his age.
        "How old is Tom Molomby?",
        # Kerry "contacted Thailand's foreign minister"; the minister is not named.
        "Who is Thailand's foreign minister?",
    ],
)
def test_an_unbound_kind_is_declined(sample_desk: Newsdesk, question: str) -> None:
    answer = sample_desk.answerer().ask(question)
    assert answer.abstained, answer.answer

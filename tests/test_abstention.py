"""Answering what the story answers, declining what it does not (issue 11 §3): extractive
backend, real embedding model, the sample articles, and the news QA set shipped with them."""

from __future__ import annotations

import pytest

from newsdesk.container import Newsdesk
from newsdesk.domain import Passage
from newsdesk.embedding import Embedder
from newsdesk.evals import news_qa
from newsdesk.generation import answer_slots
from newsdesk.generation.extractive import (
    ExtractiveAnswerer,
    _Slot,
    answers_kind,
    covered,
    described_verbs,
    question_keys,
    question_kind,
    question_required,
    question_verbs,
    unmentioned,
    word_keys,
)
from tests.support.samples import ROOT

from .support.passages import passage

NATO = "nato-no-fly-zone-stoltenberg"
MECCA = "wikinews-2015-mecca-crane-collapse"


@pytest.mark.parametrize(
    "question",
    [
        "Why did NATO refuse a no-fly zone over Ukraine?",
        "Why did NATO refuse to impose a no-fly zone over Ukraine?",
    ],
)
def test_both_wordings_of_the_seed_question_are_answered(
    sample_desk: Newsdesk, question: str
) -> None:
    answer = sample_desk.answerer().ask(question)
    assert not answer.abstained, answer.abstain_reason
    assert answer.citations and all(c.article_id == NATO for c in answer.citations)


def test_the_mayor_of_a_story_without_one_is_declined_and_named(sample_desk: Newsdesk) -> None:
    answer = sample_desk.answerer().ask("What did the mayor of Mecca say about the crane collapse?")
    assert answer.abstained and answer.citations == []
    assert "'mayor'" in (answer.abstain_reason or "")


def test_a_story_with_a_mayor_answers_who_the_mayor_is(sample_desk: Newsdesk) -> None:
    # The decline above is about the story, not about the word: Taipei's story has a mayor.
    answer = sample_desk.answerer().ask("Who is the mayor of Taipei?")
    assert not answer.abstained, answer.abstain_reason
    assert "Hau Lung-bin" in answer.answer


@pytest.mark.parametrize(
    "question",
    [
        "How many pilgrims were injured in the stampede?",  # it counts only the dead
        "How many asylum seekers drowned when the boat sank?",  # it counts the rescued
        "Which construction company owned the crane in Mecca?",
    ],
)
def test_questions_about_an_event_the_story_does_not_report_are_declined(
    sample_desk: Newsdesk, question: str
) -> None:
    answer = sample_desk.answerer().ask(question)
    assert answer.abstained, answer.answer


def test_inflections_and_derivations_match_but_other_words_do_not() -> None:
    story = word_keys("A storm caused a crane to fall. The applicants sank; 700 were rescued.")
    for question_word in ["fell", "applied", "sinking", "rescue"]:
        (key,) = question_keys(question_word)
        assert covered(key, story), question_word
    for question_word in ["mayor", "injured", "drowned"]:
        (key,) = question_keys(question_word)
        assert not covered(key, story), question_word


def test_words_for_the_same_event_match_but_other_events_do_not() -> None:
    # "How many were injured?" about a story that says "wounding 238" is answered by it; a
    # story that counts only the dead does not answer it.
    wounded = word_keys("The crane fell, killing 107 or more and wounding 238.")
    dead = word_keys("At least 700 pilgrims died in the stampede.")
    (injured,) = question_keys("injured")
    (killed,) = question_keys("killed")
    assert covered(injured, wounded) and covered(killed, wounded)
    assert not covered(injured, dead) and covered(killed, dead)


def test_light_verbs_and_kind_words_are_not_asked_about() -> None:
    assert "impos" not in question_keys("Why did NATO refuse to impose a no-fly zone?")
    assert question_keys("How tall is the pig?") == question_keys("pig")
    assert question_verbs("How many people were killed when the crane fell?") == (
        question_keys("kill") | question_keys("fall")
    )
    assert question_verbs("When did the broadcasts begin?") == {"begin"}
    assert question_verbs("How many working days do applicants have?") == set()


def test_a_question_for_a_sum_of_money_wants_an_amount_of_money() -> None:
    # "cost"/"owe" say what kind of answer is wanted; the story must hold a sum, not a count.
    assert question_kind("How much did the crop yield study cost?") == "money"
    assert question_kind("How much did the Livorno schools owe in arrears?") == "money"
    assert question_kind("How much iodine do children need?") != "money"
    assert "cost" not in " ".join(question_keys("How much did the lantern festival cost?"))
    question = "How much did it cost?"
    assert answers_kind("The schools must pay over 422,000 euros.", "money", question)
    assert answers_kind("It cost $1.2 million.", "money", question)
    assert not answers_kind("Over 4 million visitors attended.", "money", question)
    # "How much of the money" asks for a portion of it, which a sum does not give.
    portion = "How much of the calendar money will go to charity?"
    assert question_kind(portion) == "number"
    assert answer_slots.number_shape(portion) == "share"
    never = lambda _: False  # noqa: E731
    half = "He will donate half the proceeds to two foundations."
    assert answer_slots.has_shape(half, "share", portion, never, None)
    assert not answer_slots.has_shape("He raised $400.", "share", portion, never, None)


def test_a_competition_or_an_outlet_is_no_person() -> None:
    question = "Who scored the goal?"
    assert not answers_kind("According to the Associated Press, he scored.", "person", question)
    assert not answers_kind("It lifts them in the Barclays Premier League.", "person", question)
    assert answers_kind("Glenn Murray scored, the Associated Press said.", "person", question)


def test_a_question_for_a_name_wants_a_name() -> None:
    # Of anyone or anything: one capitalised word will do, but not a sentence's opening
    # common word nor the place it happened in.
    assert question_kind("What is the dog's name?") == "name"
    assert question_kind("What was the name of the ship?") == "name"
    assert question_kind("What did she name the baby?") == "other"
    dog = "What is the dog's name?"
    assert answers_kind("His dog Hooch saved him from the badger.", "name", dog)
    assert not answers_kind("Footage shows the dog saving him in Santa Monica.", "name", dog)


def test_pounds_weighed_are_no_sum_of_money() -> None:
    question = "How much will each fighter be paid?"
    assert not answers_kind("The logs weigh nearly 700 pounds each.", "money", question)
    assert answers_kind("Each will be paid 100 million pounds.", "money", question)


def test_a_where_clause_says_its_place() -> None:
    question = "Where were the plans announced?"
    sentence = "It brings the law in line with England and Wales, where plans were announced."
    assert answers_kind(sentence, "place", question)
    assert not answers_kind("The plans were announced last month.", "place", question)


def test_a_place_may_follow_its_kind() -> None:
    # "in the capital Ulan Bator", "in the northern city of Mosul": the place is still named.
    question = "Where was the rapper performing?"
    assert answers_kind("He was performing in the capital Ulan Bator.", "place", question)
    assert answers_kind("He played in the northern city of Mosul.", "place", question)
    assert not answers_kind("He was performing in the capital last week.", "place", question)


def test_the_focus_of_a_question_is_required_its_background_is_not() -> None:
    # Who speaks, what is counted, the asked event: a story lacking them does not answer.
    assert question_required("What did the mayor of Mecca say about the crane?") >= (
        question_keys("mayor Mecca")
    )
    assert question_required("How many complaints of vote rigging were filed?") == (
        question_keys("complaints filed")
    )
    # "the" presupposes one in the story: "the stampede" of a story with a crane collapse.
    assert question_keys("stampede") <= question_required("How many were hurt in the stampede?")
    assert question_required("How many asylum seekers drowned when the boat sank?") == (
        question_keys("asylum seekers drowned boat sank")
    )
    # "large", "grow" are the encyclopedia's own wording ("range ... in size"): background.
    assert question_required("How large can ctenophora grow?") == set()
    # Comparatives and superlatives are adjectives, not the asked event.
    assert question_verbs("Which group of ctenophores is hardest to study?") == set()


@pytest.mark.parametrize(
    "question",
    [
        "Why did the crane topple into the Grand Mosque?",  # the story says "fall"
        "Why did the crane plunge into the Grand Mosque?",
    ],
)
def test_a_reworded_background_word_does_not_decline(sample_desk: Newsdesk, question: str) -> None:
    answer = sample_desk.answerer().ask(question)
    assert not answer.abstained, answer.abstain_reason
    assert {c.article_id for c in answer.citations} == {MECCA}
    assert "storm" in answer.answer or "strong winds" in answer.answer


@pytest.mark.parametrize(
    "question",
    [
        "How much did the crop yield study cost?",  # no sum of money in the story
        "How many hours was Ahmed Mohamed held by police?",  # counts no hours
        "What did the Saudi king say about the stampede?",  # quotes no king
    ],
)
def test_a_missing_focus_declines_however_close_the_story(
    sample_desk: Newsdesk, question: str
) -> None:
    answer = sample_desk.answerer().ask(question)
    assert answer.abstained, answer.answer


def test_the_title_names_what_every_sentence_of_the_story_is_about(embedder: Embedder) -> None:
    # Encyclopedia and news sentences leave their topic to the title: the size sentence
    # answers "how large can ctenophora grow?" without naming them.
    text = (
        "Ctenophora is a phylum of animals that live in marine waters worldwide. "
        "Adults of various species range from a few millimeters to 1.5 m in size."
    )
    found = passage(text, article_id="ctenophora", title="Ctenophora", similarity=0.6)
    answerer = ExtractiveAnswerer(embedder)
    (sentence,) = answerer.answer("How large can ctenophora grow?", [found])
    assert "1.5 m" in sentence
    untitled = passage(text, article_id="x", title="Marine life", similarity=0.6)
    assert answerer.answer("How large can ctenophora grow?", [untitled]) == []


def _passage(article_id: str, text: str) -> Passage:
    return passage(text, article_id=article_id, title="", similarity=0.5)


def test_unmentioned_names_what_the_closest_story_lacks() -> None:
    passages = [
        _passage("a", "The crane fell into the Grand Mosque, killing 107 people."),
        _passage("b", "The mayor of Taipei lit the lanterns."),
    ]
    assert unmentioned("How many were killed when the crane fell?", passages) == []
    # Each story lacks one of the two: no story is about both.
    assert unmentioned("What did the mayor say about the crane?", passages) in (
        ["mayor"],
        ["crane"],
    )
    assert unmentioned("Who was injured by the crane in Mecca?", passages) == ["mecca", "injured"]


def test_the_news_qa_set_is_well_formed() -> None:
    suite = news_qa.load()
    texts = {a.id: a.text for a in news_qa.load_articles(suite, ROOT)}
    assert len(suite.questions) >= 60
    assert len({q.id for q in suite.questions}) == len(suite.questions)
    for q in suite.questions:
        assert q.article_id in texts
        assert bool(q.answers) == q.answerable, q.id
        for gold in q.answers:
            assert texts[q.article_id][gold.start : gold.end] == gold.text, q.id
    for split in news_qa.SPLITS:
        answerable = [q.answerable for q in suite.questions if q.split == split]
        assert 0.35 <= 1 - sum(answerable) / len(answerable) <= 0.6, split
    # Split by article, so no story is tuned on and tested on.
    tune = {q.article_id for q in suite.questions if q.split == "tune"}
    assert tune.isdisjoint({q.article_id for q in suite.questions if q.split == "test"})
    # holdout2 to holdout16 are on articles no other split asks about, none of them a sample.
    assert news_qa.SPLITS[3:] == tuple(f"holdout{n}" for n in range(2, 17))
    for split in news_qa.SPLITS[3:]:
        held = {q.article_id for q in suite.questions if q.split == split}
        others = {q.article_id for q in suite.questions if q.split != split}
        assert len(held) >= 8 and held.isdisjoint(others), split
        assert sum(q.split == split for q in suite.questions) >= 40, split


def test_the_news_qa_set_is_answered_and_declined(sample_desk: Newsdesk) -> None:
    # Floors a little under what bench/news_abstention.py measures on both splits together
    # (answered 96 %, declined 97.5 %), so a regression shows; before issue 11 §3: 72 %, 72 %.
    # The holdout splits are left out: they are reported (bench/news_abstention.py), not tested on.
    questions = [q for q in news_qa.load().questions if q.split in ("tune", "test")]
    scores = news_qa.score(news_qa.ask_all(sample_desk.answerer(), questions))
    assert scores.declined_rate >= 0.9
    assert scores.answered_rate >= 0.9


def test_a_number_fused_to_its_unit_says_the_unit() -> None:
    # "a 16-storey tower" has storeys as much as "16 storeys"; other hyphenated words stay whole.
    (storeys,) = question_keys("storeys")
    assert covered(storeys, word_keys("The 16-storey tower block was refurbished."))
    (metres,) = question_keys("metres")
    assert covered(metres, word_keys("a 6,000-metre-long kite"))
    (flew,) = question_keys("flew")
    assert not covered(flew, word_keys("NATO refused a no-fly zone."))
    # Spelled numbers too: "a three-match ban" is a ban of matches.
    (matches,) = question_keys("matches")
    assert covered(matches, word_keys("He is available after a three-match suspension."))
    assert not covered(matches, word_keys("He is available after a three-week suspension."))


def test_a_conjunction_joining_two_clauses_is_no_topic() -> None:
    story = [_passage("a", "Vice-president Alvaro Garcia signed the law with Morales away.")]
    assert unmentioned("Who signed the law while Morales was away?", story) == []
    assert unmentioned("Who signed the law, although Morales was away?", story) == []


def test_else_now_and_put_are_no_topic() -> None:
    story = [_passage("a", "The nose ring, also known as a nath, is worn by many women.")]
    assert unmentioned("What else is the nose ring called?", story) == []
    goal = [_passage("a", "Hoffenheim player Niklas Sule sent the ball into his own net.")]
    assert unmentioned("Which Hoffenheim player put the ball into his own net?", goal) == []
    lead = [_passage("a", "Bayern lead Wolfsburg by eight points at the top.")]
    assert unmentioned("How many points do Bayern lead Wolfsburg by now?", lead) == []


def test_where_someone_finished_asks_a_position_not_a_place() -> None:
    assert question_kind("Where did Casey finish on his Masters debut?") == "number"
    assert question_kind("Where is the team placed in the league?") == "number"
    assert question_kind("Where did the fire come from?") == "place"
    assert question_kind("Where was Casey when his Masters place was decided?") == "place"
    assert question_kind("Where did he end up after the war?") == "place"


def test_a_name_is_mentioned_however_the_page_wrote_it() -> None:
    """A possessive after s, quotes around a name, a name of digits and letters, and a name
    glued to the word before it by a scraped page are all the name."""
    deal = [_passage("a", "Rotherham reached a settlement with Hibs over Stubbs' assistant.")]
    assert unmentioned("How long is Stubbs' contract at Rotherham?", deal) == []
    song = [_passage("a", "The earworm 'PPAP' drew 44m views on 9GAG's Facebook page.")]
    assert unmentioned("How many views did 9GAG's Facebook video of PPAP draw?", song) == []
    glued = [_passage("a", "Share this withEmailCopy this linkKen Dickie, 64, died in hospital.")]
    assert unmentioned("How old was Ken Dickie?", glued) == []
    # Still the name asked for, not a near one.
    other = [_passage("a", "Ben Dickie, 64, died in hospital; 9 people were hurt.")]
    assert unmentioned("How old was Ken Dickie?", other) == ["ken"]
    assert "9gag" in unmentioned("How many views did 9GAG's video draw?", other)


def test_a_country_is_mentioned_by_any_of_its_names() -> None:
    america = [_passage("a", "Kunis moved to America with her family in 1991.")]
    assert unmentioned("Where did Kunis live before moving to the US?", america) == []
    assert unmentioned("Where did Kunis live before moving to the U.S.?", america) == []
    # "us" the pronoun is no country, and another country is not this one.
    pronoun = [_passage("a", "Kunis told us she moved with her family in 1991.")]
    assert unmentioned("Where did Kunis live before moving to the US?", pronoun) == [
        "united states"
    ]
    britain = [_passage("a", "Kunis moved to Britain with her family in 1991.")]
    assert unmentioned("Where did Kunis live before moving to the US?", britain) == [
        "united states"
    ]


def test_which_two_asks_for_two_answers_not_for_the_word() -> None:
    lost = [_passage("a", "Both times at Wembley Villa lost to better teams: United and Chelsea.")]
    assert unmentioned("Which two teams beat Villa at Wembley?", lost) == []
    assert unmentioned("Which two coaches beat Villa at Wembley?", lost) == ["coaches"]


def test_degree_and_position_words_are_not_the_topic() -> None:
    assert question_keys("What magnitude was the quake near Lucca?") == question_keys(
        "What magnitude was the quake in Lucca?"
    )
    assert question_keys("What is the most a fine can be?") == question_keys("What is a fine?")


def test_what_share_asks_for_a_share_not_about_shares() -> None:
    share = question_keys("What share of the vote did the party win?")
    assert share == question_keys("What proportion of the vote did the party win?")
    assert question_keys("shares") <= question_keys("How many shares did the fund sell?")


def test_the_verb_after_a_possessive_subject_is_not_part_of_it() -> None:
    # "did the boy's mother speak": the subject ends before do-support's verb.
    required = question_required("Which programme did the boy's mother speak to?")
    assert question_keys("mother") <= required
    assert not question_keys("speak") & required


def test_a_weight_question_wants_a_mass() -> None:
    question = "How much did the parcel weigh?"
    slot = _slot(question)
    assert slot.filled("The parcel weighed 12 kilograms when it arrived.")
    assert not slot.filled("Two parcels arrived on Monday.")
    assert question_keys(question) == question_keys("parcel")
    assert _slot("How heavy is the statue?").filled("The statue is 3 tonnes of bronze.")


def test_the_numbers_of_a_date_count_nothing() -> None:
    # "How much/many ...?" is not answered by the day of a vote or the year a lease ends.
    question = "How many votes were cast?"
    assert not answers_kind("The vote will be held on Tuesday, 9 May.", "number", question)
    assert not answers_kind("The lease runs until 2023.", "number", question)
    assert answers_kind("Some 9,000 votes were cast on 9 May.", "number", question)
    assert not _slot(question).filled("The votes were counted on 9 May.")


def test_a_time_of_day_answers_what_time() -> None:
    question = "What time did the coaches leave?"
    assert question_kind(question) == "date"
    assert answers_kind("The coaches left the stadium at 1.30pm.", "date", question)
    assert not answers_kind("The coaches left the stadium early.", "date", question)


def _slot(question: str) -> _Slot:
    return _Slot(question, question_kind(question), question_keys(question), set())


def test_a_name_after_who_is_is_not_a_verb() -> None:
    assert question_verbs("Who is Newport County's caretaker manager?") == set()
    assert question_keys("command") <= question_verbs("Who will command the mission?")


def test_a_participle_before_its_noun_says_which_one() -> None:
    # "the downed jet" names the jet, like "the jet that was downed": not the asked event.
    question = "Who heads the inquiry into the downed jet?"
    assert question_keys("downed") <= described_verbs(question)
    assert not question_keys("downed") & described_verbs("Who downed the jet?")


def test_a_count_fused_to_its_noun_counts_it() -> None:
    slot = _slot("How many storeys does the tower have?")
    assert slot.filled("Residents of the 16-storey tower were moved out.")
    assert not slot.filled("Residents of the tower, built in 1971, were moved out.")

"""The hybrid answerability decision (extractive_answerability = "hybrid"): the learned score,
behind the rules' story gate (`unmentioned`) and `kind` and `slot` gates. Real embedding model, the sample
articles, the weights shipped in the package."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.generation import answerability
from newsdesk.settings import Settings
from tests.support.samples import load_samples

NATO = "nato-no-fly-zone-stoltenberg"


@pytest.fixture(scope="module")
def hybrid_desk(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Newsdesk]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("hybrid") / "data",
        backend="extractive",
        extractive_answerability="hybrid",
        _env_file=None,
    )
    with Newsdesk.open(settings, embedder=embedder) as opened:
        opened.ingestor.ingest(load_samples())
        yield opened


def test_the_hybrid_weights_are_their_own_and_gate_on_kind_and_slot() -> None:
    hybrid = answerability.packaged_model(hybrid=True)
    learned = answerability.packaged_model()
    assert hybrid.gates == ("kind", "slot") and learned.gates == ()
    assert hybrid.weights.shape == learned.weights.shape
    assert (hybrid.weights != learned.weights).any()
    assert 0 < hybrid.threshold < 1


def test_the_gates_survive_a_round_trip_and_unknown_ones_are_refused() -> None:
    text = answerability.packaged_model(hybrid=True).to_json()
    assert answerability.AnswerabilityModel.from_json(text).gates == ("kind", "slot")
    data = json.loads(text)
    data["gates"] = ["kind", "vibes"]
    with pytest.raises(ValueError, match="vibes"):
        answerability.AnswerabilityModel.from_json(json.dumps(data))


@pytest.mark.parametrize(
    "question",
    [
        # Kerry "contacted Thailand's foreign minister": the one close sentence names a person,
        # Kerry, so it passes `kind`; he is not the minister, so it fails `slot`.
        "Who is Thailand's foreign minister?",
        "How old is Tom Molomby?",
        # The stories report no injured pilgrims and no drowned asylum seekers (`unmentioned`).
        "How many pilgrims were injured in the stampede?",
        "How many asylum seekers drowned when the boat sank?",
    ],
)
def test_what_the_rules_gates_decline_hybrid_declines(hybrid_desk: Newsdesk, question: str) -> None:
    answer = hybrid_desk.answerer().ask(question)
    assert answer.abstained, answer.answer


def test_the_story_gate_declines_first_and_says_why(hybrid_desk: Newsdesk) -> None:
    answer = hybrid_desk.answerer().ask("What did the mayor of Mecca say about the crane collapse?")
    assert answer.abstained, answer.answer
    assert answer.abstain_reason == "the articles never mention 'mayor'"


@pytest.mark.parametrize(
    "question",
    [
        "Why did NATO refuse a no-fly zone over Ukraine?",
        "Why did NATO refuse to impose a no-fly zone over Ukraine?",
    ],
)
def test_both_wordings_of_the_seed_question_are_answered(
    hybrid_desk: Newsdesk, question: str
) -> None:
    answer = hybrid_desk.answerer().ask(question)
    assert not answer.abstained, answer.abstain_reason
    assert answer.citations and all(c.article_id == NATO for c in answer.citations)


def test_a_who_question_is_answered_with_a_name(hybrid_desk: Newsdesk) -> None:
    # The gates keep the candidates to sentences naming the asked person.
    answer = hybrid_desk.answerer().ask("Who is the mayor of Taipei?")
    assert not answer.abstained, answer.abstain_reason
    assert "Hau Lung-bin" in answer.answer

"""The learned answerability decision of the extractive backend (extractive_answerability =
"learned"): real embedding model, the sample articles, the weights shipped in the package."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.generation import answerability
from newsdesk.generation.extractive import GATES, ExtractiveAnswerer
from newsdesk.settings import Settings
from tests.support.samples import load_samples

from .support.passages import passage

NATO = "nato-no-fly-zone-stoltenberg"
MECCA = "wikinews-2015-mecca-crane-collapse"


@pytest.fixture(scope="module")
def learned_desk(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[Newsdesk]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("learned") / "data",
        backend="extractive",
        extractive_answerability="learned",
        _env_file=None,
    )
    with Newsdesk.open(settings, embedder=embedder) as opened:
        opened.ingestor.ingest(load_samples())
        yield opened


def test_the_shipped_weights_load_and_name_every_feature() -> None:
    model = answerability.packaged_model()
    assert model.weights.shape == model.scale.shape == (len(answerability.FEATURES),)
    assert np.all(np.isfinite(model.weights)) and np.all(model.scale > 0)
    assert 0 < model.threshold < 1


def test_weights_for_another_feature_list_are_refused() -> None:
    text = answerability.packaged_model().to_json()
    data = json.loads(text)
    data["features"].pop(answerability.FEATURES[-1])
    with pytest.raises(ValueError, match="refit"):
        answerability.AnswerabilityModel.from_json(json.dumps(data))
    again = answerability.AnswerabilityModel.from_json(text)
    assert again.threshold == answerability.packaged_model().threshold


def test_the_crane_driver_no_story_names_is_declined(learned_desk: Newsdesk) -> None:
    # Session 6's learned model answered this from the crane story, which names no driver.
    answer = learned_desk.answerer().ask("Who was the driver operating the crane in Mecca?")
    assert answer.abstained, answer.answer


def test_the_mayor_of_a_story_without_one_is_declined(learned_desk: Newsdesk) -> None:
    answer = learned_desk.answerer().ask(
        "What did the mayor of Mecca say about the crane collapse?"
    )
    assert answer.abstained, answer.answer
    # The story gate no longer declines first, but it still says why.
    assert answer.abstain_reason == "the articles never mention 'mayor'"


@pytest.mark.parametrize(
    "question",
    [
        "Why did NATO refuse a no-fly zone over Ukraine?",
        "Why did NATO refuse to impose a no-fly zone over Ukraine?",
    ],
)
def test_both_wordings_of_the_seed_question_are_answered(
    learned_desk: Newsdesk, question: str
) -> None:
    answer = learned_desk.answerer().ask(question)
    assert not answer.abstained, answer.abstain_reason
    assert answer.citations and all(c.article_id == NATO for c in answer.citations)


def test_every_gate_is_read_on_its_own(embedder: Embedder) -> None:
    """The features hold each check's outcome, not only the first failed: the rules' verdict
    is the first gate a sentence fails, and a sentence failing an early gate may pass later
    ones."""
    passages = [
        passage(
            "A crane collapsed onto the Grand Mosque in Mecca on Friday. At least 107 people "
            "were killed and 238 injured. Officials said high winds toppled the crane.",
            article_id=MECCA,
            title="Mecca crane collapse",
        )
    ]
    extractive = ExtractiveAnswerer(embedder)
    question = "How many people were killed when the crane fell?"
    verdicts = extractive.verdicts(question, passages)
    found = answerability.candidates(extractive.read(question, passages), passages, embedder)
    assert [c.sentence for c in found] == [v.sentence for v in verdicts]
    columns = [answerability.FEATURES.index(f"{g}_ok") for g in GATES]
    for verdict, candidate in zip(verdicts, found, strict=True):
        gates = [bool(candidate.features[c]) for c in columns]
        first_failed = next((g for g, ok in zip(GATES, gates, strict=True) if not ok), None)
        assert first_failed == verdict.failed
    # The sentence with the count passes every gate; the others fail the kind gate (no
    # number) yet pass the binding gate.
    killed = next(c for c in found if "107" in c.sentence)
    assert killed.features[answerability.FEATURES.index("rules_pass")] == 1.0
    wind = next(c for c in found if "winds" in c.sentence)
    assert wind.features[answerability.FEATURES.index("kind_ok")] == 0.0
    assert wind.features[answerability.FEATURES.index("story_ok")] == 1.0


def test_a_question_in_the_storys_own_words_is_answered(learned_desk: Newsdesk) -> None:
    # The story says "IE6 shipped with Windows XP": no sentence binds "came with", which the
    # rules require, so they decline; the learned decision weighs the rest. (A training
    # question: this checks the shipped weights and the service agree, not generalisation.)
    answer = learned_desk.answerer().ask("Which operating system came with IE6?")
    assert not answer.abstained, answer.abstain_reason
    assert "Windows XP" in answer.answer

"""A learned answerability decision for the extractive backend (`extractive_answerability`
= "learned").

The rules (extractive.py) answer with a sentence only if it passes every one of seven checks,
and the question is declined before that if its story lacks a focus word (`unmentioned`). Each
check is right more often than not, but a reworded answer fails one of them as surely as an
off-topic sentence does. Here every check's outcome is a feature, with how much and what the
story lacks (a background word, the asked slot's own noun, the question's subject), how close
the sentence is to the question (the embedding model) and where retrieval ranked it; a
logistic model weighs them into P(this sentence answers the question). The question is
answered iff its best sentence reaches the fitted threshold; the answer sentences are then
chosen as the rules choose them, among those that reach it.

Weights and threshold live in answerability_weights.json beside this file, fitted by
bench/fit_answerability.py (news QA set + SQuAD 2.0; see that script for the data).

`hybrid` (answerability_weights_hybrid.json) keeps some rules as hard gates: the caller
declines on `unmentioned` first, and only sentences that pass the model's `gates` (shipped:
`kind`, a who/when/where/how-many answer holds a name/date/place/number, and `slot`, that
name is the asked one) are scored, by weights fitted on those sentences alone. The learned
score alone answers classes the rules decline on purpose ("who is Thailand's foreign
minister?" with a sentence naming Kerry, not the minister)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from newsdesk.domain import Passage
from newsdesk.embedding import Embedder
from newsdesk.generation.extractive import (
    GATES,
    ExtractiveAnswerer,
    Reading,
    best_sentences,
    covered,
)

WEIGHTS_FILE = "answerability_weights.json"
HYBRID_WEIGHTS_FILE = "answerability_weights_hybrid.json"

FEATURES = (
    # Each rule's outcome on its own (1 = passes), and whether all pass (the rules' verdict).
    *(f"{gate}_ok" for gate in GATES),
    "rules_pass",
    # What the sentence's story lacks of the question.
    "names_missing",  # names and numbers of the question the story never uses (0-2)
    "required_missing",  # focus words (verbs, definite nouns, slot nouns) it lacks (0-2)
    "background_missing",  # other question words it lacks (0-3)
    "slot_noun_missing",  # "which *strikers*", "how many *complaints*", "the *mayor* say"
    "subject_missing",  # the question's definite subject ("the *driver*", "the *trial*")
    "event_missing",  # the asked event's verb
    "story_share",  # share of the question's words the story has
    # The sentence itself.
    "binding",
    "cosine",  # embedding similarity question-sentence
    "cosine_gap",  # how far below the question's closest sentence
    "passage_rank",  # 1 / (1 + rank) of the best retrieved passage holding it
    "passage_similarity",
    "relevance",  # the question's best passage similarity
    # The question.
    "kind_other",  # an open "what/why/how" question: any sentence has the asked kind
    "asks_quote",
    "asked_words",  # log(1 + number of content words)
)


@dataclass(frozen=True)
class Candidate:
    sentence: str
    article_id: str
    binding: float
    cosine: float
    features: np.ndarray  # in FEATURES order


def answer(
    extractive: ExtractiveAnswerer,
    model: AnswerabilityModel,
    question: str,
    passages: list[Passage],
    max_sentences: int = 2,
    *,
    story_cleared: bool = False,
) -> list[str]:
    """The sentences that answer the question, best first; [] means abstain. Chosen as the
    rules choose among the sentences that pass them (closest to the question, binding most
    of it), here among those the model gives at least its threshold. `story_cleared`: as
    ExtractiveAnswerer.answer's."""
    reading = extractive.read(question, passages, story_cleared=story_cleared)
    found = [
        c
        for c in candidates(reading, passages, extractive.embedder)
        if all(c.features[FEATURES.index(f"{g}_ok")] for g in model.gates)
    ]
    if not found:
        return []
    chances = model.probability(np.array([c.features for c in found]))
    kept = [
        (c.sentence, c.cosine, c.binding)
        for c, chance in zip(found, chances, strict=True)
        if chance >= model.threshold
    ]
    return best_sentences(kept, reading.kind, max_sentences)


def candidates(reading: Reading, passages: list[Passage], embedder: Embedder) -> list[Candidate]:
    """Every retrieved sentence with its features (one embedding call for all of them)."""
    if not reading.sentences:
        return []
    texts = [text for text, _ in reading.sentences]
    vectors = embedder.embed([reading.question, *texts])
    cosines = vectors[1:] @ vectors[0]
    best_cosine = float(cosines.max())
    place = _passage_places(passages, texts)
    similarities = [p.similarity for p in passages if p.similarity is not None]
    relevance = max(similarities) if similarities else best_cosine
    stories = {a: _story_features(reading, a) for a in reading.stories}
    found = []
    for (text, article_id), cosine in zip(reading.sentences, cosines, strict=True):
        binding = reading.binding(text, article_id)
        gates = [reading.passes(g, text, article_id, binding) for g in GATES]
        rank, similarity = place.get(text, (len(passages), 0.0))
        row = [
            *map(float, gates),
            float(all(gates)),
            *stories[article_id],
            binding,
            float(cosine),
            best_cosine - float(cosine),
            1.0 / (1 + rank),
            similarity,
            relevance,
            float(reading.kind == "other"),
            float(reading.quote),
            float(np.log1p(len(reading.asked))),
        ]
        found.append(Candidate(text, article_id, binding, float(cosine), np.array(row)))
    return found


def _story_features(reading: Reading, article_id: str) -> list[float]:
    story = reading.stories[article_id]
    missing = {k for k in reading.asked if not covered(k, story)}
    required = reading.required - reading.soft
    names = len(reading.specifics - reading.named[article_id])
    share = 1 - len(missing) / len(reading.asked) if reading.asked else 1.0
    return [
        float(min(names, 2)),
        float(min(len(missing & required), 2)),
        float(min(len(missing - required), 3)),
        float(bool(missing & reading.slot_nouns)),
        float(bool(missing & reading.subject)),
        float(bool(missing & reading.event_verbs)),
        share,
    ]


def _passage_places(passages: list[Passage], texts: list[str]) -> dict[str, tuple[int, float]]:
    """Each sentence's best retrieval rank and that passage's similarity."""
    places: dict[str, tuple[int, float]] = {}
    for rank, passage in enumerate(passages):
        for text in texts:
            if text not in places and text in passage.text:
                places[text] = (rank, passage.similarity or 0.0)
    return places


@dataclass(frozen=True)
class AnswerabilityModel:
    bias: float
    weights: np.ndarray  # one per FEATURES
    scale: np.ndarray  # features are divided by it before the weights apply
    threshold: float  # answer when the best sentence's probability reaches this
    # Rules a sentence must pass to be scored at all (hybrid: kind, slot); the weights are
    # fitted on the sentences that pass them.
    gates: tuple[str, ...] = ()

    def probability(self, features: np.ndarray) -> np.ndarray:
        logits = self.bias + (features / self.scale) @ self.weights
        return 1.0 / (1.0 + np.exp(-logits))

    def to_json(self, **provenance: object) -> str:
        named = {
            name: {"weight": round(float(w), 5), "scale": round(float(s), 5)}
            for name, w, s in zip(FEATURES, self.weights, self.scale, strict=True)
        }
        data: dict[str, object] = {
            "bias": round(self.bias, 5),
            "threshold": round(self.threshold, 5),
        }
        if self.gates:
            data["gates"] = list(self.gates)
        return json.dumps({**data, "features": named, **provenance}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> AnswerabilityModel:
        data = json.loads(text)
        named = data["features"]
        if list(named) != list(FEATURES):
            # Weights fitted for another feature list would silently weigh the wrong columns.
            raise ValueError(
                f"answerability weights name {list(named)}, the features are {list(FEATURES)}: "
                "refit them with bench/fit_answerability.py"
            )
        weights = np.array([float(named[n]["weight"]) for n in FEATURES])
        scale = np.array([float(named[n]["scale"]) for n in FEATURES])
        gates = tuple(str(g) for g in data.get("gates", []))
        if unknown := set(gates) - set(GATES):
            raise ValueError(f"answerability weights gate on unknown checks {sorted(unknown)}")
        return cls(float(data["bias"]), weights, scale, float(data["threshold"]), gates)


@cache
def packaged_model(hybrid: bool = False) -> AnswerabilityModel:
    """The weights shipped in the package (read once per process): `learned`'s, or with
    `hybrid` those fitted behind its hard gates."""
    name = HYBRID_WEIGHTS_FILE if hybrid else WEIGHTS_FILE
    text = resources.files("newsdesk.generation").joinpath(name).read_text("utf-8")
    return AnswerabilityModel.from_json(text)

"""The reranker: its features, its packaged weights, and what it does to a real search (real
embedding model, faiss and BM25 over the sample articles and the squad2-dev-qa sample)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.evals.suite import load_suite
from newsdesk.retrieval.rerank import WEIGHTS_FILE, RerankModel, packaged_model, rerank
from newsdesk.retrieval.rerank_features import FEATURES, Query, candidate_features
from newsdesk.retrieval.search import Searcher
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SQUAD = ROOT / "evals" / "suites" / "squad2-dev-qa.json"


def _searcher(desk: Newsdesk, **changes: object) -> Searcher:
    settings = desk.settings.model_copy(update=changes)
    return Searcher(desk.store, desk.indexes, desk.embedder, settings)


# --- weights -----------------------------------------------------------------------------


def test_weights_load_from_the_installed_package() -> None:
    shipped = resources.files("newsdesk.retrieval").joinpath(WEIGHTS_FILE)
    document = json.loads(shipped.read_text("utf-8"))
    assert document["script"] == "bench/fit_rerank.py"  # fitted, not written by hand
    model = packaged_model()
    assert model.weights.shape == (len(FEATURES),)
    assert dict(zip(FEATURES, model.weights, strict=True)) == pytest.approx(document["weights"])
    # What the query's words say about the passage counts, not only the retrievers' order.
    assert any(document["weights"][name] != 0 for name in ("sentence_coverage", "bigrams"))


def test_weights_for_other_features_are_refused() -> None:
    weights = dict.fromkeys(FEATURES, 1.0)
    del weights["bigrams"]
    with pytest.raises(ValueError, match="fit_rerank"):
        RerankModel.from_json(json.dumps({"weights": weights}))
    weights.update(bigrams=1.0, unknown=2.0)
    with pytest.raises(ValueError):
        RerankModel.from_json(json.dumps({"weights": weights}))


# --- features ----------------------------------------------------------------------------


def _uniform_idf(terms: Sequence[str]) -> list[float]:
    return [1.0] * len(terms)


def test_questions_and_their_answer_types() -> None:
    assert Query.of("When did the 1973 oil crisis begin?", _uniform_idf).answer_type == "date"
    assert Query.of("How many people died in the collapse?", _uniform_idf).answer_type == "number"
    assert Query.of("Who led the delegation?", _uniform_idf).answer_type == "name"
    assert Query.of("Why did NATO refuse?", _uniform_idf).answer_type is None
    claim = Query.of("0-dimensional biomaterials show inductive properties.", _uniform_idf)
    assert not claim.is_question and claim.answer_type is None


def test_the_passage_where_the_question_meets_in_one_sentence_reads_best() -> None:
    query = Query.of("When did the crane collapse at the Grand Mosque?", _uniform_idf)
    together = "A crane collapsed at the Grand Mosque on 11 September 2015. Pilgrims fled."
    apart = "A crane stood by the road. Years later, a wall would collapse. The Grand Mosque grew."
    neither = "The weather was mild in the city that week."
    head = [(1, 0.9), (2, 0.8), (3, 0.7)]
    rows = candidate_features(
        query, head, {1: 0.5, 2: 0.6, 3: 0.4}, {1: 3.0, 2: 4.0}, {1: together, 2: apart, 3: neither}
    )
    column = {name: rows[:, i] for i, name in enumerate(FEATURES)}
    # Both hold every content word of the question; only the first holds them in one sentence.
    assert column["coverage"][0] == column["coverage"][1] > 0
    assert column["sentence_coverage"][0] == column["coverage"][0]
    assert column["sentence_coverage"][0] > column["sentence_coverage"][1]
    assert column["bigrams"][0] > column["bigrams"][1]
    assert column["proximity"][0] > column["proximity"][1] > 0
    assert column["answer_type"][0] == 1.0 and column["answer_type"][2] == 0.0
    # The date sits in the sentence that holds the question's words, inside the answer window.
    assert column["typed_sentence_coverage"][0] == column["sentence_coverage"][0]
    assert column["answer_window_coverage"][0] == column["sentence_coverage"][0]
    assert column["typed_sentence_coverage"][1] == column["answer_window_coverage"][1] == 0.0
    assert column["coverage"][2] == 0.0 and column["lexical"][2] == 0.0


def test_the_answer_window_reads_the_words_next_to_the_answer() -> None:
    query = Query.of("Who founded the observatory in Sydney?", _uniform_idf)
    # A name the question does not hold, beside its words / a name far from them.
    near = "The observatory in Sydney was founded by Henry Chamberlain Russell."
    far = (
        "Henry Chamberlain Russell wrote about rain, wind, tides, clouds, storms, ships, "
        "trade, farming, and many other matters of the colony; the observatory in Sydney "
        "was founded later."
    )
    rows = candidate_features(
        query, [(1, 1.0), (2, 0.9)], {1: 0.5, 2: 0.5}, {1: 1.0, 2: 1.0}, {1: near, 2: far}
    )
    column = {name: rows[:, i] for i, name in enumerate(FEATURES)}
    assert column["typed_sentence_coverage"][0] == column["typed_sentence_coverage"][1] > 0
    assert column["answer_window_coverage"][0] > column["answer_window_coverage"][1]
    # "Sydney" is the question's own name: alone it is no answer.
    own = candidate_features(query, [(1, 1.0), (2, 0.9)], {}, {}, {1: "It is in Sydney.", 2: ""})
    assert not own[:, FEATURES.index("answer_type")].any()


def test_claims_and_keywords_keep_the_fused_order() -> None:
    fused = [(1, 0.9), (2, 0.8), (3, 0.7)]
    texts = {1: "Unrelated words here.", 2: "Cranes kill pilgrims.", 3: "Crane collapse."}
    model = RerankModel(np.ones(len(FEATURES)))
    for query in ("Crane collapses kill pilgrims at the Grand Mosque.", "crane collapse mosque"):
        order, scores = rerank(query, fused, {}, {}, texts, _uniform_idf, model, depth=3)
        assert order == fused and scores == {}
    order, scores = rerank(
        "Did a crane collapse kill pilgrims?", fused, {}, {}, texts, _uniform_idf, model, depth=3
    )
    assert order[0][0] != 1 and set(scores) == {1, 2, 3}


def test_the_suites_claims_are_not_questions_and_their_questions_are() -> None:
    """What keeps SciFact's ranking the fused one with reranking on: none of its claims reads
    as a question, while nearly all of squad2-dev-qa's questions do."""
    scifact = load_suite(ROOT / "evals" / "suites" / "beir-scifact.json").questions
    assert not any(Query.of(q.question, _uniform_idf).is_question for q in scifact)
    squad = load_suite(SQUAD).questions
    read = sum(Query.of(q.question, _uniform_idf).is_question for q in squad)
    assert read >= 0.95 * len(squad)


# --- through the searcher, on real indexes -------------------------------------------------


@pytest.fixture(scope="module")
def squad_desk(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Newsdesk]:
    """The shipped squad2-dev-qa sample's 683 paragraphs: its 140 answerable questions were
    never used to fit the weights (bench/fit_rerank.py validates on them)."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("squad") / "data", backend="extractive", _env_file=None
    )
    with Newsdesk.open(settings, embedder=embedder) as opened:
        opened.ingestor.ingest(load_suite(SQUAD).articles)
        yield opened


@pytest.mark.slow
def test_rerank_puts_answer_passages_first_where_the_fused_order_did_not(
    squad_desk: Newsdesk,
) -> None:
    fused, reranked = _searcher(squad_desk, rerank=False), _searcher(squad_desk, rerank=True)
    gained, lost = [], []
    for question in load_suite(SQUAD).questions:
        if not question.gold_article_ids:
            continue
        gold = set(question.gold_article_ids)
        fused_first = fused.search(question.question, top_k=8)[0].article_id in gold
        reranked_first = reranked.search(question.question, top_k=8)[0].article_id in gold
        if reranked_first and not fused_first:
            gained.append(question.question)
        if fused_first and not reranked_first:
            lost.append(question.question)
    assert gained, "the reranker never moved an answer passage to the top"
    assert len(gained) > len(lost), (gained, lost)


def test_reranking_is_deterministic(sample_desk: Newsdesk) -> None:
    query = "How many people died when a crane fell on the Grand Mosque?"
    runs = [
        [
            (p.chunk_id, p.rerank_score)
            for p in _searcher(sample_desk, rerank=True).search(query, top_k=10)
        ]
        for _ in range(3)
    ]
    assert runs[0] == runs[1] == runs[2]
    assert all(score is not None for _, score in runs[0])


def test_the_setting_off_gives_the_fused_order(sample_desk: Newsdesk) -> None:
    query = "Why did NATO refuse to impose a no-fly zone over Ukraine?"
    off = _searcher(sample_desk, rerank=False).search(query, top_k=20)
    assert [p.score for p in off] == sorted((p.score for p in off), reverse=True)
    assert all(p.rerank_score is None for p in off)
    depth = 6
    on = _searcher(sample_desk, rerank=True, rerank_depth=depth).search(query, top_k=20)
    # Only the head is reordered (by the reranker's score); the rest keeps the fused order.
    assert {p.chunk_id for p in on[:depth]} == {p.chunk_id for p in off[:depth]}
    assert [p.chunk_id for p in on[depth:]] == [p.chunk_id for p in off[depth:]]
    head = [p.rerank_score for p in on[:depth]]
    scores = [s for s in head if s is not None]
    assert scores == head and scores == sorted(scores, reverse=True)
    # Dense and lexical modes have nothing fused: the setting does not touch them.
    for mode in ("dense", "lexical"):
        plain = _searcher(sample_desk, rerank=False).search(query, top_k=8, mode=mode)
        other = _searcher(sample_desk, rerank=True).search(query, top_k=8, mode=mode)
        assert [p.chunk_id for p in plain] == [p.chunk_id for p in other]


def test_by_default_questions_are_reranked_and_claims_keep_the_fused_order(
    sample_desk: Newsdesk,
) -> None:
    default = sample_desk.searcher  # the desk's settings are the defaults
    question = default.search("Why did NATO refuse to impose a no-fly zone over Ukraine?")
    assert all(p.rerank_score is not None for p in question)
    claim = default.search("NATO refused to impose a no-fly zone over Ukraine.", top_k=20)
    fused = _searcher(sample_desk, rerank=False).search(
        "NATO refused to impose a no-fly zone over Ukraine.", top_k=20
    )
    assert [p.chunk_id for p in claim] == [p.chunk_id for p in fused]
    assert all(p.rerank_score is None for p in claim)

"""Evaluation metrics on hand-computed examples: each value below was worked out by hand, so a
metric off by a factor (or a wrong denominator) fails."""

from __future__ import annotations

import math

import numpy as np
import pytest

from newsdesk.evals import metrics
from newsdesk.evals.aggregate import aggregate_rows
from newsdesk.evals.compare import CompareError, Gate, compare_runs, parse_gate, regressions
from newsdesk.evals.results import (
    CheckerRow,
    Models,
    QuestionRow,
    ResultRow,
    RunConfig,
    RunResult,
)

RANKED = ["a", "b", "c", "d", "e"]
GOLD = {"b", "d"}


def test_recall_at_k_is_the_share_of_gold_items_found() -> None:
    assert metrics.recall_at_k(RANKED, GOLD, 1) == 0.0
    assert metrics.recall_at_k(RANKED, GOLD, 2) == 0.5
    assert metrics.recall_at_k(RANKED, GOLD, 3) == 0.5
    assert metrics.recall_at_k(RANKED, GOLD, 5) == 1.0
    assert metrics.recall_at_k(RANKED, {"b", "z"}, 10) == 0.5  # a gold item never retrieved
    with pytest.raises(ValueError):
        metrics.recall_at_k(RANKED, set(), 5)


def test_mrr_is_the_reciprocal_rank_of_the_first_gold_item_within_k() -> None:
    assert metrics.mrr_at_k(RANKED, GOLD, 10) == 0.5
    assert metrics.mrr_at_k(RANKED, {"c"}, 10) == pytest.approx(1 / 3)
    assert metrics.mrr_at_k(RANKED, {"e"}, 4) == 0.0  # beyond the cut-off


def test_ndcg_with_binary_relevance() -> None:
    # DCG = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677; IDCG = 1 + 0.630930.
    assert metrics.ndcg_at_k(RANKED, GOLD, 10) == pytest.approx(1.061606 / 1.630930, abs=1e-6)
    assert metrics.ndcg_at_k(["b", "d", "a"], GOLD, 10) == pytest.approx(1.0)
    assert metrics.ndcg_at_k(["c"], {"c"}, 10) == 1.0
    # The ideal ranking is capped at k: 12 gold items, the first 10 ranked all gold → 1.
    many = [str(i) for i in range(12)]
    assert metrics.ndcg_at_k(many, set(many), 10) == pytest.approx(1.0)


def test_distinct_keeps_first_appearance() -> None:
    assert metrics.distinct(["x", "y", "x", "z", "y"]) == ["x", "y", "z"]


def test_squad_normalisation_exact_match_and_f1() -> None:
    assert metrics.normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert metrics.exact_match("the Eiffel tower.", ["Eiffel Tower"]) == 1.0
    assert metrics.exact_match("Eiffel", ["Eiffel Tower"]) == 0.0
    # pred tokens [cat, sat, on, mat], gold [cat, on, mat]: P = 3/4, R = 1, F1 = 6/7.
    assert metrics.token_f1("The cat sat on a mat", ["cat on the mat"]) == pytest.approx(6 / 7)
    # Max over gold answers, not the mean.
    assert metrics.token_f1("Paris", ["London", "Paris"]) == 1.0
    # Repeated tokens count once per occurrence: pred [a1 a1 b], gold [a1 b]: P=2/3 R=1 → 0.8.
    assert metrics.token_f1("x x y", ["x y"]) == pytest.approx(0.8)


def test_unanswerable_questions_score_only_an_empty_prediction() -> None:
    assert metrics.exact_match("", []) == 1.0
    assert metrics.token_f1("", []) == 1.0
    assert metrics.exact_match("Something", []) == 0.0
    assert metrics.token_f1("Something", []) == 0.0


def test_answer_containment_matches_whole_words() -> None:
    answer = "The harbour was dredged in 1931, at a cost of 40,000 pounds."
    assert metrics.answer_contains(answer, ["1931"]) == 1.0
    assert metrics.answer_contains(answer, ["193"]) == 0.0
    assert metrics.answer_contains(answer, ["1932", "the harbour"]) == 1.0
    assert metrics.answer_contains(answer, []) == 0.0


def test_abstention_precision_and_recall() -> None:
    abstained = [True, True, True, False, False]
    unanswerable = [True, True, False, True, False]
    # 2 correct abstentions of 3 made; 2 of 3 unanswerable found.
    assert metrics.abstention_precision_recall(abstained, unanswerable) == pytest.approx(
        (2 / 3, 2 / 3)
    )
    assert metrics.abstention_precision_recall([True, False], [True, True]) == (1.0, 0.5)
    assert metrics.abstention_precision_recall([False], [True]) == (None, 0.0)


def _contains_all_words(evidence: str, claim: str) -> bool:
    return set(claim.lower().split()) <= set(evidence.lower().split())


def test_alce_citation_recall_and_precision() -> None:
    sentences = [
        # supported by q1 alone; q2 is superfluous → 1 of 2 citations precise
        ("bridge costs money", ["the bridge costs money", "weather was fine"]),
        # needs both quotes jointly: both precise
        ("red car fast", ["red car", "car fast"]),
        # not supported at all: recall 0, its citation imprecise
        ("moon is cheese", ["the moon is bright"]),
        # no citation: recall 0, no citation counted
        ("uncited claim", []),
    ]
    recall, precision = metrics.citation_scores(sentences, _contains_all_words)
    assert recall == pytest.approx(2 / 4)
    assert precision == pytest.approx(3 / 5)
    assert metrics.citation_scores([("x", [])], _contains_all_words) == (0.0, None)


def test_lexical_support_proxy() -> None:
    evidence = "The council approved a new bridge costing 12 million pounds on Monday."
    # Content terms of the claim: council, approv, bridg → all found.
    assert metrics.lexical_support(evidence, "The council approved the bridge") == 1.0
    # council, reject, bridg: 2 of 3 found.
    assert metrics.lexical_support(evidence, "The council rejected the bridge") == pytest.approx(
        2 / 3
    )
    assert metrics.lexically_entails(evidence, "The council approved a bridge")
    assert not metrics.lexically_entails(evidence, "The council approved a bridge costing 13")
    assert metrics.lexical_support(evidence, "the of a") == 0.0


def test_rouge_f_measures() -> None:
    scores = metrics.rouge("the cat sat", "the cat sat on the mat")
    # unigrams: P = 3/3, R = 3/6 → F = 2/3; bigrams: P = 2/2, R = 2/5 → F = 4/7.
    assert scores["rouge1"] == pytest.approx(2 / 3)
    assert scores["rouge2"] == pytest.approx(4 / 7)
    assert scores["rougeL"] == pytest.approx(2 / 3)


def test_lead3_and_marker_stripping() -> None:
    text = "One is first. Two comes next. Three ends the lead. Four is left out."
    assert metrics.lead_n(text) == "One is first. Two comes next. Three ends the lead."
    assert metrics.strip_markers("Claim one [1]. Claim two [2, 3].") == "Claim one. Claim two."


def test_roc_auc_and_spearman() -> None:
    # Pairs (pos, neg): (0.35 vs 0.1 ✓, 0.35 vs 0.4 ✗, 0.8 vs both ✓) → 3/4.
    assert metrics.roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert metrics.roc_auc([0.1, 0.2], [True, True]) is None
    # d = (0, 1, -1, 0): rho = 1 − 6·2 / (4·15) = 0.8.
    assert metrics.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(1)
    small, large = rng.normal(0.5, 0.1, 20), rng.normal(0.5, 0.1, 2000)

    def interval(values: np.ndarray) -> tuple[float, float]:
        return metrics.bootstrap_ci(lambda idx: {"m": float(values[idx].mean())}, len(values))["m"]

    low, high = interval(small)
    assert low < small.mean() < high
    big_low, big_high = interval(large)
    assert (big_high - big_low) < (high - low) / 5  # ~ 1/sqrt(100) as wide
    # A standard error of 0.1/sqrt(2000) ≈ 0.0022 gives a 95% interval about 0.0088 wide.
    assert 0.006 < big_high - big_low < 0.012
    constant = np.full(50, 0.25)
    assert interval(constant) == (0.25, 0.25)


def _question(qid: str, **values: object) -> QuestionRow:
    """A question row from its JSON keys (e.g. "recall@1")."""
    return QuestionRow.model_validate({"kind": "question", "id": qid, "question": "?", **values})


def _checker(item: str, human: float, score: float) -> CheckerRow:
    return CheckerRow(
        id=item, human_factuality=human, checker_min=score, checker_mean=score, lexical_min=0.5
    )


def test_aggregates_from_rows() -> None:
    rows: list[ResultRow] = [
        _question("1", **{"recall@1": 1.0, "f1": 0.5, "latency_ms": 10.0}),
        _question("2", **{"recall@1": 0.0, "f1": 1.0, "latency_ms": 30.0}),
        _question("3", abstained=True, unanswerable=True, f1=1.0, latency_ms=20.0),
        _question("4", abstained=True, unanswerable=False, f1=0.0, latency_ms=1000.0),
        _question("5", abstained=False, unanswerable=True, f1=0.0, latency_ms=40.0),
        _checker("a", 1.0, 0.9),
        _checker("b", 0.0, 0.2),
        _checker("c", 0.5, 0.6),
    ]
    result = aggregate_rows(rows)
    assert result["recall@1"] == 0.5  # over the rows that have it, not all rows
    assert result["f1"] == pytest.approx(2.5 / 5)
    assert result["abstention_precision"] == 0.5
    assert result["abstention_recall"] == 0.5
    assert result["latency_p50_ms"] == 30.0
    assert result["latency_p95_ms"] == pytest.approx(40 + 0.8 * 960)  # numpy linear
    assert result["checker_auc"] == 1.0
    assert result["checker_spearman"] == pytest.approx(1.0)
    assert "rouge1" not in result and "ndcg@10" not in result


def _run(rows: list[QuestionRow]) -> RunResult:
    return RunResult(
        label="extractive/hybrid",
        config=RunConfig(),
        settings={},
        models=Models(embedding="test-model", llm=[]),
        aggregates=aggregate_rows(rows),
        rows=rows,
    )


def _results(f1_values: list[float], latency_ms: float = 100.0) -> RunResult:
    return _run([_question(str(i), f1=v, latency_ms=latency_ms) for i, v in enumerate(f1_values)])


def test_compare_deltas_and_gates() -> None:
    before = _results([1.0, 1.0, 0.0, 1.0] * 10)  # f1 0.75
    after = _results([1.0, 0.0, 0.0, 1.0] * 10)  # f1 0.5, paired by id
    deltas = {d.metric: d for d in compare_runs(before, after, resamples=300)}
    f1 = deltas["f1"]
    assert f1.delta == pytest.approx(-0.25)
    assert f1.ci is not None and f1.ci[0] <= -0.25 <= f1.ci[1] and f1.ci[1] < 0
    assert regressions(list(deltas.values()), [Gate("f1", 0.3)]) == []
    assert len(regressions(list(deltas.values()), [Gate("f1", 0.2)])) == 1
    assert "not reported" in regressions(list(deltas.values()), [Gate("ndcg@10", 0.1)])[0]
    # Latency: worse means higher.
    slower = _results([1.0, 1.0, 0.0, 1.0] * 10, latency_ms=150.0)
    latency = compare_runs(before, slower, resamples=50)
    assert regressions(latency, [Gate("latency_p50_ms", 40)])
    assert not regressions(latency, [Gate("latency_p50_ms", 60)])


def test_parse_gate() -> None:
    assert parse_gate("ndcg@10:0.02") == Gate("ndcg@10", 0.02)
    assert parse_gate("latency_p95_ms:50") == Gate("latency_p95_ms", 50.0)
    for bad in ("ndcg@10", "f1:-1", ":0.1", "f1:abc"):
        with pytest.raises(CompareError):
            parse_gate(bad)
    assert not math.isnan(parse_gate("f1:0").drop)


def test_grouped_aggregates() -> None:
    rows = [
        _question("1", group="cnndm", f1=1.0),
        _question("2", group="cnndm", f1=0.5),
        _question("3", group="xsum", f1=0.0),
        _question("4", f1=0.5),
    ]
    result = aggregate_rows(rows)
    assert result["f1"] == 0.5
    assert result["f1[cnndm]"] == 0.75
    assert result["f1[xsum]"] == 0.0
    assert not any("[None]" in name for name in result)

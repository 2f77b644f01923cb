"""Extractive summaries without an LLM: pick article sentences by centrality and novelty
(maximal marginal relevance against the centroid of the coverage), shown in article order.

Each article contributes its own centroid, so a long article does not drown a short one in a
multi-article summary; news leads get a small bonus because reporters put the gist first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from newsdesk.domain import Passage
from newsdesk.embedding import Embedder
from newsdesk.generation.prompting import addresses_assistant
from newsdesk.index.text import sentence_spans

MIN_WORDS = 5  # fragments such as datelines and captions say nothing on their own
LEAD_SENTENCES = 3
LEAD_BONUS = 0.05
NOVELTY_WEIGHT = 0.3  # MMR: 1 - λ


@dataclass(frozen=True)
class Candidate:
    article_id: str
    article_rank: int  # order of the article in the request
    offset: int  # of the sentence in the article text
    text: str


def candidate_sentences(passages: list[Passage]) -> list[Candidate]:
    """Each article sentence once (chunks overlap by a sentence), in article order."""
    ranks: dict[str, int] = {}
    seen: set[tuple[str, int]] = set()
    found: list[Candidate] = []
    for passage in passages:
        rank = ranks.setdefault(passage.article_id, len(ranks))
        for span in sentence_spans(passage.text):
            text = passage.text[span.start : span.end].strip()
            key = (passage.article_id, passage.char_start + span.start)
            # A sentence that addresses an assistant is withheld from summaries as from prompts.
            if key in seen or len(text.split()) < MIN_WORDS or addresses_assistant(text):
                continue
            seen.add(key)
            found.append(Candidate(passage.article_id, rank, key[1], text))
    return sorted(found, key=lambda c: (c.article_rank, c.offset))


def select(
    candidates: list[Candidate], embedder: Embedder, max_sentences: int, max_words: int
) -> list[Candidate]:
    """The summary sentences, in article order, within both budgets (at least one)."""
    if not candidates:
        return []
    vectors = embedder.embed([c.text for c in candidates])
    relevance = _centrality(candidates, vectors) + _lead_bonus(candidates)
    chosen: list[int] = []
    words = 0
    available = set(range(len(candidates)))
    while available and len(chosen) < max_sentences:
        redundancy = (
            (vectors[sorted(available)] @ vectors[chosen].T).max(axis=1)
            if chosen
            else np.zeros(len(available))
        )
        order = sorted(available)
        scores = (1 - NOVELTY_WEIGHT) * relevance[order] - NOVELTY_WEIGHT * redundancy
        best = order[int(np.argmax(scores))]
        available.discard(best)
        length = len(candidates[best].text.split())
        if chosen and words + length > max_words:
            continue  # too long for what is left of the budget: try a shorter one
        if not chosen and length > max_words and _shorter_exists(candidates, available, max_words):
            continue
        chosen.append(best)
        words += length
    return [
        candidates[i]
        for i in sorted(chosen, key=lambda i: (candidates[i].article_rank, candidates[i].offset))
    ]


def _centrality(candidates: list[Candidate], vectors: np.ndarray) -> np.ndarray:
    centroids = []
    for rank in sorted({c.article_rank for c in candidates}):
        rows = [i for i, c in enumerate(candidates) if c.article_rank == rank]
        centroid = vectors[rows].mean(axis=0)
        centroids.append(centroid / (np.linalg.norm(centroid) or 1.0))
    overall = np.mean(centroids, axis=0)
    overall /= np.linalg.norm(overall) or 1.0
    return vectors @ overall


def _lead_bonus(candidates: list[Candidate]) -> np.ndarray:
    position: dict[int, int] = {}
    bonus = np.zeros(len(candidates), dtype=np.float32)
    for i, candidate in enumerate(candidates):
        index = position.get(candidate.article_rank, 0)
        position[candidate.article_rank] = index + 1
        if index < LEAD_SENTENCES:
            bonus[i] = LEAD_BONUS * (LEAD_SENTENCES - index) / LEAD_SENTENCES
    return bonus


def _shorter_exists(candidates: list[Candidate], available: set[int], max_words: int) -> bool:
    return any(len(candidates[i].text.split()) <= max_words for i in available)

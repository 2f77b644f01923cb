"""Where the sources of a multi-article summary agree or disagree.

For each summary sentence and each other article, the closest sentence of that article is
found. It *agrees* when it supports the summary sentence (the support checker's score passes
the threshold); it *disagrees* when it reports the same matter (high cosine) with a different
fact in the same place — a number ("107 killed" against "111 killed"), a date, a name, a
speaker or an outcome (conflicts.py says which, and the words of both sides). Either way it is
cited beside the sentence's own source, so a disagreement cites both sides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from newsdesk.answers import CitedText, SourceRelation
from newsdesk.domain import Passage
from newsdesk.embedding import Embedder
from newsdesk.generation.citations import quote_citation
from newsdesk.generation.cited_text import renumbered
from newsdesk.generation.conflicts import SAME_WORDING, Conflict, conflict, same_wording
from newsdesk.generation.support import SupportScorer
from newsdesk.index.text import sentence_spans

SAME_MATTER = 0.7  # cosine above which two sentences report the same thing
# Below it, down to RELATED, the same thing worded alike: a changed name lowers the cosine of
# the embedding more than the matter changed ("Police arrested John Miller …" / "… Robert Hayes").
RELATED = 0.5
MAX_OTHER_SOURCES = 3  # extra citations per sentence, strongest first

Relation = Literal["agrees", "disagrees"]
BOTH: frozenset[Relation] = frozenset({"agrees", "disagrees"})


@dataclass(frozen=True)
class _Unit:
    passage: Passage
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]

    @property
    def key(self) -> tuple[int, int, int]:
        return (
            self.passage.chunk_id,
            self.passage.char_start + self.start,
            self.passage.char_start + self.end,
        )


def relate_sources(
    cited: CitedText,
    passages: list[Passage],
    embedder: Embedder,
    scorer: SupportScorer,
    threshold: float,
    kinds: frozenset[Relation] = BOTH,
) -> tuple[CitedText, list[SourceRelation]]:
    """Cite, beside each sentence's own source, the other articles that agree or disagree;
    `scorer` and `threshold` are the citation checker's, so "agrees" means what "supported"
    means. `kinds` limits the relations looked for: without "agrees" the support checker is
    not run (disagreement needs the cosine and the facts only)."""
    articles = list(dict.fromkeys(p.article_id for p in passages))
    if len(articles) < 2 or not cited.sentences:
        return cited, []
    units = _units(passages)
    claims = [s.text for s in cited.sentences]
    cosines = embedder.embed(claims) @ embedder.embed([u.text for u in units]).T
    support = (
        scorer.score(claims, [u.text for u in units])
        if "agrees" in kinds
        else np.zeros(cosines.shape)
    )

    citations = list(cited.citations)
    number_of = {(c.chunk_id, c.char_start, c.char_end): c.number for c in citations}
    sentences = [s.model_copy(deep=True) for s in cited.sentences]
    found: list[tuple[int, Relation, tuple[int, int, int], float, Conflict | None]] = []
    for i, sentence in enumerate(sentences):
        own = {c.article_id for c in citations if c.number in sentence.citations}
        if not own:
            continue
        related: list[tuple[float, Relation, int, Conflict | None]] = []
        for article in articles:
            if article in own:
                continue
            rows = [j for j, u in enumerate(units) if u.passage.article_id == article]
            best = max(rows, key=lambda j: cosines[i, j])
            relation, conflicting = relation_between(
                sentence.text, units[best].text, cosines[i, best], support[i, best], threshold
            )
            if relation is not None and relation in kinds:
                related.append((float(cosines[i, best]), relation, best, conflicting))
        strongest = sorted(related, key=lambda r: (r[0], r[1], r[2]), reverse=True)
        for similarity, relation, j, conflicting in strongest[:MAX_OTHER_SOURCES]:
            unit = units[j]
            if unit.key not in number_of:
                number_of[unit.key] = len(citations) + 1
                citations.append(
                    quote_citation(number_of[unit.key], unit.passage, unit.start, unit.end)
                )
            sentence.citations.append(number_of[unit.key])
            found.append((i, relation, unit.key, round(similarity, 4), conflicting))
    result = renumbered(cited, sentences, citations)
    final_number = {(c.chunk_id, c.char_start, c.char_end): c for c in result.citations}
    relations = [
        SourceRelation(
            sentence=i,
            relation=relation,
            article_id=final_number[key].article_id,
            citation=final_number[key].number,
            similarity=similarity,
            kind=conflicting.kind if conflicting else None,
            claim=conflicting.claim if conflicting else None,
            evidence=conflicting.evidence if conflicting else None,
        )
        for i, relation, key, similarity, conflicting in found
    ]
    return result, relations


def relation_between(
    claim: str, other: str, cosine: float, support: float, threshold: float
) -> tuple[Relation | None, Conflict | None]:
    """How `other` bears on `claim`: "disagrees" (with the conflict) when it reports the same
    matter with a conflicting fact, "agrees" when it supports it without one, else None.
    Only pairs that may be either are compared fact by fact (cosine and support are cheap)."""
    if cosine < RELATED and support < threshold:
        return None, None
    conflicting = conflict(claim, other)
    if conflicting is not None:
        same_matter = cosine >= SAME_MATTER or (
            cosine >= RELATED and same_wording(claim, other) >= SAME_WORDING
        )
        return ("disagrees", conflicting) if same_matter else (None, None)
    return ("agrees", None) if support >= threshold else (None, None)


def _units(passages: list[Passage]) -> list[_Unit]:
    seen: set[tuple[str, int]] = set()
    units: list[_Unit] = []
    for passage in passages:
        for span in sentence_spans(passage.text):
            key = (passage.article_id, passage.char_start + span.start)
            if key not in seen:
                seen.add(key)
                units.append(_Unit(passage, span.start, span.end))
    return units

"""The citation checker: keeps a small LLM's [n] markers honest.

A generated answer is split into sentences and its markers parsed (markers.py). Every sentence
is scored (support.py) against every *evidence unit* of the retrieved passages (each passage
sentence, and each pair of adjacent sentences, since claims often fuse two). A marker that
names a passage which does not support its sentence is moved to the passage that does; markers
that name no passage are dropped; unmarked sentences are given the best passage. Citations are
then renumbered by first appearance and carry the exact quote, with offsets into the article
text.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from newsdesk.answers import AnswerSentence, Citation, CitationCheck, CitedText, Mismatch
from newsdesk.domain import ChunkOrigin, Passage
from newsdesk.embedding import Embedder
from newsdesk.generation.corroboration import corroboration
from newsdesk.generation.evidence_sentences import evidence_spans
from newsdesk.generation.markers import ParsedSentence, parse_markers, render_sentence, tidy
from newsdesk.generation.support import SupportScorer


@dataclass(frozen=True)
class _Unit:
    """An evidence unit: one passage sentence, or two adjacent ones, as a slice of the passage."""

    passage: int  # index into the passages list
    start: int  # offsets into passage.text
    end: int
    text: str


@dataclass(frozen=True)
class _Resolved:
    text: str
    units: list[int]  # indexes into the unit list, in citation order
    support: float
    nearest: int | None  # the unit a verdict is explained against: the first cited, or the best
    supporting: list[int] = field(default_factory=list)  # passages that support it (corroboration)


_Choice = tuple[list[int], float]  # chosen unit indexes and the support they give


def _evidence_units(passages: list[Passage]) -> list[_Unit]:
    units: list[_Unit] = []
    for index, passage in enumerate(passages):
        spans = evidence_spans(passage.text)
        pairs = [(a.start, b.end) for a, b in itertools.pairwise(spans)]
        for start, end in [*((s.start, s.end) for s in spans), *pairs]:
            units.append(_Unit(index, start, end, passage.text[start:end]))
    return units


class CitationChecker:
    """Verifies, repairs and renumbers the citations of generated text (see module docstring).

    Sentence indexes reported in CitationCheck refer to the sentences as parsed from the
    generated text (before any unsupported ones are removed).
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        threshold: float = 0.5,
        drop_unsupported: bool = False,
        reassign_margin: float = 0.1,
    ) -> None:
        self.scorer = SupportScorer(embedder)
        self.threshold = threshold
        self.drop_unsupported = drop_unsupported
        self.reassign_margin = reassign_margin

    def check(self, generated: str, passages: list[Passage]) -> CitedText:
        """Check text whose [n] markers number `passages` 1..len(passages) in list order."""
        return self._run(parse_markers(generated), passages, report_unmarked=True)

    def check_marked(
        self, sentences: list[tuple[str, list[int]]], passages: list[Passage]
    ) -> CitedText:
        """Check sentences already split from their markers (numbers index `passages` 1..n),
        e.g. a reduced summary whose markers were mapped back to the original passages."""
        parsed = [ParsedSentence(tidy(t), list(dict.fromkeys(m))) for t, m in sentences]
        return self._run([p for p in parsed if p.text], passages, report_unmarked=True)

    def cite(self, sentences: list[str], passages: list[Passage]) -> CitedText:
        """Cite marker-free sentences (extractive answers, summaries) to their best passage."""
        parsed = [ParsedSentence(tidy(s), []) for s in sentences if tidy(s)]
        return self._run(parsed, passages, report_unmarked=False)

    def _run(
        self, parsed: list[ParsedSentence], passages: list[Passage], *, report_unmarked: bool
    ) -> CitedText:
        check = CitationCheck()
        units = _evidence_units(passages)
        scores, alignment = self.scorer.judge(
            [p.text for p in parsed],
            [u.text for u in units],
            [passages[u.passage].text for u in units],
        )
        resolved: list[_Resolved] = []
        for index, sentence in enumerate(parsed):
            valid = [m for m in sentence.markers if 1 <= m <= len(passages)]
            check.invalid_markers += [m for m in sentence.markers if m not in valid]
            if valid:
                chosen, support = self._resolve_marked(valid, scores[index], units)
                if chosen and units[chosen[0]].passage + 1 not in valid:
                    check.reassigned_sentences.append(index)
            else:
                if report_unmarked:
                    check.unmarked_sentences.append(index)
                chosen, support = self._resolve_unmarked(scores[index])
            nearest = self._nearest(chosen, support, alignment[index], valid, units)
            supporting = self._supporting(scores[index], units)
            resolved.append(_Resolved(sentence.text, chosen, support, nearest, supporting))
        check.invalid_markers = list(dict.fromkeys(check.invalid_markers))
        return self._assemble(resolved, units, passages, check)

    def _resolve_marked(self, cited: list[int], row: np.ndarray, units: list[_Unit]) -> _Choice:
        """Best unit of each cited passage that supports the claim, or a clearly better one."""
        if not len(row):
            return [], 0.0
        best_all = int(np.argmax(row))
        per_passage = [u for n in cited if (u := self._best_in(row, units, n - 1)) is not None]
        if not per_passage:  # the cited passages have no sentences at all
            return [best_all], float(row[best_all])
        best_cited = max(per_passage, key=lambda u: row[u])
        top, cited_top = float(row[best_all]), float(row[best_cited])
        # Move the citation only to a passage that supports the claim: swapping one
        # unsupporting passage for another would only make the audit trail noisier.
        clearly_better = top - cited_top > self.reassign_margin or cited_top < self.threshold
        if top >= self.threshold and clearly_better:
            return [best_all], top
        # Keep every cited passage that supports the claim on its own, in marker order.
        supporting = [u for u in per_passage if row[u] >= self.threshold] or [best_cited]
        return supporting, cited_top

    def _resolve_unmarked(self, row: np.ndarray) -> _Choice:
        if not len(row):
            return [], 0.0
        best = int(np.argmax(row))
        support = float(row[best])
        return ([best] if support >= self.threshold else []), support

    def _nearest(
        self,
        chosen: list[int],
        support: float,
        alignment: np.ndarray,
        cited: list[int],
        units: list[_Unit],
    ) -> int | None:
        """The unit a verdict is explained against: the quote of a supported sentence, else
        the unit of the cited passages (all, when none is cited) the sentence is most about."""
        if chosen and support >= self.threshold:
            return chosen[0]
        passages = {units[u].passage for u in chosen} or {n - 1 for n in cited}
        candidates = [i for i, u in enumerate(units) if not passages or u.passage in passages]
        return max(candidates, key=lambda i: alignment[i]) if candidates else None

    def _supporting(self, row: np.ndarray, units: list[_Unit]) -> list[int]:
        """The passages with a unit that supports the sentence on its own (corroboration)."""
        return sorted({units[i].passage for i in np.flatnonzero(row >= self.threshold)})

    @staticmethod
    def _best_in(row: np.ndarray, units: list[_Unit], passage: int) -> int | None:
        candidates = [i for i, unit in enumerate(units) if unit.passage == passage]
        return max(candidates, key=lambda i: row[i]) if candidates else None

    def _assemble(
        self,
        resolved: list[_Resolved],
        units: list[_Unit],
        passages: list[Passage],
        check: CitationCheck,
    ) -> CitedText:
        numbers: dict[tuple[int, int, int], int] = {}  # (chunk, article span) → number
        citations: list[Citation] = []
        sentences: list[AnswerSentence] = []
        for item in resolved:
            support = round(min(max(item.support, 0.0), 1.0), 4)
            supported = support >= self.threshold  # judged on the value the reader sees
            if self.drop_unsupported and not supported:
                check.removed_sentences.append(item.text)
                continue
            cited: list[int] = []
            for unit_index in item.units:
                unit = units[unit_index]
                passage = passages[unit.passage]
                key = (
                    passage.chunk_id,
                    passage.char_start + unit.start,
                    passage.char_start + unit.end,
                )
                if key not in numbers:
                    numbers[key] = len(numbers) + 1
                    citations.append(_citation(numbers[key], passage, unit))
                cited.append(numbers[key])
            cited = list(dict.fromkeys(cited))
            sentences.append(
                AnswerSentence(
                    text=item.text,
                    citations=cited,
                    support=support,
                    supported=supported,
                    mismatches=self._explain(item, units, passages, supported),
                    corroboration=corroboration(passages[i] for i in item.supporting),
                )
            )
        text = " ".join(render_sentence(s) for s in sentences)
        return CitedText(text=text, sentences=sentences, citations=citations, check=check)

    def _explain(
        self, item: _Resolved, units: list[_Unit], passages: list[Passage], supported: bool
    ) -> list[Mismatch]:
        if item.nearest is None:
            return self.scorer.explain(item.text, None, supported)
        unit = units[item.nearest]
        return self.scorer.explain(item.text, unit.text, supported, passages[unit.passage].text)


def _citation(number: int, passage: Passage, unit: _Unit) -> Citation:
    return quote_citation(number, passage, unit.start, unit.end)


def quote_citation(number: int, passage: Passage, start: int, end: int) -> Citation:
    """A citation of passage.text[start:end], with offsets into the article."""
    return Citation(
        **passage.model_dump(include=set(ChunkOrigin.model_fields)),
        number=number,
        passage=passage.text,
        quote=passage.text[start:end],
        char_start=passage.char_start + start,
        char_end=passage.char_start + end,
    )

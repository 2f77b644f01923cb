"""The citation checker: keeps a small LLM's [n] markers honest.

A generated answer is split into sentences and its markers parsed. Every sentence is scored
against every *evidence unit* of the retrieved passages (each passage sentence, and each pair
of adjacent sentences, since claims often fuse two). A marker that names a passage which does
not support its sentence is moved to the passage that does; markers that name no passage are
dropped; unmarked sentences are given the best passage. Citations are then renumbered by first
appearance and carry the exact quote, with offsets into the article text.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import Stemmer

from newsdesk.answers import AnswerSentence, Citation, CitationCheck, CitedText
from newsdesk.domain import ChunkOrigin, Passage
from newsdesk.embedding import Embedder
from newsdesk.index.text import sentence_spans

# [1]  [1, 2]  [1;2]  [1-3]  [1–3]  (adjacent groups such as [1][2] are separate matches)
MARKER = re.compile(r"\[\s*\d{1,4}(?:\s*[,;\-–]\s*\d{1,4})*\s*\]")
_MARKER_PART = re.compile(r"(\d+)(?:\s*[\-–]\s*(\d+))?")
_MAX_RANGE = 20  # "[1-300]" is noise, not three hundred citations: keep its endpoints only.

_SENTENCE_END = ".!?"
_STRAY_STOP = re.compile(r"([.!?])(?:\s+[.!?])+(?=\s|$)")  # "struck [1]. [2]." → "struck . ."
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)\]])")
_SPACE_AFTER_OPEN = re.compile(r"([(\[])\s+")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)")


@dataclass(frozen=True)
class ParsedSentence:
    text: str  # sentence with all markers removed, whitespace tidied
    markers: list[int]  # numbers in order, de-duplicated


# ---------------------------------------------------------------------------------------------
# Marker parsing


def _marker_numbers(marker: str) -> list[int]:
    numbers: list[int] = []
    for match in _MARKER_PART.finditer(marker):
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        low, high = min(low, high), max(low, high)
        if high - low > _MAX_RANGE:
            numbers += [low, high]
        else:
            numbers += range(low, high + 1)
    return numbers


def _tidy(text: str) -> str:
    """Whitespace left behind by removed markers: "refused  ." → "refused."."""
    text = " ".join(text.split())
    text = _STRAY_STOP.sub(r"\1", text)
    text = _EMPTY_BRACKETS.sub("", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _SPACE_AFTER_OPEN.sub(r"\1", text)
    return " ".join(text.split())


def _is_trailing_style(blanked: str, markers: list[re.Match[str]]) -> bool:
    """True when the writer puts markers after the full stop ("Claim. [1]").

    Decided by the last marker: if it follows end punctuation and nothing follows it, the
    writer's markers trail their sentences, so "A. [1] B." gives [1] to A, not to B.
    """
    if not markers:
        return False
    last = markers[-1]
    before = blanked[: last.start()].rstrip()
    return bool(before) and before[-1] in _SENTENCE_END and not blanked[last.end() :].strip()


def _marker_owner(
    blanked: str, marker: re.Match[str], spans: list[tuple[int, int]], trailing: bool
) -> int | None:
    """Index of the sentence span a marker belongs to (None if there are no sentences)."""
    start, end = marker.start(), marker.end()
    for index, (span_start, span_end) in enumerate(spans):
        if span_start <= start < span_end:
            return index
    # The marker sits between sentences (blanked markers are whitespace, so spans skip them).
    previous = max((i for i, (_, e) in enumerate(spans) if e <= start), default=None)
    following = min((i for i, (s, _) in enumerate(spans) if s >= end), default=None)
    if previous is None or following is None:
        return following if previous is None else previous
    attached = spans[previous][1] == start  # "said no.[1] Then" — written right after the stop
    same_line = "\n" not in blanked[end : spans[following][0]]
    # "A [1]. [4] He said…": a marker opening a sentence names that sentence's source.
    leads_next = not attached and same_line and not trailing
    return following if leads_next else previous


def parse_markers(generated: str) -> list[ParsedSentence]:
    """Split generated text into sentences and collect each sentence's [n] markers.

    Markers are blanked (replaced by spaces of equal length) before sentence splitting so
    offsets stay aligned and the splitter never sees them. A marker inside a sentence belongs
    to it; one between sentences belongs to the previous sentence if written right after its
    full stop or at the end of a line, otherwise to the sentence it opens ("[4] He said…").
    Sentences that are empty or only punctuation once markers are gone are dropped; their
    markers go to the previous kept sentence.
    """
    matches = list(MARKER.finditer(generated))
    blanked = MARKER.sub(lambda m: " " * len(m.group()), generated)
    spans = [(span.start, span.end) for span in sentence_spans(blanked)]
    trailing = _is_trailing_style(blanked, matches)
    markers: list[list[int]] = [[] for _ in spans]
    for match in matches:
        owner = _marker_owner(blanked, match, spans, trailing)
        if owner is not None:
            markers[owner] += _marker_numbers(match.group())
    return _keep_real_sentences([_tidy(blanked[s:e]) for s, e in spans], markers)


def _keep_real_sentences(texts: list[str], markers: list[list[int]]) -> list[ParsedSentence]:
    kept_texts: list[str] = []
    kept_markers: list[list[int]] = []
    orphans: list[int] = []  # markers of dropped sentences that came before any kept one
    for text, numbers in zip(texts, markers, strict=True):
        if any(ch.isalnum() for ch in text):
            kept_texts.append(text)
            kept_markers.append(orphans + numbers)
            orphans = []
        elif kept_markers:
            kept_markers[-1] += numbers
        else:
            orphans += numbers
    return [
        ParsedSentence(text, list(dict.fromkeys(numbers)))
        for text, numbers in zip(kept_texts, kept_markers, strict=True)
    ]


# ---------------------------------------------------------------------------------------------
# Support scoring


def _words(text: str) -> list[str]:
    return text.split()


_STOP_WORDS = frozenset(
    _words(
        """a about above after again against all also am an and any are as at be because been
        before being below between both but by can could did do does doing down during each few
        for from further had has have having he her here hers herself him himself his how i if
        in into is it its itself just me more most my myself of off on once only or other our
        ours ourselves out over own said same says she should so some such than that the their
        theirs them themselves then there these they this those through to too under until up
        upon very was we were what when where which while who whom why will with would you your
        yours yourself according told say"""
    )
)
_NEGATIONS = frozenset(
    _words("not no never none nobody nothing neither nor without cannot nowhere")
)
# Verbs that negate what follows: "agreed to impose" vs "refused to impose" embeds alike.
_NEGATING_VERBS = ("refus", "deni", "deny", "reject", "declin")
_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)*")
_NEGATION_TOKEN = re.compile(r"[a-z]+(?:['’-][a-z]+)*")  # keeps "no-fly" whole: not a negation
_NUMBER_TOKEN = re.compile(r"\d[\d,]*(?:\.\d+)?|[a-z]+")
_PREFIX = 5  # stems sharing their first 5 letters match: "rescu"/"rescuer", "invas"/"invad" not
# Weekdays and months, capitalised only: a claim moved to another day is as wrong as a changed
# figure, while lower-case "march" or "may" is usually not a date.
_CALENDAR = re.compile(
    r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March"
    r"|April|May|June|July|August|September|October|November|December)\b"
)

_UNITS = {
    word: value
    for value, word in enumerate(
        _words(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen"
        )
    )
}
_TENS = {
    word: 10 * (i + 2)
    for i, word in enumerate(_words("twenty thirty forty fifty sixty seventy eighty ninety"))
}
_SCALES = {
    "hundred": 100,
    "thousand": 10**3,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
}


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _content_stems(text: str) -> frozenset[str]:
    words = [w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOP_WORDS]
    return frozenset(_stemmer().stemWords([w.replace("’", "'") for w in words]))


def _is_negated(text: str) -> bool:
    tokens = _NEGATION_TOKEN.findall(text.lower())
    return any(
        t in _NEGATIONS or t.endswith(("n't", "n’t")) or t.startswith(_NEGATING_VERBS)
        for t in tokens
    )


def _numbers(text: str) -> frozenset[float]:
    """Numbers in digits ("1,200", "2.5 million") or words ("two hundred and seven")."""
    values: list[float] = []
    words: list[str] = []  # the current run of number words
    for token in [*_NUMBER_TOKEN.findall(text.lower()), ""]:
        # "and" only continues "two hundred and seven", never "between two and three".
        joins = token == "and" and bool(words) and words[-1] in _SCALES
        if token in _UNITS or token in _TENS or token in _SCALES or joins:
            words.append(token)
            continue
        values += _word_number(words)
        words = []
        if token[:1].isdigit():
            values.append(float(token.replace(",", "")))
    return frozenset(values)


def _word_number(words: list[str]) -> list[float]:
    while words and words[-1] == "and":
        words = words[:-1]
    # A lone "one" is usually a pronoun ("one of the…"); a number word scaling a digit
    # ("2 million") is folded in by _scale_digits; on its own a bare scale is not a number.
    if not words or words == ["one"] or words[0] in _SCALES:
        return []
    total, current = 0, 0
    for word in words:
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
    return [float(total + current)]


_DIGITS_SCALE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s+(thousand|million|billion|trillion)\b")


def _scale_digits(text: str) -> str:
    """ "2.5 million" → "2500000", so it agrees with "2,500,000"."""

    def expand(match: re.Match[str]) -> str:
        value = float(match.group(1).replace(",", "")) * _SCALES[match.group(2)]
        return f"{value:.0f}"

    return _DIGITS_SCALE.sub(expand, text.lower())


@dataclass(frozen=True)
class _Features:
    stems: frozenset[str]
    prefixes: frozenset[str]
    numbers: frozenset[float]
    dates: frozenset[str]
    negated: bool


def _features(text: str) -> _Features:
    stems = _content_stems(text)
    return _Features(
        stems=stems,
        prefixes=frozenset(s[:_PREFIX] for s in stems if len(s) >= _PREFIX),
        numbers=_numbers(_scale_digits(text)),
        dates=frozenset(_CALENDAR.findall(text)),
        negated=_is_negated(text),
    )


class SupportScorer:
    """How well evidence texts support claims, in [0, 1].

    support = clip(W_COS · cos + W_LEX · lex, 0, 1) · NUMBER_PENALTY^missing · negation

    - cos: cosine of the two embeddings, clipped at 0.
    - lex: share of the claim's content stems (lowercased, stop words removed, Snowball stems;
      stems of 5+ letters also match on their first 5) found in the evidence. A claim with no
      content words takes lex = cos, so the lexical term is neutral.
    - missing: how many distinct numbers of the claim (digits, "2.5 million", number words)
      and capitalised weekday/month names are absent from the evidence. Each one multiplies by
      NUMBER_PENALTY: a changed figure or day is the commonest small-model error, and
      embeddings barely notice it.
    - negation: NEGATION_PENALTY when exactly one of claim and evidence contains a negation
      ("not", "never", "n't", …, or refuse/deny/reject/decline), else 1. Embeddings barely
      see "did not", and "agreed to" vs "refused to" hardly moves the cosine.

    Numbers and negation in the evidence that the claim lacks are not penalised: a claim may
    leave out detail. Deterministic for a deterministic embedder.
    """

    W_COS = 0.6
    W_LEX = 0.4
    NUMBER_PENALTY = 0.4
    NEGATION_PENALTY = 0.4

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def score(self, claims: list[str], evidence: list[str]) -> np.ndarray:
        if not claims or not evidence:
            return np.zeros((len(claims), len(evidence)), dtype=np.float32)
        cos = self._cosines(claims, evidence)
        claim_features = [_features(c) for c in claims]
        evidence_features = [_features(e) for e in evidence]
        scores = np.zeros_like(cos)
        for i, claim in enumerate(claim_features):
            for j, proof in enumerate(evidence_features):
                scores[i, j] = self._combine(float(cos[i, j]), claim, proof)
        return scores

    def _cosines(self, claims: list[str], evidence: list[str]) -> np.ndarray:
        distinct = list(dict.fromkeys([*claims, *evidence]))  # embed each text once
        row = {text: i for i, text in enumerate(distinct)}
        vectors = self._embedder.embed(distinct)
        claim_vectors = vectors[[row[c] for c in claims]]
        evidence_vectors = vectors[[row[e] for e in evidence]]
        return np.clip(claim_vectors @ evidence_vectors.T, 0.0, 1.0).astype(np.float32)

    def _combine(self, cos: float, claim: _Features, proof: _Features) -> float:
        lex = _lexical(claim, proof) if claim.stems else cos
        support = min(max(self.W_COS * cos + self.W_LEX * lex, 0.0), 1.0)
        missing = len(claim.numbers - proof.numbers) + len(claim.dates - proof.dates)
        support *= self.NUMBER_PENALTY**missing
        if claim.negated != proof.negated:
            support *= self.NEGATION_PENALTY
        return support


def facts_in(text: str) -> frozenset[str]:
    """The numbers and calendar names of a text, normalised ("2.5 million" → 2500000)."""
    features = _features(text)
    return frozenset({*(f"{n:g}" for n in features.numbers), *features.dates})


def _lexical(claim: _Features, proof: _Features) -> float:
    found = sum(
        1
        for stem in claim.stems
        if stem in proof.stems or (len(stem) >= _PREFIX and stem[:_PREFIX] in proof.prefixes)
    )
    return found / len(claim.stems)


# ---------------------------------------------------------------------------------------------
# Checking and citing


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


_Choice = tuple[list[int], float]  # chosen unit indexes and the support they give


def _evidence_units(passages: list[Passage]) -> list[_Unit]:
    units: list[_Unit] = []
    for index, passage in enumerate(passages):
        spans = sentence_spans(passage.text)
        pairs = [(a.start, b.end) for a, b in itertools.pairwise(spans)]
        for start, end in [*((s.start, s.end) for s in spans), *pairs]:
            units.append(_Unit(index, start, end, passage.text[start:end]))
    return units


def render_sentence(sentence: AnswerSentence) -> str:
    """A checked sentence as it appears in the cited text, markers included."""
    return _with_markers(sentence.text, sentence.citations)


def _with_markers(text: str, numbers: list[int]) -> str:
    if not numbers:
        return text
    markers = "".join(f"[{n}]" for n in numbers)
    # "…zone [1]." reads better than "…zone. [1]"; an ellipsis or closing quote keeps its end.
    if text[-1:] in _SENTENCE_END and not text.endswith(".."):
        return f"{text[:-1]} {markers}{text[-1]}"
    return f"{text} {markers}"


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
        self._scorer = SupportScorer(embedder)
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
        parsed = [ParsedSentence(_tidy(t), list(dict.fromkeys(m))) for t, m in sentences]
        return self._run([p for p in parsed if p.text], passages, report_unmarked=True)

    def cite(self, sentences: list[str], passages: list[Passage]) -> CitedText:
        """Cite marker-free sentences (extractive answers, summaries) to their best passage."""
        parsed = [ParsedSentence(_tidy(s), []) for s in sentences if _tidy(s)]
        return self._run(parsed, passages, report_unmarked=False)

    def _run(
        self, parsed: list[ParsedSentence], passages: list[Passage], *, report_unmarked: bool
    ) -> CitedText:
        check = CitationCheck()
        units = _evidence_units(passages)
        scores = self._scorer.score([p.text for p in parsed], [u.text for u in units])
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
            resolved.append(_Resolved(sentence.text, chosen, support))
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
                )
            )
        text = " ".join(render_sentence(s) for s in sentences)
        return CitedText(text=text, sentences=sentences, citations=citations, check=check)


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

"""Which fact two reports of the same matter disagree on, if any.

Two sentences that report one matter (agreement.py decides that by cosine) conflict when a fact
of one is replaced by a different fact of the same kind *in the same place* of the other: "the
driver, Ahmed Ali, …" against "the driver, Mohammed Saleh, …"; "killing 107" against "killing
111"; "on Tuesday" against "on Thursday". The facts are the citation checker's (facts.py: names
with titles stripped and aliases folded, numbers, dates, speakers, negation); what this module
adds is the *slot*: the two sentences are aligned word by word (each fact one item), and only
facts in a replaced stretch with aligned words around it conflict. So a fact only one side has
("Ali, 34, a driver from Jeddah") is extra detail, not a conflict, and an alias or a shortened
name ("Stoltenberg" / "NATO Secretary General Jens Stoltenberg") is the same fact.

Besides the slots: *attribution* — the same statement with a different named speaker on each
side, neither naming the other's; *outcome* — opposite verbs in the same slot ("acquitted" /
"convicted", "approved" / "rejected") or one side negating what the other affirms ("did not
appear" / "appeared", facts.py's negation check). Rules only, no model; the precision guard
is that every conflict names the words of both sides (`Conflict.claim`, `Conflict.evidence`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from newsdesk.answers import ConflictKind
from newsdesk.generation.facts import Facts, Name, Quantity, compare, facts, name_found, stem


def _words(text: str) -> list[str]:
    return text.split()


MAX_SLOT = 4  # items on either side of a replaced stretch: more is rewording, not one fact
SAME_WORDING = 0.6  # share of the content aligned for sentences worded alike (same_wording)
MIN_SAME_STATEMENT = 0.6  # share of the shorter side's content stems both statements carry

_ORDINAL = re.compile(
    r"\d(?:st|nd|rd|th)\b|\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
    r"tenth|eleventh|twelfth|[a-z]+tieth|hundredth|thousandth)\b",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.,-]*[A-Za-z0-9]|[A-Za-z0-9]|[^\sA-Za-z0-9]")
# A clock time is one item ("4.17 am" = "04:17"): its figures are not counts to compare.
_CLOCK = re.compile(
    r"\b(\d{1,2})(?::|\.(?=\d\d\s*(?:[ap]\.?m\b|[ap]\.m\.|local|gmt|utc)))(\d\d)"
    r"(?:\s*(?:[ap]\.m\.|[ap]m\b))?",
    re.IGNORECASE,
)
# A name right after these qualifies the speaker, it is not one: "a spokesman for the
# hospital in Aleppo said".
_QUALIFIERS = frozenset(_words("in of for from at near"))
_FUNCTION_WORDS = frozenset(
    _words("""a an the of to in on at by for from with and or as is was were be been has have had
    it its that this which who will would""")
)

# Verbs that say "no" without a negation cue: "NATO turned down the request" and "NATO refused
# the request" (a cue) agree in polarity.
_NEGATIVE_VERBS = re.compile(
    r"\b(?:turn(?:s|ed|ing)?|vot(?:e|es|ed|ing)|rul(?:e|es|ed|ing)|call(?:s|ed|ing)?)"
    r"\s+(?:down|out|off)\b"
    r"|\b(?:veto(?:es|ed)?|dismiss(?:es|ed)?|block(?:s|ed)?|halt(?:s|ed)?|scrap(?:s|ped)?"
    r"|cancel(?:s|led|ed)?|abandon(?:s|ed)?|barr(?:ed)?|prevent(?:s|ed)?|stopp(?:ed)?"
    r"|oppos(?:e|es|ed)|spurn(?:s|ed)?|rebuff(?:s|ed)?)\b",
    re.IGNORECASE,
)

# Outcomes that exclude each other, as written; compared by stem.
_OPPOSITES = (
    ("acquitted", "convicted"),
    ("acquittal", "conviction"),
    ("guilty", "innocent"),
    ("approved", "rejected"),
    ("approve", "reject"),
    ("accepted", "rejected"),
    ("accepted", "refused"),
    ("upheld", "overturned"),
    ("upheld", "quashed"),
    ("won", "lost"),
    ("win", "lose"),
    ("passed", "failed"),
    ("raised", "cut"),
    ("raised", "lowered"),
    ("rose", "fell"),
    ("risen", "fallen"),
    ("increased", "decreased"),
    ("increased", "reduced"),
    ("survived", "died"),
    ("confirmed", "denied"),
    ("admitted", "denied"),
    ("lifted", "imposed"),
    ("released", "kept"),
    ("released", "detained"),
    ("signed", "vetoed"),
    ("opened", "closed"),
    ("allowed", "banned"),
    ("legal", "illegal"),
    ("elected", "defeated"),
    ("alive", "dead"),
    ("blocked", "allowed"),
)


@lru_cache(maxsize=1)
def _opposite_stems() -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for a, b in _OPPOSITES:
        found.setdefault(stem(a), set()).add(stem(b))
        found.setdefault(stem(b), set()).add(stem(a))
    return {k: frozenset(v) for k, v in found.items()}


@dataclass(frozen=True, slots=True)
class Conflict:
    kind: ConflictKind
    claim: str  # the conflicting words of the first sentence
    evidence: str  # and of the other


@dataclass(frozen=True, slots=True)
class _Item:
    """One aligned unit of a sentence: a word, a punctuation mark, or a whole fact."""

    key: str  # what must be equal for two items to align
    text: str
    kind: str  # word, stop, name, number, date
    fact: Name | Quantity | None = None


def same_wording(claim: str, other: str) -> float:
    """The share of the shorter sentence's content (words and facts) that aligns with the
    other's, in order: the same report of one matter with one fact changed scores high even
    where the embedding, sensitive to names, puts the two sentences apart."""
    a, b = facts(claim), facts(other)
    return _aligned_share(_items(a, b), _items(b, a))


def _aligned_share(left: list[_Item], right: list[_Item]) -> float:
    matcher = _matcher(left, right)
    aligned = sum(
        1
        for block in matcher.get_matching_blocks()
        for item in left[block.a : block.a + block.size]
        if item.kind != "stop"
    )
    content = min(sum(1 for i in items if i.kind != "stop") for items in (left, right))
    return aligned / content if content else 0.0


def _matcher(left: list[_Item], right: list[_Item]) -> difflib.SequenceMatcher[str]:
    return difflib.SequenceMatcher(
        None, [i.key for i in left], [i.key for i in right], autojunk=False
    )


def conflict(claim: str, other: str) -> Conflict | None:
    """The first conflict between two sentences about the same matter, or None: attribution,
    then names, numbers and dates in the same slot, then outcome."""
    a, b = facts(claim), facts(other)
    return _attribution(a, b) or _one_fact_changed(a, b) or _outcome(a, b)


def _one_fact_changed(a: Facts, b: Facts) -> Conflict | None:
    """A name, number or date in the same slot, when the two sentences report one matter:
    every other fact of each side is in the other, or they are worded alike (a revision that
    changes both the toll and the injured). Two sentences of one topic about different
    matters ("fled to England, Norway and Prussia" / "relocated to Wales, Sweden and the
    Dutch Republic"; "about twenty network technologies before X.25" / "two kinds of X.25
    networks") differ in more than the one fact, and are worded apart."""
    found = _slot_conflict(a, b)
    if found is None:
        return None
    rest_agrees = _others_found(a, b, found.claim) and _others_found(b, a, found.evidence)
    if rest_agrees or _aligned_share(_items(a, b), _items(b, a)) >= SAME_WORDING:
        return found
    return None


def _others_found(own: Facts, other: Facts, conflicting: str) -> bool:
    """Whether each certain name, number and date of `own` but the conflicting one is in
    `other`: a fact only one side has is extra detail, and a second difference."""
    values = {q.value for q in (*other.numbers, *other.dates)}
    for name in own.names:
        if name.certain and name.text != conflicting and not name_found(name, other):
            return False
    quantities = (*own.numbers, *own.dates)
    return all(q.value in values or q.text.rstrip(",") == conflicting for q in quantities)


# --- slots ---------------------------------------------------------------------------------


def _slot_conflict(a: Facts, b: Facts) -> Conflict | None:
    left, right = _items(a, b), _items(b, a)
    codes = _matcher(left, right).get_opcodes()
    for k, (op, i1, i2, j1, j2) in enumerate(codes):
        if op != "replace" or max(i2 - i1, j2 - j1) > MAX_SLOT or not _anchored(codes, k):
            continue
        for x in left[i1:i2]:
            for y in right[j1:j2]:
                kind = _conflicting(x, y, a, b)
                if kind is not None:
                    return Conflict(kind, x.text, y.text)
    return _unit_conflict(left, right) or _lone_conflict(left, right)


def _anchored(codes: Sequence[tuple[str, int, int, int, int]], k: int) -> bool:
    """A replaced stretch is a slot when aligned words stand beside it (two or more, or one
    content word): otherwise the sentences are merely worded differently there."""
    for n in (k - 1, k + 1):
        if 0 <= n < len(codes) and codes[n][0] == "equal":
            _, i1, i2, _, _ = codes[n]
            if i2 - i1 >= 2:
                return True
    return False


def _conflicting(x: _Item, y: _Item, a: Facts, b: Facts) -> ConflictKind | None:
    if x.kind != y.kind or x.kind not in ("name", "number", "date"):
        return None
    if x.kind == "name":
        assert isinstance(x.fact, Name) and isinstance(y.fact, Name)
        if x.key == y.key or not (x.fact.certain and y.fact.certain):
            return None
        if name_found(x.fact, b) or name_found(y.fact, a):
            return None  # the same name, or one both sides mention
        return "name"
    assert isinstance(x.fact, Quantity) and isinstance(y.fact, Quantity)
    if x.kind == "date" and _calendar(x.fact) != _calendar(y.fact):
        return None  # "on Friday" and "on September 11" may well be the same day
    if x.kind == "date" and _within(x.fact, y.fact):
        return None  # "in the 1980s" holds "in 1985"
    mine = {q.value for q in (a.numbers if x.kind == "number" else a.dates)}
    theirs = {q.value for q in (b.numbers if x.kind == "number" else b.dates)}
    if x.fact.value in theirs or y.fact.value in mine:
        return None
    return "number" if x.kind == "number" else "date"


def _unit_conflict(left: list[_Item], right: list[_Item]) -> Conflict | None:
    """Numbers of the same unit that differ, wherever they stand: "107 people" and "111
    people", "killing 107" and "killed 111" (a reworded sentence moves its figures)."""
    theirs = {i.key for i in right if i.kind == "number"}
    mine = {i.key for i in left if i.kind == "number"}
    for x_at, x in enumerate(left):
        if x.kind != "number" or x.key in theirs:
            continue
        for y_at, y in enumerate(right):
            if y.kind != "number" or y.key in mine:
                continue
            if _units(left, x_at) & _units(right, y_at):
                return Conflict("number", x.text, y.text)
    return None


def _lone_conflict(left: list[_Item], right: list[_Item]) -> Conflict | None:
    """One figure (or one date of a kind: weekday, month, year) on each side, different:
    two reports of one matter that each give a single toll or day give it for the same thing,
    however the sentence is worded ("107 were killed" / "the death toll rose to 111")."""
    for kind in ("number", "weekday", "month", "year"):
        mine = {i.key: i for i in left if _category(i) == kind}
        theirs = {i.key: i for i in right if _category(i) == kind}
        if len(mine) == len(theirs) == 1 and mine.keys() != theirs.keys():
            (x,), (y,) = mine.values(), theirs.values()
            return Conflict("number" if kind == "number" else "date", x.text, y.text)
    return None


def _category(item: _Item) -> str | None:
    """The kind of a lone fact, or None where one of each side is no sign of one matter: an
    ordinal says *which* one ("the 5th century" / "the 6th century", "Second, …" / "fifth,
    …": two of a series), a decade spans many years."""
    if item.kind == "number":
        return None if _ORDINAL.search(item.text) else "number"
    if item.kind == "date":
        assert isinstance(item.fact, Quantity)
        return None if _is_decade(item.fact) else _calendar(item.fact)
    return None


def _is_decade(date: Quantity) -> bool:
    return date.text[-1:] == "s"  # facts.py keeps the "s" of "the 1980s" in the surface


def _within(x: Quantity, y: Quantity) -> bool:
    """Whether one year lies in the other's decade (or both are the same decade)."""
    decades = [d for d in (x, y) if _is_decade(d)]
    return bool(decades) and int(x.value) // 10 == int(y.value) // 10


def _units(items: list[_Item], at: int) -> set[str]:
    """The content words right before and right after a number."""
    found = set()
    for n in (at - 1, at + 1):
        if 0 <= n < len(items) and items[n].kind == "word":
            found.add(items[n].key)
    return found


def _calendar(date: Quantity) -> str:
    if date.value >= 0:
        return "year"
    return "month" if date.value > -100 else "weekday"


def _items(own: Facts, other: Facts) -> list[_Item]:
    """The sentence as aligned items: each name, number and date one item (a name both
    sides carry keyed alike, so "Jens Stoltenberg" aligns with "Stoltenberg")."""
    spans: list[tuple[int, int, _Item]] = []
    for name in own.names:
        key = _name_key(name, other)
        spans.append((name.start, name.end, _Item(key, name.text, "name", name)))
    for kind, found in (("number", own.numbers), ("date", own.dates)):
        for q in found:
            end = q.start + len(q.text)
            spans.append((q.start, end, _Item(f"{kind}:{q.value:g}", q.text.rstrip(","), kind, q)))
    for clock in _CLOCK.finditer(own.text):
        key = f"time:{int(clock.group(1))}:{clock.group(2)}"
        spans.append((clock.start(), clock.end(), _Item(key, clock.group(), "time")))
    spans.sort(key=lambda s: (s[0], -s[1]))
    items: list[_Item] = []
    covered = 0
    text = own.text
    for token in _TOKEN.finditer(text):
        if token.start() < covered:
            continue
        fact = next((s for s in spans if s[0] <= token.start() < s[1]), None)
        if fact is not None:
            items.append(fact[2])
            covered = fact[1]
            continue
        word = token.group().lower()
        if not word[0].isalnum() or word in _FUNCTION_WORDS:
            items.append(_Item(word, token.group(), "stop"))
        else:
            items.append(_Item(stem(word), token.group(), "word"))
    return items


def _name_key(name: Name, other: Facts) -> str:
    if name.alias is not None:
        return f"name:{name.alias}"
    if name_found(name, other):
        return f"name:{name.keys[-1]}"  # found: keyed by surname, as the other side's is
    return "name:" + " ".join(name.keys)


# --- attribution ---------------------------------------------------------------------------


def _attribution(a: Facts, b: Facts) -> Conflict | None:
    """The same statement, a different named speaker on each side, neither side naming the
    other's speaker anywhere ("Warren, the senator from Massachusetts, said" names Warren)."""
    mine = [s for s in _speakers(a) if s.certain]
    theirs = [s for s in _speakers(b) if s.certain]
    if not mine or not theirs:
        return None  # "officials said" is less specific, not another speaker
    if any(name_found(s, b) for s in mine) or any(name_found(s, a) for s in theirs):
        return None
    said_a = a.stems - _speaker_stems(mine)
    said_b = b.stems - _speaker_stems(theirs)
    shorter = min(len(said_a), len(said_b))
    if not shorter or len(said_a & said_b) / shorter < MIN_SAME_STATEMENT:
        return None
    return Conflict("attribution", mine[0].text, theirs[0].text)


def _speakers(found: Facts) -> list[Name]:
    """The checker's speakers, less the names that qualify the one who speaks ("a spokesman
    for the hospital in Aleppo said": Aleppo does not speak)."""
    speakers = []
    for speaker in found.speakers:
        before = found.text[: speaker.start].split()
        if not before or before[-1].lower() not in _QUALIFIERS:
            speakers.append(speaker)
    return speakers


def _different_speakers(a: Facts, b: Facts) -> bool:
    """Each side quotes someone, and not the same one: "prosecutors said Smith lied" against
    "his lawyers said there was no evidence he lied" is a dispute the reports agree on."""
    mine, theirs = _speakers(a), _speakers(b)
    return bool(mine and theirs) and not any(_same(s, t) for s in mine for t in theirs)


def _same(a: Name, b: Name) -> bool:
    return name_found(a, facts(b.text)) or name_found(b, facts(a.text))


def _both_negative(a: Facts, b: Facts) -> bool:
    """Each side says "no", one with a cue ("refused to close"), the other with a verb that
    means no ("turned down the request to close"): the same polarity, worded apart. Not when
    the cue negates that very verb ("did not block" / "blocked")."""
    for cued, worded in ((a, b), (b, a)):
        if not cued.negations:
            continue
        for verb in _NEGATIVE_VERBS.finditer(worded.text):
            head = stem(verb.group().split()[0])
            if not any(head[:5] == s[:5] for n in cued.negations for s in n.scope):
                return True
    return False


def _speaker_stems(speakers: list[Name]) -> frozenset[str]:
    return frozenset(stem(word) for s in speakers for word in _TOKEN.findall(s.text))


# --- outcome -------------------------------------------------------------------------------


def _outcome(a: Facts, b: Facts) -> Conflict | None:
    left, right = _items(a, b), _items(b, a)
    matcher = _matcher(left, right)
    opposite = _opposite_stems()
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace" or max(i2 - i1, j2 - j1) > MAX_SLOT:
            continue
        for x in left[i1:i2]:
            for y in right[j1:j2]:
                if y.key in opposite.get(x.key, ()):
                    return Conflict("outcome", x.text, y.text)
    # Polarity only between sentences worded alike: in reworded ones a negation cue's few
    # words ("refused Kyiv's plea for a no-fly zone") meet the other's on other terms.
    if _aligned_share(left, right) < SAME_WORDING:
        return None
    negations = compare(a, b).negations
    if negations and not _different_speakers(a, b) and not _both_negative(a, b):
        return Conflict("outcome", negations[0].claim, negations[0].evidence or "")
    return None

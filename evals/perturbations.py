"""A labelled perturbation set for the support checker, built from real article text.

Each item is a claim, the passage it cites (the sentence it came from with up to two
sentences either side), and whether the passage supports it:

- supported: `original` (the sentence as written), `restatement` (the same facts said
  differently: attribution moved, a full name shortened to the surname, "United States" as
  "the U.S.", a number written another way, a trailing clause dropped, a synonym) and
  `paraphrase` (the same facts as an LLM restates them, in words the passage lacks: several
  verbs and nouns swapped for synonyms, an opening phrase moved to the end, hedged framing
  such as "It was reported that", "more than" as "over");
- unsupported, one fact changed: `name` (a name swapped for one from another article),
  `number`, `date` (weekday, month or year), `negation` (added or removed), `attribution`
  (the speaker swapped for another person of the same article when it has one), `addition`
  (a detail the source never states added to the sentence: the closing clause of a sentence
  of another article, as abstractive summaries invent one) and `unrelated` (a sentence of
  another article: nothing in it is supported).

Articles are split by a hash of their id into `tune` (60 %) and `test` (40 %): the checker's
weights are fitted on `tune` only (bench/train_checker.py), figures are reported on `test`.
The rules are deliberately independent of the checker's own extraction where they can be
(names to swap are picked by capitalisation alone), and every change is checked to be absent
from the passage, so that an "unsupported" label is true.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from newsdesk.domain import Passage
from newsdesk.generation.citations import CitationChecker
from newsdesk.index.text import normalise_text, sentence_spans


def _words(text: str) -> list[str]:
    return text.split()


SUPPORTED_KINDS = ("original", "restatement", "paraphrase")
CHANGED_KINDS = ("name", "number", "date", "negation", "attribution", "addition", "unrelated")
KINDS = SUPPORTED_KINDS + CHANGED_KINDS
SENTENCES_PER_ARTICLE = 5
WINDOW = 2  # passage = the sentence and up to WINDOW sentences either side


@dataclass
class Item:
    id: str
    split: str  # tune | test
    kind: str
    supported: bool
    claim: str
    passage: str
    original: str
    article_id: str
    source: str
    change: dict[str, str] = field(default_factory=dict)  # {"from": ..., "to": ...}


def split_of(article_id: str) -> str:
    digest = int(hashlib.sha1(article_id.encode()).hexdigest(), 16)
    return "test" if digest % 5 < 2 else "tune"


# --- capitalised spans (independent of generation/facts.py) --------------------------------

_CAPITALISED = re.compile(
    r"(?<![\w.])(?:[A-Z][a-z]+|[A-Z]{2,}|(?:[A-Z]\.){2,})"
    r"(?:\s+(?:of\s+|de\s+)?(?:[A-Z][a-z]+|[A-Z]{2,}))*"
)
_NOT_NAMES = frozenset(
    _words("""The A An He She It They We I In On At But And However This That These Those His Her
    Their Its Our When While After Before As If For From By With Mr Mrs Ms Dr Monday Tuesday
    Wednesday Thursday Friday Saturday Sunday January February March April May June July
    August September October November December""")
)


def _spans_of_names(sentence: str) -> list[re.Match[str]]:
    found = []
    for match in _CAPITALISED.finditer(sentence):
        words = match.group().split()
        if match.start() == 0 and len(words) == 1:
            continue  # the sentence's first word: capitalised anyway
        if words[0] in _NOT_NAMES or len(match.group()) < 3:
            continue
        found.append(match)
    return found


def _present(text: str, passage: str) -> bool:
    """Would a reader find `text` (or any of its words) in the passage?"""
    lowered = passage.lower()
    return any(re.search(rf"\b{re.escape(w.lower().strip('.'))}", lowered) for w in text.split())


# --- one-fact changes -----------------------------------------------------------------------


def _swap_name(
    sentence: str, passage: str, pool: list[str], rng: random.Random
) -> tuple[str, str, str] | None:
    spans = _spans_of_names(sentence)
    rng.shuffle(spans)
    for span in spans:
        size = len(span.group().split())
        candidates = [n for n in pool if len(n.split()) == size and not _present(n, passage)]
        if not candidates:
            continue
        new = rng.choice(candidates)
        return sentence[: span.start()] + new + sentence[span.end() :], span.group(), new
    return None


_DIGITS = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\w,]*\d)")
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")
_NUMBER_WORDS = _words("two three four five six seven eight nine ten eleven twelve twenty fifty")


def _change_number(sentence: str, passage: str, rng: random.Random) -> tuple[str, str, str] | None:
    options = [m for m in _DIGITS.finditer(sentence) if not _YEAR.fullmatch(m.group())]
    rng.shuffle(options)
    for match in options:
        whole = match.group(1).replace(",", "")
        value = int(whole)
        for new_value in rng.sample([value * 2, value + rng.randint(1, 9), max(value // 2, 0)], 3):
            text = f"{new_value:,}" if "," in match.group(1) else str(new_value)
            if match.group(2):
                text += "." + match.group(2)
            if new_value != value and not re.search(rf"\b{re.escape(text)}\b", passage):
                return (
                    sentence[: match.start()] + text + sentence[match.end() :],
                    match.group(),
                    text,
                )
    for word in rng.sample(_NUMBER_WORDS, len(_NUMBER_WORDS)):
        found = re.search(rf"\b{word}\b", sentence, re.IGNORECASE)
        if found:
            new = rng.choice(
                [
                    w
                    for w in _NUMBER_WORDS
                    if w != word and not re.search(rf"\b{w}\b", passage, re.IGNORECASE)
                ]
            )
            if found.group()[0].isupper():
                new = new.capitalize()
            return sentence[: found.start()] + new + sentence[found.end() :], found.group(), new
    return None


_WEEKDAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
_MONTHS = _words(
    "January February March April May June July August September October November December"
)


def _change_date(sentence: str, passage: str, rng: random.Random) -> tuple[str, str, str] | None:
    for group in (_WEEKDAYS, _MONTHS):
        for match in re.finditer(r"\b(" + "|".join(group) + r")\b", sentence):
            if match.group() == "May" and match.start() == 0:
                continue
            choices = [d for d in group if d != match.group() and d not in passage]
            if choices:
                new = rng.choice(choices)
                return sentence[: match.start()] + new + sentence[match.end() :], match.group(), new
    for match in _YEAR.finditer(sentence):
        year = int(match.group())
        choices = [str(year + d) for d in (-3, -2, -1, 1, 2, 3) if str(year + d) not in passage]
        if choices:
            new = rng.choice(choices)
            return sentence[: match.start()] + new + sentence[match.end() :], match.group(), new
    return None


_CONTRACTIONS = {
    "didn't": "did", "doesn't": "does", "don't": "do", "wasn't": "was", "weren't": "were",
    "isn't": "is", "aren't": "are", "hasn't": "has", "haven't": "have", "hadn't": "had",
    "won't": "will", "wouldn't": "would", "can't": "can", "couldn't": "could",
    "shouldn't": "should",
}  # fmt: skip
_AUXILIARIES = re.compile(
    r"\b(is|are|was|were|has|have|had|will|would|can|could|should|must|may|might)\b(?!\s+not)"
)
_NEGATING = re.compile(r"\b(refus|deni|deny|reject|declin|fail)", re.IGNORECASE)


def _flip_negation(sentence: str, rng: random.Random) -> tuple[str, str, str] | None:
    del rng
    for contracted, plain in _CONTRACTIONS.items():
        match = re.search(rf"\b{contracted}\b", sentence.replace("’", "'"), re.IGNORECASE)
        if match:
            return sentence[: match.start()] + plain + sentence[match.end() :], match.group(), plain
    match = re.search(r"\b(not|never) ", sentence)
    if match:
        return sentence[: match.start()] + sentence[match.end() :], match.group().strip(), ""
    if _NEGATING.search(sentence) or re.search(r"\b(no|without|nor)\b", sentence):
        return None  # adding a negation to a negated sentence makes a double negative
    match = _AUXILIARIES.search(sentence)
    if match and match.start() > 0:
        return (
            sentence[: match.end()] + " not" + sentence[match.end() :],
            match.group(),
            f"{match.group()} not",
        )
    match = re.search(r"(?<=[a-z] )([a-z]{3,}ed)\b", sentence)
    if match:
        return (
            sentence[: match.start()] + "never " + sentence[match.start() :],
            match.group(),
            f"never {match.group()}",
        )
    return None


_SPEAKER = re.compile(
    r"(?P<before>(?:[A-Z][a-z]+\s+){0,2}[A-Z][a-z]+)\s+(?:said|says|told|added|explained|noted)\b"
    r"|\b(?:said|says|added)\s+(?P<after>(?:[A-Z][a-z]+\s+){0,2}[A-Z][a-z]+)"
    r"|according to\s+(?P<according>(?:[A-Z][a-z]+\s+){0,2}[A-Z][a-z]+)"
)


def _swap_speaker(
    sentence: str, passage: str, article_names: list[str], pool: list[str], rng: random.Random
) -> tuple[str, str, str] | None:
    for match in _SPEAKER.finditer(sentence):
        group = next(g for g in ("before", "after", "according") if match.group(g))
        speaker = match.group(group)
        if speaker.split()[0] in _NOT_NAMES:
            continue
        surname = speaker.split()[-1]
        same_article = [n for n in article_names if surname not in n and n not in speaker]
        others = [n for n in pool if not _present(n, passage)]
        choices = same_article or others
        if not choices:
            return None
        new = rng.choice(choices)
        start, end = match.span(group)
        return sentence[:start] + new + sentence[end:], speaker, new
    return None


# --- faithful restatements ------------------------------------------------------------------

_SYNONYMS = {
    "said": "stated", "says": "states", "began": "started", "started": "began",
    "nearly": "almost", "almost": "nearly", "about": "around", "children": "kids",
    "showed": "indicated", "shows": "indicates", "help": "assist", "large": "big",
    "big": "large", "quickly": "rapidly", "bought": "purchased", "because": "as",
    "attack": "assault", "also": "", "however": "", "very": "",
}  # fmt: skip
_INVERTIBLE = re.compile(
    r"^(?P<who>(?:[A-Z][\w.’']*\s+){1,4}?)(?P<verb>said|says)(?: that)? (?P<what>.+?)\.$"
)
_TRAILING = re.compile(r"^(?P<said>.+?), (?P<who>(?:[A-Z][\w.’']*\s*){1,4}) (?P<verb>said|says)\.$")
_FULL_NAME = re.compile(r"\b([A-Z][a-z]+) ([A-Z][a-z]{3,})\b")


def _restate(sentence: str, rng: random.Random) -> tuple[str, str] | None:
    ways: list[tuple[str, str]] = []
    if m := _INVERTIBLE.match(sentence):
        ways.append(
            (
                f"{m['what'][0].upper()}{m['what'][1:]}, {m['who'].strip()} {m['verb']}.",
                "attribution moved",
            )
        )
    if m := _TRAILING.match(sentence):
        ways.append(
            (
                f"{m['who'].strip()} {m['verb']} that {m['said'][0].lower()}{m['said'][1:]}.",
                "attribution moved",
            )
        )
    if "United States" in sentence:
        ways.append(
            (
                sentence.replace("the United States", "the U.S.").replace(
                    "United States", "the U.S."
                ),
                "alias",
            )
        )
    for m in _FULL_NAME.finditer(sentence):
        if m.group(1) not in _NOT_NAMES and m.start() > 0:
            ways.append((sentence[: m.start()] + m.group(2) + sentence[m.end() :], "surname only"))
            break
    if m := re.search(r"\b(\d{1,3}),(\d{3})\b(?!,)", sentence):
        ways.append(
            (sentence[: m.start()] + m.group(1) + m.group(2) + sentence[m.end() :], "number format")
        )
    words = {
        "two": "2",
        "three": "3",
        "four": "4",
        "five": "5",
        "six": "6",
        "seven": "7",
        "eight": "8",
        "nine": "9",
    }
    for word, digit in words.items():
        if m := re.search(rf"\b{word}\b", sentence):
            ways.append((sentence[: m.start()] + digit + sentence[m.end() :], "number in digits"))
            break
    clause = sentence.rfind(", ")
    if (
        clause > 0
        and len(sentence[:clause].split()) >= 8
        and not re.search(r"\b(said|says)\.$", sentence)
    ):
        ways.append((sentence[:clause] + ".", "trailing clause dropped"))
    for word, synonym in _SYNONYMS.items():
        if m := re.search(rf"\b{word}\b", sentence):
            replaced = sentence[: m.start()] + synonym + sentence[m.end() :]
            ways.append((re.sub(r"\s{2,}", " ", replaced).replace(" ,", ","), "synonym"))
            break
    return rng.choice(ways) if ways else None


# LLM paraphrase: what a model writes when it restates a sentence in its own words. Each pair
# keeps the meaning in the contexts news sentences use it (words with a common second sense —
# "fire", "left", "rose", "fell", "plan" — are left out on purpose).
_LLM_SYNONYMS = {
    "killed": "slain", "died": "perished", "injured": "hurt", "wounded": "injured",
    "bought": "purchased", "buy": "purchase", "helped": "assisted", "began": "started",
    "started": "began", "ended": "finished", "stopped": "halted", "arrested": "detained",
    "jailed": "imprisoned", "discovered": "found", "built": "constructed",
    "tried": "attempted", "needed": "required", "allowed": "permitted", "allow": "permit",
    "received": "got", "receive": "get", "showed": "indicated", "hit": "struck",
    "struck": "hit", "warned": "cautioned", "claimed": "asserted", "announced": "revealed",
    "big": "large", "large": "big", "huge": "enormous", "strong": "powerful",
    "important": "significant", "quickly": "rapidly", "children": "kids", "car": "vehicle",
    "cars": "vehicles", "people": "individuals", "money": "funds", "job": "position",
    "jobs": "positions", "country": "nation", "officials": "authorities",
    "attack": "assault", "attacks": "assaults", "company": "firm", "companies": "firms",
    "firms": "companies", "accident": "incident", "crash": "collision",
    "buildings": "structures", "agreement": "deal", "blaze": "fire", "rain": "rainfall",
    "said": "stated", "says": "states", "told": "informed", "almost": "nearly",
    "nearly": "almost",
}  # fmt: skip
_LLM_PHRASES = {
    "more than": "over", "at least": "no fewer than", "as well as": "and",
    "in order to": "to", "because of": "due to", "about": "around",
}  # fmt: skip
_FRONTED = re.compile(
    r"^(?P<phrase>(?:On|In|At|After|Before|During|Since|Last|Earlier|Following|Later)\b"
    r"[^,]{2,60}), (?P<rest>.+?)(?P<end>[.!?])$"
)
_LOWERABLE = frozenset(_words("The A An He She It They This That These Those Some Many Its"))
_FRAMES = ("It was reported that ", "Reportedly, ", "The report says that ")


def _paraphrase(sentence: str, passage: str, rng: random.Random) -> tuple[str, str] | None:
    """The sentence restated as an LLM might, with at least one content word the passage
    lacks; None when no rule applies."""
    text, novel = sentence, 0
    how: list[str] = []
    words = list(_LLM_SYNONYMS.items())
    rng.shuffle(words)
    for word, synonym in words:
        if len(how) == 3:
            break
        match = re.search(rf"(?<![\w-]){word}(?![\w-])", text, re.IGNORECASE)
        if not match or (match.start() > 0 and match.group()[0].isupper()):
            continue  # a capitalised word mid-sentence may be part of a name
        new = synonym.capitalize() if match.group()[0].isupper() else synonym
        text = text[: match.start()] + new + text[match.end() :]
        how.append(f"{match.group()}→{new}")
        novel += not _present(synonym, passage)
    for phrase, shorter in _LLM_PHRASES.items():
        # "about" only before a figure ("about 200"), not "talked about"
        pattern = rf"\b{phrase}\b(?= \d)" if phrase == "about" else rf"\b{phrase}\b"
        if re.search(pattern, text):
            text = re.sub(pattern, shorter, text, count=1)
            how.append(f"{phrase}→{shorter}")
    if m := _FRONTED.match(text):  # "On Friday, the mosque …" → "The mosque … on Friday."
        rest, phrase = m["rest"], m["phrase"]
        text = f"{rest[0].upper()}{rest[1:]} {phrase[0].lower()}{phrase[1:]}{m['end']}"
        how.append("opening phrase moved to the end")
    if rng.random() < 0.4 and text.split()[0] in _LOWERABLE and not text.startswith("It "):
        frame = rng.choice(_FRAMES)
        text = frame + text[0].lower() + text[1:]
        how.append(f"framed: {frame.strip()}")
        novel += 1
    if not novel or text == sentence:
        return None
    return text, "; ".join(how)


# An invented detail: a closing clause of another article's sentence ("…, killing two
# people", "…, after a row over pay"), only when most of its words are new to the passage.
_CLOSING_CLAUSE = re.compile(
    r", (?P<clause>(?:after|before|while|when|as|killing|leaving|following|despite|amid|with|"
    r"which|who|because|in a|in an|for|to)\b[^,;:\"“”'‘’()]{12,90})[.!?]$"
)


def _add_detail(
    sentence: str, passage: str, others: list[str], rng: random.Random
) -> tuple[str, str] | None:
    if not sentence.endswith(".") or sentence.rstrip(".").endswith(('"', "”", "'", "’")):
        return None
    candidates = [m["clause"] for s in others if (m := _CLOSING_CLAUSE.search(s))]
    rng.shuffle(candidates)
    for clause in candidates[:50]:
        words = [w for w in re.findall(r"[A-Za-z]{4,}", clause)]
        new = [w for w in words if not _present(w, passage)]
        if len(words) >= 2 and len(new) >= max(2, len(words) // 2):
            return f"{sentence[:-1]}, {clause}.", clause
    return None


# --- building the set -----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceArticle:
    id: str
    text: str
    source: str


def read_articles(samples: Path, suite: Path | None, suite_limit: int) -> list[SourceArticle]:
    articles = [
        SourceArticle(a["id"], a["text"], "samples")
        for a in map(json.loads, samples.read_text(encoding="utf-8").splitlines())
        if a.get("text")
    ]
    if suite is not None:
        data = json.loads(gzip.decompress(suite.read_bytes()))
        articles += [
            SourceArticle(a["id"], a["text"], "frank") for a in data["articles"][:suite_limit]
        ]
    return articles


@dataclass(frozen=True)
class HandParaphrase:
    """A paraphrase written by hand, LLM-style, of sentence `sentence` of an article."""

    article_id: str
    sentence: int
    claim: str


def read_hand_paraphrases(path: Path) -> list[HandParaphrase]:
    rows = path.read_text(encoding="utf-8").splitlines()
    return [HandParaphrase(**json.loads(row)) for row in rows if row.strip()]


def build(
    articles: list[SourceArticle], seed: int = 0, by_hand: Iterable[HandParaphrase] = ()
) -> list[Item]:
    rng = random.Random(seed)
    sentences: dict[str, list[str]] = {}
    for article in articles:
        text = normalise_text(article.text)
        sentences[article.id] = [text[s.start : s.end] for s in sentence_spans(text)]
    names = {
        article_id: list(dict.fromkeys(m.group() for s in sents for m in _spans_of_names(s)))
        for article_id, sents in sentences.items()
    }
    items: list[Item] = []
    for article in articles:
        sents = sentences[article.id]
        pool = [n for other, found in names.items() if other != article.id for n in found]
        others = [
            s
            for other, ss in sentences.items()
            if other != article.id
            for s in ss
            if 8 <= len(s.split()) <= 40
        ]
        targets = [i for i, s in enumerate(sents) if 8 <= len(s.split()) <= 40]
        for index in _pick(targets, sents, rng):
            sentence = sents[index]
            passage = " ".join(sents[max(index - WINDOW, 0) : index + WINDOW + 1])
            items += _items_for(
                article, index, sentence, passage, names[article.id], pool, others, rng
            )
    source = {article.id: article.source for article in articles}
    for number, written in enumerate(by_hand):
        sents = sentences[written.article_id]
        window = sents[max(written.sentence - WINDOW, 0) : written.sentence + WINDOW + 1]
        items.append(
            Item(
                id=f"{written.article_id}/{written.sentence}/paraphrase-by-hand-{number}",
                split=split_of(written.article_id),
                kind="paraphrase",
                supported=True,
                claim=written.claim,
                passage=" ".join(window),
                original=sents[written.sentence],
                article_id=written.article_id,
                source=source[written.article_id],
                change={"how": "by hand"},
            )
        )
    return items


def _pick(targets: list[int], sents: list[str], rng: random.Random) -> list[int]:
    """Up to SENTENCES_PER_ARTICLE sentences, two with a named speaker and one with a date
    first when the article has them (both are rare in a random pick)."""
    order = rng.sample(targets, len(targets))
    speakers = [i for i in order if _SPEAKER.search(sents[i])][:2]
    dated = [i for i in order if re.search(_DATE_WORDS, sents[i]) and i not in speakers][:1]
    rest = [i for i in order if i not in speakers and i not in dated]
    return sorted([*speakers, *dated, *rest][:SENTENCES_PER_ARTICLE])


_DATE_WORDS = r"\b(?:" + "|".join(_WEEKDAYS + _MONTHS) + r"|19\d\d|20\d\d)\b"


def _items_for(
    article: SourceArticle,
    index: int,
    sentence: str,
    passage: str,
    article_names: list[str],
    pool: list[str],
    others: list[str],
    rng: random.Random,
) -> Iterable[Item]:
    def item(kind: str, claim: str, change: dict[str, str] | None = None) -> Item:
        return Item(
            id=f"{article.id}/{index}/{kind}",
            split=split_of(article.id),
            kind=kind,
            supported=kind in SUPPORTED_KINDS,
            claim=claim,
            passage=passage,
            original=sentence,
            article_id=article.id,
            source=article.source,
            change=change or {},
        )

    yield item("original", sentence)
    if restated := _restate(sentence, rng):
        yield item("restatement", restated[0], {"how": restated[1]})
    # Its own random stream, so that adding paraphrases left every other item as it was.
    if paraphrased := _paraphrase(
        sentence, passage, random.Random(f"paraphrase/{article.id}/{index}")
    ):
        yield item("paraphrase", paraphrased[0], {"how": paraphrased[1]})
    changes = {
        "name": _swap_name(sentence, passage, pool, rng),
        "number": _change_number(sentence, passage, rng),
        "date": _change_date(sentence, passage, rng),
        "negation": _flip_negation(sentence, rng),
        "attribution": _swap_speaker(sentence, passage, article_names, pool, rng),
    }
    for kind, change in changes.items():
        if change is not None and change[0] != sentence:
            yield item(
                kind, re.sub(r"\s{2,}", " ", change[0]), {"from": change[1], "to": change[2]}
            )
    if others and rng.random() < 0.5:
        yield item("unrelated", rng.choice(others))
    # Its own random stream, as for paraphrases: the items above stay as they were.
    if added := _add_detail(
        sentence, passage, others, random.Random(f"addition/{article.id}/{index}")
    ):
        yield item("addition", added[0], {"to": added[1]})


def write(items: list[Item], path: Path) -> None:
    lines = "".join(json.dumps(asdict(i), ensure_ascii=False) + "\n" for i in items)
    path.write_bytes(gzip.compress(lines.encode("utf-8"), mtime=0))


def load(path: Path, split: str | None = None) -> list[Item]:
    rows = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    items = [Item(**json.loads(r)) for r in rows if r.strip()]
    return [i for i in items if split is None or i.split == split]


# --- scoring the checker on it --------------------------------------------------------------


def as_passage(item: Item, chunk_id: int = 1) -> Passage:
    return Passage(
        chunk_id=chunk_id,
        article_id=item.article_id,
        title=item.article_id,
        text=item.passage,
        char_start=0,
        char_end=len(item.passage),
        score=1.0,
        dense_score=None,
        lexical_score=None,
    )


@dataclass
class KindResult:
    kind: str
    items: int
    flagged: int
    right_kind: int  # flagged with a mismatch of the changed kind


@dataclass
class Evaluation:
    kinds: dict[str, KindResult]
    ms_per_sentence: float
    supports: list[float]
    labels: list[bool]


_ANY = {"missing", "name", "number", "date", "negation", "attribution"}
_EXPECTED = {"unrelated": _ANY, "addition": _ANY}


def evaluate(checker: CitationChecker, items: list[Item]) -> Evaluation:
    """Each claim checked as /ask checks a sentence citing its passage: flagged = not
    supported. Time is wall clock of the checker per claim (embedding included)."""
    results: dict[str, KindResult] = defaultdict(lambda: KindResult("", 0, 0, 0))
    supports, labels = [], []
    started = time.perf_counter()
    for item in items:
        cited = checker.check_marked([(item.claim, [1])], [as_passage(item)])
        sentence = cited.sentences[0]
        result = results[item.kind]
        result.kind = item.kind
        result.items += 1
        supports.append(sentence.support)
        labels.append(item.supported)
        if not sentence.supported:
            result.flagged += 1
            expected = _EXPECTED.get(
                item.kind, {item.kind, "name"} if item.kind == "attribution" else {item.kind}
            )
            if {m.kind for m in sentence.mismatches} & expected:
                result.right_kind += 1
    elapsed = (time.perf_counter() - started) * 1000
    ordered = {k: results[k] for k in KINDS if k in results}
    return Evaluation(ordered, elapsed / max(len(items), 1), supports, labels)

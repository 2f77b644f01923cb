"""The facts of a sentence, and where a claim's facts disagree with its evidence.

A claim is supported only when every fact in it is in the evidence it cites. This module pulls
out the facts a small model most often gets wrong and embeddings barely notice — names
(multi-word, with titles stripped and aliases folded: "Stoltenberg" for "Jens Stoltenberg",
"the U.S." for "United States", "UN" for "United Nations"), numbers, dates, negation with its
scope, and attribution (who said it) — and compares them (`compare`). Each disagreement is a
`Mismatch` naming the claim's words and the nearest words of the evidence, so every verdict
can be explained. Rules only, no model: the learned part is the combiner
(checker_model.py), which weighs these counts with the embedding cosine and word overlap.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TypeVar

import simplemma
import Stemmer
from simplemma.strategies.dictionaries import DEFAULT_DICTIONARY_FACTORY

from newsdesk.answers import Mismatch
from newsdesk.generation.evidence_sentences import evidence_spans
from newsdesk.index.text import Span


def _words(text: str) -> list[str]:
    return text.split()


# --- words ---------------------------------------------------------------------------------

_STOP_WORDS = frozenset(
    _words("""a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself of off on once only or other our
    ours ourselves out over own said same says she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    upon very was we were what when where which while who whom why will with would you your
    yours yourself according told say fewer less least""")
)  # "fewer", "less", "least" as "few", "more", "most": "no fewer than 27" is "at least 27"
# Capitalised words that open sentences without naming anything.
_OPENERS = _STOP_WORDS | frozenset(
    _words("""however meanwhile although though yet still now later earlier instead despite amid
    many several some most both while since once last next first this that these those one
    two three four five six seven eight nine ten mr mrs ms
    no not never none nobody nothing neither nor""")
)  # a negation names nothing, even where the lexicon also lists "No" (the abbreviation)
# Titles and roles before a name: a claim may add or drop them ("Former NATO chief
# Stoltenberg"), so they are not facts to find in the evidence.
_TITLES = frozenset(
    _words("""mr mrs ms miss dr prof professor president vice prime minister secretary general former
    chief sir lord lady dame king queen prince princess pope senator sen rep representative
    governor gov mayor judge justice captain capt colonel col lieutenant lt sergeant sgt
    officer director chairman chairwoman chair ceo head leader spokesman spokeswoman
    spokesperson deputy foreign defence defense interior finance home state attorney
    ambassador commander coach manager striker midfielder defender goalkeeper boss
    st saint rev reverend father brother sister""")
)
_CONNECTORS = frozenset(_words("of de del della da van von der den bin al la le du"))

_TOKEN = re.compile(
    r"(?P<acronym>(?:[A-Z]\.){2,})"  # U.S., U.K. (before words eat the letters)
    r"|(?P<word>[A-Za-z][A-Za-z0-9]*(?:[-'’][A-Za-z0-9]+)*)"
    r"|(?P<number>\d[\d,]*(?:\.\d+)?)"
    r"|(?P<stop>[.!?;:\"“”()]|,)"
)
_SENTENCE_END = frozenset('.!?:"“”(')
_QUOTES = frozenset('"“”')


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    start: int
    end: int
    kind: str  # acronym, word, number, stop
    opens_sentence: bool


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    opens, previous = True, ""
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "stop"
        tokens.append(_Token(match.group(), match.start(), match.end(), kind, opens))
        # A quote closed after a comma ('…devices," Jordan said') does not end the sentence.
        closes_clause = previous == "," and match.group() in _QUOTES
        opens = kind == "stop" and match.group() in _SENTENCE_END and not closes_clause
        previous = match.group()
    return tokens


def _key(word: str) -> str:
    """Lower case without dots or a possessive: "U.S." → "us", "Stoltenberg’s" → "stoltenberg"."""
    word = word.lower().replace(".", "").replace("’", "'")
    return word[:-2] if word.endswith("'s") else word


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_stemmer().stemWord(_key(word)))


@lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    """The word's dictionary form, lower-cased ("fell" → "fall", "children" → "child"); cached:
    the extractive rules lemmatise every word of every retrieved passage."""
    return str(simplemma.lemmatize(word, lang="en")).lower()


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, str]:
    """simplemma's English dictionary (word form → lemma; ships with the package, offline):
    it keeps a capitalised entry for words English capitalises ("London", "John")."""
    return DEFAULT_DICTIONARY_FACTORY.get_dictionary("en")  # type: ignore[return-value]


@lru_cache(maxsize=65536)
def is_common_word(word: str) -> bool:
    """A capitalised word that English writes in lower case: the lexicon knows its lower-case
    form, as a lower-case lemma, and has no capitalised entry for it ("Reportedly", "High",
    "Almost", "Begun"). Not "London" (the lexicon has "London" too), "John" (its lemma is
    capitalised), "Stoltenberg" (unknown) nor "NATO" (not a capitalised word)."""
    if not (word[:1].isupper() and word[1:].islower() and word.isalpha()):
        return False
    lexicon = _lexicon()
    lemma = lexicon.get(word.lower())
    return lemma is not None and lemma == lemma.lower() and lexicon.get(word) is None


# --- names ---------------------------------------------------------------------------------

# Alias groups: every spelling maps to one key.
_ALIASES = {
    alias: group[0]
    for group in (
        ("united states", "us", "usa", "america", "american", "united states of america"),
        ("united kingdom", "uk", "britain", "great britain", "british"),
        ("united nations", "un"),
        ("european union", "eu"),
        ("united arab emirates", "uae"),
        ("soviet union", "ussr"),
        ("kyiv", "kiev"),
    )
    for alias in group
}
_ACRONYM_ALIASES = frozenset(a for a in _ALIASES if " " not in a and len(a) <= 4)
# Acronyms only as written in capitals, dotted or not ("US", "U.S."): "told us" is no country.
# Other spellings in any case ("America", "the United States").
_ALIAS_SPELLING = re.compile(
    r"(?<![\w.])(?:"
    + "|".join(
        [
            *(
                "(?i:" + r"\s+".join(a.split()) + ")"
                for a in sorted(_ALIASES, key=len, reverse=True)
                if a not in _ACRONYM_ALIASES
            ),
            *(r"\.?".join(a.upper()) + r"\.?" for a in _ACRONYM_ALIASES),
        ]
    )
    + r")(?!\w)"
)


def fold_aliases(text: str) -> tuple[str, set[str]]:
    """The places and bodies with several names that a text mentions, as each group's one key
    ("U.S." and "America" → "united states"), and the text with those spellings blanked."""
    keys: set[str] = set()

    def fold(match: re.Match[str]) -> str:
        keys.add(_ALIASES[" ".join(match.group(0).lower().replace(".", "").split())])
        return " "

    return _ALIAS_SPELLING.sub(fold, text), keys


_MONTHS = _words(
    "january february march april may june july august september october november december"
)
_MONTH_ABBREVIATIONS = {m[:3]: m for m in _MONTHS} | {"sept": "september"}
_WEEKDAYS = _words("monday tuesday wednesday thursday friday saturday sunday")


@dataclass(frozen=True, slots=True)
class Name:
    """A capitalised span: "Former NATO Secretary General Jens Stoltenberg"."""

    text: str  # as written, titles included
    keys: tuple[str, ...]  # the tokens that must be found (titles and connectors dropped)
    start: int
    end: int
    certain: bool  # False: one capitalised word opening a sentence ("Officials said")

    @property
    def alias(self) -> str | None:
        return _ALIASES.get(" ".join(self.keys))


def _is_capitalised(token: _Token) -> bool:
    return token.kind == "acronym" or (token.kind == "word" and token.text[0].isupper())


def _calendar_key(word: str) -> str | None:
    key = _key(word)
    if key in _MONTHS or key in _WEEKDAYS:
        return key
    return _MONTH_ABBREVIATIONS.get(key)


def _names(text: str, tokens: list[_Token]) -> list[Name]:
    names: list[Name] = []
    i = 0
    while i < len(tokens):
        if not _is_capitalised(tokens[i]) or _calendar_key(tokens[i].text):
            i += 1
            continue
        j = i + 1
        while j < len(tokens):
            if _is_capitalised(tokens[j]) and not _calendar_key(tokens[j].text):
                j += 1
            elif (
                tokens[j].text.lower() in _CONNECTORS
                and j + 1 < len(tokens)
                and _is_capitalised(tokens[j + 1])
            ):
                j += 2
            else:
                break
        span = tokens[i:j]
        while span and span[0].opens_sentence and _key(span[0].text) in _OPENERS:
            span = span[1:]
        while span and span[-1].text.lower() in _CONNECTORS:
            span = span[:-1]
        keys = tuple(
            _key(t.text)
            for t in span
            if _key(t.text) not in _TITLES and t.text.lower() not in _CONNECTORS
        )
        if span and keys:
            certain = len(span) > 1 or not span[0].opens_sentence
            names.append(
                Name(text[span[0].start : span[-1].end], keys, span[0].start, span[-1].end, certain)
            )
        i = j
    return names


# --- numbers and dates ---------------------------------------------------------------------

_UNITS = {
    w: v
    for v, w in enumerate(
        _words(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen"
        )
    )
}
_TENS = {
    w: 10 * (i + 2)
    for i, w in enumerate(_words("twenty thirty forty fifty sixty seventy eighty ninety"))
}
_SCALES = {"hundred": 100, "thousand": 10**3, "million": 10**6, "billion": 10**9}
_SCALES |= {"trillion": 10**12, "bn": 10**9, "mn": 10**6, "tn": 10**12}
_ORDINALS = {
    w: v
    for v, w in enumerate(
        _words("zeroth first second third fourth fifth sixth seventh eighth ninth tenth")
    )
    if v >= 2  # "first" is rarely a figure
}
_YEAR = re.compile(r"^(1[89]\d\d|20\d\d)$")
_DECADE = re.compile(r"['’]?s\b")


@dataclass(frozen=True, slots=True)
class Quantity:
    value: float
    text: str
    start: int


_NUMBER_WORDS_SET = frozenset({*_UNITS, *_TENS, *_SCALES, *_ORDINALS})


def _word_value(words: list[str]) -> float | None:
    while words and words[-1] == "and":
        words = words[:-1]
    if not words or words == ["one"] or words[0] in _SCALES:
        return None
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
    return float(total + current)


_NUMBER_WORDS = re.compile(r"[a-z]+|\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?|.", re.IGNORECASE)


def _quantities(text: str) -> tuple[list[Quantity], list[tuple[str, str, int]]]:
    """Numbers ("1,200", "2.5 million", "two hundred and seven", "3rd") and years."""
    numbers: list[Quantity] = []
    years: list[tuple[str, str, int]] = []
    run: list[re.Match[str]] = []  # the current run of number words

    def close_run() -> None:
        words = [m.group().lower() for m in run]
        value = _word_value(words)
        if value is not None:
            start, end = run[0].start(), run[-1].end()
            numbers.append(Quantity(value, text[start:end], start))
        run.clear()

    matches = [m for m in _NUMBER_WORDS.finditer(text) if not m.group().isspace()]
    i = 0
    while i < len(matches):
        match = matches[i]
        word = match.group().lower().replace("-", "").rstrip(",")
        joins = word == "and" and bool(run) and run[-1].group().lower() in _SCALES
        if word in _UNITS or word in _TENS or (word in _SCALES and run) or joins:
            run.append(match)
            i += 1
            continue
        close_run()
        if word in _ORDINALS:
            numbers.append(Quantity(float(_ORDINALS[word]), match.group(), match.start()))
        elif word[:1].isdigit() and (match.start() == 0 or not text[match.start() - 1].isalpha()):
            digits = re.match(r"[\d,]*(?:\.\d+)?", word)
            raw = digits.group().rstrip(",") if digits else word
            if _YEAR.match(raw) and word == raw:
                # "the 1980s" is a decade: its surface keeps the "s", so that a comparison
                # of dates can tell it from the year 1980 (conflicts.py).
                decade = _DECADE.match(text, match.end())
                surface = raw + decade.group() if decade else raw
                years.append(("year", surface, match.start()))
            else:
                value = float(raw.replace(",", "") or 0)
                end = match.end()
                if i + 1 < len(matches) and matches[i + 1].group().lower() in _SCALES:
                    value *= _SCALES[matches[i + 1].group().lower()]
                    end = matches[i + 1].end()
                    i += 1
                numbers.append(Quantity(value, text[match.start() : end], match.start()))
        i += 1
    close_run()
    return numbers, years


def _dates(text: str, tokens: list[_Token], years: list[tuple[str, str, int]]) -> list[Quantity]:
    """Weekdays and months (capitalised only: "may" is rarely a month), and years; the value
    is a stable key per date so dates compare like numbers."""
    found: list[Quantity] = []
    for token in tokens:
        key = _calendar_key(token.text) if token.text[:1].isupper() else None
        if key and not (key == "may" and token.opens_sentence):
            found.append(Quantity(float(_date_code(key)), token.text, token.start))
    found += [Quantity(float(surface[:4]), surface, start) for _, surface, start in years]
    return found


def _date_code(key: str) -> int:
    if key in _MONTHS:
        return -1 - _MONTHS.index(key)
    return -100 - _WEEKDAYS.index(key)


# --- negation ------------------------------------------------------------------------------

_NEGATIONS = frozenset(
    _words("not no never none nobody nothing neither nor without cannot nowhere")
)
_NEGATING_VERBS = ("refus", "deni", "deny", "reject", "declin", "fail")
_CLAUSE_END = frozenset('.!?;:,"“”()')
_SCOPE = 4  # content words after a cue that it negates


@dataclass(frozen=True, slots=True)
class Negation:
    cue: str
    scope: frozenset[str]  # stems of the content words it negates
    text: str  # cue and scope as written
    start: int


def _is_cue(token: _Token) -> bool:
    word = token.text.lower().replace("’", "'")
    return token.kind == "word" and (
        word in _NEGATIONS or word.endswith("n't") or word.startswith(_NEGATING_VERBS)
    )


# "no fewer than 27", "not less than 27": a lower bound on a figure ("at least 27"), said of
# the figure, not a denial of anything.
_LOWER_BOUND = frozenset(_words("fewer less"))


def _is_lower_bound(tokens: list[_Token], i: int) -> bool:
    following = [t.text.lower() for t in tokens[i + 1 : i + 3]]
    return tokens[i].text.lower() in ("no", "not") and (
        len(following) == 2 and following[0] in _LOWER_BOUND and following[1] == "than"
    )


def _negations(text: str, tokens: list[_Token]) -> list[Negation]:
    found: list[Negation] = []
    for i, token in enumerate(tokens):
        if not _is_cue(token) or _is_lower_bound(tokens, i):
            continue
        scope: list[_Token] = []
        for later in tokens[i + 1 :]:
            if (later.kind == "stop" and later.text in _CLAUSE_END) or later.text == "but":
                break
            if later.kind == "word" and _key(later.text) not in _STOP_WORDS and not _is_cue(later):
                scope.append(later)
                if len(scope) == _SCOPE:
                    break
        end = scope[-1].end if scope else token.end
        stems = frozenset(stem(t.text) for t in scope)
        found.append(Negation(token.text, stems, text[token.start : end], token.start))
    return found


# --- attribution ---------------------------------------------------------------------------

# The verbs that say who said something: the checker's speakers (attribution) and the
# extractive backend's "what did X say?" checks (answer_slots, extractive) read this one list.
SPEECH_VERBS = frozenset(
    _words("""said says say told tells tell added adds stated states announced
    announces claimed claims noted notes explained explains wrote writes argued argues
    warned warns insisted insists revealed reveals admitted admits emphasised emphasises
    emphasized emphasizes stressed stresses confirmed confirms denied denies tweeted declared
    declares asked asks replied replies responded suggested suggests acknowledged
    acknowledges commented comments recalled recalls predicted urged urges vowed vows promised
    pledged alleged alleges estimated reported reports concluded observed remarked maintained
    maintains conceded assured testified posted described describes""")
)
# The verbs as one regex alternation, longest first ("says" before "say").
SPEECH_VERB_PATTERN = "|".join(sorted(SPEECH_VERBS, key=len, reverse=True))
_SAY = re.compile(rf"\b(?:{SPEECH_VERB_PATTERN}|according to)\b", re.IGNORECASE)
# Verbs whose speaker may follow them ("said Stoltenberg"); for the others a name after the
# verb is its object ("warned Russia", "told Reuters").
_INVERTIBLE = frozenset(
    _words("""said says added adds stated noted notes explained explains wrote writes replied
    replies recalled tweeted""")
) | {"according to"}
# Who speaks without being named: opening a sentence they are not a name to find ("Officials
# said"); any other capitalised word in a speaker's place is one ("…," Paris said).
_GENERIC_SPEAKERS = frozenset(
    _words("""officials authorities police witnesses experts researchers scientists residents
    analysts critics doctors prosecutors investigators sources reports observers officers
    lawyers organisers organizers protesters activists campaigners neighbours neighbors friends
    family relatives parents students teachers fans survivors victims rescuers locals
    government ministers leaders members staff workers employees spokesmen spokeswomen
    journalists reporters he she they it we i you someone everyone others""")
)
# "NAME, the minister, said"; "NAME's civil defence agency said"; "NAME officials said".
_APPOSITION = re.compile(r"^\s*,[^,.]{0,80},\s*$|^(?:['’]s)?(?:\s+[a-z]+){1,4}\s*$")


def _opens_clause(text: str, start: int) -> bool:
    """Nothing of its clause before `start`: the text before it ends a quote or clause, or is
    empty. Only there is "said NAME" an inversion ('…," said Stoltenberg'); after a subject
    the name begins what was said ("prosecutors said Barrientos married …")."""
    before = text[:start].rstrip()
    return not before or before[-1] in ",;:\"“”'’—–-("


def _speakers(text: str, names: list[Name]) -> list[Name]:
    """Names in a speaker's place: "NAME said", "NAME, the minister, said", "said NAME",
    "according to NAME"."""
    speakers: list[Name] = []
    for verb in _SAY.finditer(text):
        before = [n for n in names if n.end <= verb.start()]
        if before and verb.group().lower() != "according to":
            gap = text[before[-1].end : verb.start()]
            if not gap.strip() or _APPOSITION.match(gap):
                speakers.append(before[-1])
                continue
        after = [n for n in names if n.start >= verb.end()]
        according = verb.group().lower() == "according to"
        inverted = according or (
            verb.group().lower() in _INVERTIBLE and _opens_clause(text, verb.start())
        )
        if after and inverted and not text[verb.end() : after[0].start].strip(" ,the"):
            speakers.append(after[0])
    return [
        s if s.certain or _key(s.text) in _GENERIC_SPEAKERS else replace(s, certain=True)
        for s in dict.fromkeys(speakers)
    ]


# --- the facts of a text -------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    text: str
    names: tuple[Name, ...]
    numbers: tuple[Quantity, ...]
    dates: tuple[Quantity, ...]
    negations: tuple[Negation, ...]
    speakers: tuple[Name, ...]
    # Per sentence: its content stems and its speakers, so a claim's speaker is compared with
    # the speaker of the sentence it matches, not of its neighbour in a two-sentence unit.
    sentences: tuple[tuple[frozenset[str], tuple[Name, ...]], ...]
    words: frozenset[str]  # every word key, for names written in lower case or as a word
    stems: frozenset[str]  # content-word stems
    prefixes: frozenset[str]  # their first 5 letters (stems of 5+ letters)
    acronyms: frozenset[str]  # initials of the multi-word names ("unsc", "un")
    aliases: frozenset[str]


def facts(text: str) -> Facts:
    """The facts of a text: of each of its sentences, merged. A passage's sentences are the
    evidence units' sentences too (each unit is a sentence or two adjacent ones), so each
    sentence is tokenised once per answer, and not again while it stays in the cache."""
    return _facts(text)


def clear_caches() -> None:
    """Forget every cached extraction (benchmarks measure a cold start with it)."""
    for cached in (_facts, _sentence_facts, _spans, stem):
        cached.cache_clear()


@lru_cache(maxsize=4096)
def _facts(text: str) -> Facts:
    spans = _spans(text)
    if len(spans) <= 1:
        return _sentence_facts(text)
    return _merge(text, [(s.start, _sentence_facts(text[s.start : s.end])) for s in spans])


@lru_cache(maxsize=4096)
def _spans(text: str) -> tuple[Span, ...]:
    return tuple(evidence_spans(text))


@lru_cache(maxsize=16384)
def _sentence_facts(text: str) -> Facts:
    """The facts of one sentence (names, quantities, negation scopes and speakers never cross
    a sentence end, so a text's facts are its sentences' facts)."""
    tokens = _tokens(text)
    names = _names(text, tokens)
    numbers, years = _quantities(text)
    words = [t for t in tokens if t.kind in ("word", "acronym")]
    keys = [_key(t.text) for t in words]
    content = [
        (token, key) for token, key in zip(words, keys, strict=True) if key not in _STOP_WORDS
    ]
    stems = frozenset(
        stem(t.text) for t, key in content if key not in _NUMBER_WORDS_SET and len(t.text) > 1
    )  # number words are compared as numbers, not as words
    speakers = tuple(_speakers(text, names))
    # A name in a speaker's place is a name even where it opens the sentence.
    promoted = {replace(s, certain=False): s for s in speakers}
    names = [promoted.get(n, n) for n in names]
    # Elsewhere a lone capitalised word opening the sentence is only capitalised for being
    # first; when the lexicon writes it in lower case it names nothing ("Reportedly, …",
    # "High winds toppled …"): as an uncertain name it flagged faithful paraphrases.
    names = [n for n in names if n.certain or not is_common_word(n.text)]
    said = frozenset(stem(t.text) for t, _ in content if t.kind == "word")
    return Facts(
        text=text,
        names=tuple(names),
        numbers=tuple(numbers),
        dates=tuple(_dates(text, tokens, years)),
        negations=tuple(_negations(text, tokens)),
        speakers=speakers,
        sentences=((said, speakers),),
        words=frozenset(keys),
        stems=stems,
        prefixes=frozenset(s[:5] for s in stems if len(s) >= 5),
        acronyms=frozenset(_acronyms(names)),
        aliases=frozenset(a for n in names if (a := n.alias)),
    )


_Shiftable = TypeVar("_Shiftable", Quantity, Negation)


def _shifted(offset: int, found: tuple[_Shiftable, ...]) -> list[_Shiftable]:
    return [replace(q, start=q.start + offset) for q in found]


def _merge(text: str, parts: list[tuple[int, Facts]]) -> Facts:
    """One text's facts from its sentences' (each with its offset into the text)."""

    def names(offset: int, found: tuple[Name, ...]) -> tuple[Name, ...]:
        return tuple(replace(n, start=n.start + offset, end=n.end + offset) for n in found)

    sentences = tuple((said, names(o, who)) for o, f in parts for said, who in f.sentences)
    return Facts(
        text=text,
        names=tuple(n for o, f in parts for n in names(o, f.names)),
        numbers=tuple(q for o, f in parts for q in _shifted(o, f.numbers)),
        dates=tuple(q for o, f in parts for q in _shifted(o, f.dates)),
        negations=tuple(q for o, f in parts for q in _shifted(o, f.negations)),
        speakers=tuple(dict.fromkeys(s for _, who in sentences for s in who)),
        sentences=sentences,
        words=frozenset().union(*(f.words for _, f in parts)),
        stems=frozenset().union(*(f.stems for _, f in parts)),
        prefixes=frozenset().union(*(f.prefixes for _, f in parts)),
        acronyms=frozenset().union(*(f.acronyms for _, f in parts)),
        aliases=frozenset().union(*(f.aliases for _, f in parts)),
    )


def _acronyms(names: list[Name]) -> list[str]:
    found = []
    for name in names:
        keys = [k for k in name.keys if k]
        if len(keys) > 1:
            found.append("".join(k[0] for k in keys))
            found.append("".join(k[0] for k in keys[:2]))  # "UN" in "UN Security Council"
    return found


# --- comparing a claim with its evidence ---------------------------------------------------


def _word_found(key: str, evidence: Facts) -> bool:
    if key in evidence.words or key in evidence.acronyms:
        return True
    # Demonyms and inflections: "Russian" / "Russia", "Ukrainian" / "Ukraine".
    return len(key) >= 5 and any(w[:5] == key[:5] and len(w) >= 5 for w in evidence.words)


def name_found(name: Name, evidence: Facts) -> bool:
    alias = name.alias
    if alias is not None and (alias in evidence.aliases or alias in evidence.words):
        return True
    if all(_word_found(k, evidence) for k in name.keys):
        return True
    # First names may be left out of the evidence sentence: "Jens Stoltenberg" / "Stoltenberg".
    return len(name.keys) > 1 and _word_found(name.keys[-1], evidence) and name.certain


def _same_person(a: Name, b: Name) -> bool:
    """The same speaker: the same alias, or one name's words all in the other ("Stoltenberg",
    "Jens Stoltenberg", "NATO Secretary General Jens Stoltenberg"). Sharing a surname or some
    other word is not enough: "Hillary Clinton" is not "Bill Clinton", "US Najib Razak" not
    "the US State Department"."""
    if a.alias is not None and a.alias == b.alias:
        return True
    shorter, longer = sorted((set(a.keys), set(b.keys)), key=len)
    return shorter <= longer


def _nearest_name(claim: Name, evidence: Facts) -> str | None:
    if not evidence.names:
        return None
    return max(
        evidence.names,
        key=lambda n: difflib.SequenceMatcher(None, claim.text.lower(), n.text.lower()).ratio(),
    ).text


def _nearest_quantity(claim: Quantity, candidates: tuple[Quantity, ...]) -> str | None:
    if not candidates:
        return None
    same_kind = [c for c in candidates if (c.value < 0) == (claim.value < 0)] or list(candidates)
    return min(same_kind, key=lambda c: abs(c.value - claim.value)).text


@dataclass(frozen=True)
class Comparison:
    """The claim's facts missing from one evidence text."""

    names: list[Mismatch]  # certain names
    uncertain_names: int  # sentence-opening capitalised words not found
    numbers: list[Mismatch]
    dates: list[Mismatch]
    negations: list[Mismatch]
    attributions: list[Mismatch]

    @property
    def mismatches(self) -> list[Mismatch]:
        return [*self.attributions, *self.names, *self.numbers, *self.dates, *self.negations]


def compare(
    claim: Facts, evidence: Facts, passage: Facts | None = None, *, nearest: bool = True
) -> Comparison:
    """The claim's facts against one evidence unit. Names count as found anywhere in `passage`
    (the cited text the unit belongs to: a story names a person once, then says "he" or the
    surname); numbers, dates, negation and attribution are judged on the unit itself (a
    figure from another sentence of the passage is the commonest fusion error), and the
    nearest words come from it. `nearest=False` leaves a missing name's and negation's
    evidence None: the scorer needs only the counts, and finding the most similar name is
    most of a comparison's cost."""
    scope = passage or evidence
    names, uncertain = [], 0
    for name in claim.names:
        if name_found(name, scope):
            continue
        if name.certain:
            near = _nearest_name(name, evidence) if nearest else None
            names.append(Mismatch(kind="name", claim=name.text, evidence=near))
        else:
            uncertain += 1
    values = {q.value for q in evidence.numbers}
    numbers = [
        Mismatch(kind="number", claim=q.text, evidence=_nearest_quantity(q, evidence.numbers))
        for q in _distinct(claim.numbers)
        if q.value not in values
    ]
    days = {d.value for d in evidence.dates}
    dates = [
        Mismatch(kind="date", claim=d.text, evidence=_nearest_quantity(d, evidence.dates))
        for d in _distinct(claim.dates)
        if d.value not in days
    ]
    return Comparison(
        names,
        uncertain,
        numbers,
        dates,
        _negation(claim, evidence, nearest),
        _attribution(claim, evidence, scope),
    )


def _distinct(quantities: tuple[Quantity, ...]) -> list[Quantity]:
    return list({q.value: q for q in reversed(quantities)}.values())


def _overlaps(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a & b) or any(len(x) >= 5 and x[:5] == y[:5] for x in a for y in b)


def _negation(claim: Facts, evidence: Facts, nearest: bool = True) -> list[Mismatch]:
    """Polarity: what the claim negates must be negated in the evidence, and the reverse, for
    the words both share (negated words the evidence lacks are "missing", not negation)."""
    found: list[Mismatch] = []
    for cue in claim.negations:
        if not cue.scope or any(_overlaps(cue.scope, e.scope) for e in evidence.negations):
            continue
        if _overlaps(cue.scope, evidence.stems):
            near = _words_near(cue, evidence) if nearest else None
            found.append(Mismatch(kind="negation", claim=cue.text, evidence=near))
    for cue in evidence.negations:
        shared = cue.scope & claim.stems
        if len(shared) < min(2, len(cue.scope)) or not cue.scope:
            continue
        if any(_overlaps(cue.scope, c.scope) for c in claim.negations):
            continue
        found.append(
            Mismatch(kind="negation", claim=_claim_words(shared, claim), evidence=cue.text)
        )
    return found


def _words_near(cue: Negation, evidence: Facts) -> str | None:
    """The evidence words that say the negated thing without negating it."""
    tokens = _tokens(evidence.text)
    for i, token in enumerate(tokens):
        if token.kind == "word" and stem(token.text) in cue.scope:
            window = [token]
            for later in tokens[i + 1 : i + 8]:
                if later.kind == "stop":
                    break
                window.append(later)
            return evidence.text[window[0].start : window[-1].end]
    return None


def _claim_words(stems: frozenset[str], claim: Facts) -> str:
    spans = [t for t in _tokens(claim.text) if t.kind == "word" and stem(t.text) in stems]
    return claim.text[spans[0].start : spans[-1].end][:160] if spans else " ".join(sorted(stems))


def _attribution(claim: Facts, evidence: Facts, scope: Facts) -> list[Mismatch]:
    """The claim's speaker is in the passage, but someone else says it in the evidence (a
    speaker the passage does not name at all is a "name" mismatch)."""
    if not evidence.speakers or not claim.speakers:
        return []
    # What is said, without who says it: "The US embassy said 238 were injured" is about the
    # injured, whoever the evidence's other sentence quotes.
    said = claim.stems - {stem(k) for s in claim.speakers for k in s.keys}
    words, speakers = max(evidence.sentences, key=lambda s: len(s[0] & said))
    return [
        Mismatch(kind="attribution", claim=speaker.text, evidence=speakers[0].text)
        for speaker in claim.speakers
        if speakers
        and name_found(speaker, scope)
        and not any(_same_person(speaker, e) for e in speakers)
        and not _generic_in(speaker, words)
    ]


def _generic_in(speaker: Name, words: frozenset[str]) -> bool:
    """A generic speaker ("Prosecutors said …") that the evidence sentence itself mentions:
    there it is written in lower case ("prosecutors said …"), so it is no name beside the
    sentence's named sources ("according to The New York Daily News"), yet the same speaker."""
    key = _key(speaker.text)
    return key in _GENERIC_SPEAKERS and stem(key) in words


def missing_words(claim: Facts, evidence: Facts) -> list[str]:
    """The claim's content words not in the evidence (for a "missing" explanation)."""
    seen: list[str] = []
    for token in _tokens(claim.text):
        if token.kind != "word" or _key(token.text) in _STOP_WORDS or len(token.text) < 2:
            continue
        if not _overlaps(frozenset({stem(token.text)}), evidence.stems):
            seen.append(token.text)
    return list(dict.fromkeys(seen))

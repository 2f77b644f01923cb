"""Whether a sentence holds the answer's *slot*, not just something of the asked-for kind.

A story about the question's people and event is full of numbers, names and dates; most of them
answer other questions. "How old was Ron Lane?" is not answered by "Stancil's 16-year-old
brother", "Who is the captain of the Houston Express?" not by "Frank Jordan thanked the captain
of the Houston Express", "What did the school principal say?" not by "Ledbetter says school
principals are now required ...". So, beyond the kind of answer (extractive.answers_kind):

- the *shape* of a number: "how old" wants an age, "how long" a duration or length, "how far"
  a distance, "what proportion" a share, "how many jobs" a number counting jobs;
- an age belongs to the person asked about, not to someone else named beside it;
- "who is the ROLE?" wants a name in apposition to the role ("chief executive John Walden",
  "Leigh Wolmarans, the head teacher");
- "what did X say?" wants X as the one who speaks (subject of "said", or "said X.");
- "why" wants a sentence that gives a reason ("because", "over the risk", "would have
  escalated"), and a sentence that says the thing is not known or not told answers nothing.

Everything is read off the sentence's tokens, linear in its length; no model is asked."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from bm25s.stopwords import STOPWORDS_EN

from newsdesk.generation.facts import SPEECH_VERBS, is_common_word, lemma
from newsdesk.retrieval.dates import MONTHS

Shape = Literal["age", "duration", "distance", "share", "weight", "result", "count"]

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.,%-]*[A-Za-z0-9%]|[A-Za-z0-9]|[^\sA-Za-z0-9]")
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|"
    "ninety|hundred|hundreds|thousand|thousands|million|millions|billion|billions|dozen|dozens"
)
_NUMERAL = re.compile(rf"^(?:\d[\d,.]*(?:m|bn|k|%)?|{_NUMBER_WORDS})$", re.IGNORECASE)
_YEAR = re.compile(r"^(?:1[5-9]\d\d|20\d\d)$")
_TIME_UNIT = (
    r"(?:second|minute|hour|day|night|week|fortnight|month|year|decade|century|centuries)s?"
)
_LENGTH_UNIT = (
    r"(?:km|kilomet(?:re|er)s?|miles?|m|met(?:re|er)s?|ft|feet|foot|yards?|inch(?:es)?|cm|mm)"
)
_QUANTITY = rf"(?:\d[\d,.]*|{_NUMBER_WORDS}|a|an|several|few)"
_DURATION = re.compile(
    rf"\b{_QUANTITY}[\s-]+(?:(?:and a half|or so|more|full|long)\s+)?{_TIME_UNIT}\b"
    rf"|\b\d[\d,.]*\s*{_LENGTH_UNIT}\b|\b(?:life|lifetime)\b",
    re.IGNORECASE,
)
_DISTANCE = re.compile(
    rf"\b\d[\d,.]*\s*-?\s*{_LENGTH_UNIT}\b|\b(?:{_NUMBER_WORDS})\s+{_LENGTH_UNIT}\b", re.IGNORECASE
)
_WEIGHT = re.compile(
    rf"\b(?:\d[\d,.]*|{_NUMBER_WORDS})\s*-?\s*(?:kg|kilo(?:gram|gramme)?s?|g|grams?|grammes?|"
    r"tonnes?|tons?|lbs?|pounds?|stones?|st|ounces?|oz)\b",
    re.IGNORECASE,
)
_MONTH_NAMES = "|".join(MONTHS)  # names and abbreviations
# A date's numbers ("on 9 May", "May 9th", "until 2023") are numbers but count nothing.
DATE_NUMBERS = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH_NAMES})\b"
    rf"|\b(?:{_MONTH_NAMES})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
    r"|\b(?:in|since|until|till|by|from|to|before|after|of)\s+(?:1[5-9]\d\d|20\d\d)\b",
    re.IGNORECASE,
)
_FUSED = re.compile(rf"\b(\d[\d,.]*|{_NUMBER_WORDS})-([A-Za-z]{{3,}})\b", re.IGNORECASE)
# A match's result: two scores joined by a dash ("2-1", "3–3", "two-nil"); years are longer.
_RESULT = re.compile(
    rf"\b(?:\d{{1,3}}|nil|{_NUMBER_WORDS})\s*[-–]\s*(?:\d{{1,3}}|nil|{_NUMBER_WORDS})\b",
    re.IGNORECASE,
)
_SHARE = re.compile(
    r"\b\d[\d,.]*\s*(?:%|per ?cent|percent)|\b(?:half|third|thirds|quarter|quarters|fifth|"
    r"majority|minority)\b",
    re.IGNORECASE,
)
_AGE = re.compile(
    rf"\b(?:\d{{1,3}}|{_NUMBER_WORDS})[\s-]+(?:year|month|week)s?[\s-]+old\b|\baged?\s+\d{{1,3}}\b"
    # ", 51," after a name; not the thousands of "$175,000."
    r"|(?<!\d),\s*\d{1,3}\s*,|(?<!\d),\s*\d{1,3}\s*(?:[.;]|$)|\(\d{1,3}\)"
    r"|\bat the age of \d{1,3}\b",
    re.IGNORECASE,
)
# People an age (or a role) may belong to instead of the one asked about.
PERSON_NOUNS = {
    "man", "woman", "men", "women", "boy", "girl", "child", "children", "son", "daughter",
    "father", "mother", "brother", "sister", "wife", "husband", "friend", "baby", "toddler",
    "teenager", "student", "driver", "victim", "suspect", "player", "partner", "grandmother",
    "grandfather", "uncle", "aunt", "nephew", "niece", "cousin", "girlfriend", "boyfriend",
}  # fmt: skip

_POSSESSIVE = {"her", "his", "their", "its", "my", "our", "your"}

HOW_MUCH_OF = r"\bhow much of (?:the|its|their|his|her|our|this|that)\b"
# "How much" that is not money ("how much weight") falls back to any number.
_SHAPES: tuple[tuple[re.Pattern[str], Shape], ...] = (
    # "By what score did United win?", "What was the final score?": a match's result ("2-1",
    # "6-3 6-1"), not any number. Not "what score did he card" (a round of golf) nor
    # "Gloucestershire's score at the close" (an innings).
    (
        re.compile(
            r"\bby what (?:score|scoreline)\b"
            r"|\bwhat (?:was|is|were) the (?:final |half-time |full-time )?score(?:line)?\b"
        ),
        "result",
    ),
    (re.compile(r"\bhow old\b|\bwhat age\b|\bat what age\b"), "age"),
    (re.compile(r"\bhow long\b|\bfor how long\b"), "duration"),
    (re.compile(r"\bhow (?:far|tall|high|deep|wide)\b"), "distance"),
    (
        re.compile(
            r"\b(?:what|which) (?:proportion|percentage|fraction|share|per ?cent)\b|\bwhat %"
            # "How much of the money will go to charity?": a portion ("half the proceeds").
            rf"|{HOW_MUCH_OF}"
        ),
        "share",
    ),
    # "How heavy is it?", "How much did it weigh?": a mass, not any number.
    (
        re.compile(r"\bhow heavy\b|\bhow much (?:\w+ ){0,6}?weigh(?:s|ed)?\b|\bwhat weight\b"),
        "weight",
    ),
    # "How many years had she been teaching?" counts time: a duration in that unit.
    (re.compile(rf"\bhow many {_TIME_UNIT}\b"), "duration"),
    (re.compile(r"\bhow many\b"), "count"),
)


def number_shape(question: str) -> Shape | None:
    q = question.lower()
    for pattern, shape in _SHAPES:
        if pattern.search(q):
            return shape
    return None


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.replace("’", "'"))


def has_shape(
    sentence: str,
    shape: Shape,
    question: str,
    asked: Callable[[str], bool],
    counted: Callable[[str], bool] | None,
) -> bool:
    """Whether the sentence holds a number of the asked shape that the question lacks.
    `asked(word)`: the word is one of the question's; `counted(word)`: it names what "how
    many" counts (None when the question counts people or things in general)."""
    q = question.lower()
    if shape == "age":
        names = bool(re.search(r"\s[A-Z]", question))
        # "How old are the Christies' children?": the children's age, not Mrs Christie's.
        relative = _OWNED_PERSON.search(question)
        theirs = _is_person_noun(relative.group(1)) if relative else asked
        return any(_age_is_theirs(sentence, m, theirs, names) for m in _AGE.finditer(sentence))
    if shape == "duration":
        return any(_is_duration(sentence, m, q) for m in _DURATION.finditer(sentence))
    if shape == "result":
        return any(m.group(0) not in q for m in _RESULT.finditer(sentence))
    if shape in ("distance", "share", "weight"):
        pattern = {"distance": _DISTANCE, "share": _SHARE, "weight": _WEIGHT}[shape]
        return any(m.group(0).lower() not in q for m in pattern.finditer(sentence))
    # "the 16-storey tower", "a three-match ban": the number and what it counts, fused.
    words = tokens(_FUSED.sub(r"\1 \2", DATE_NUMBERS.sub(" ", sentence)))
    numbers = [
        i
        for i, w in enumerate(words)
        if _NUMERAL.match(w) and not _YEAR.match(w) and w.lower() not in q.split()
    ]
    if counted is None:
        return bool(numbers)
    # The number counts the asked thing: "7,000 classrooms", "more than 60,000 security
    # staff", "the death toll rose to 107" (the counted word shortly before it), or is what
    # the asked verb did: "How many runs did Root score?" — "after scoring 254".
    return any(
        any(counted(w) for w in words[i + 1 : i + 5])
        or any(counted(w) for w in words[max(0, i - 4) : i])
        or (i > 0 and words[i - 1].isalpha() and words[i - 1].islower() and asked(words[i - 1]))
        for i in numbers
    )


def _is_duration(sentence: str, match: re.Match[str], question: str) -> bool:
    """A duration the question lacks, not an age ("nine months old"), in the unit of "how
    many years ...?" when it asks in one."""
    said = match.group(0).lower()
    if said in question or re.match(r"[\s-]*old\b", sentence[match.end() :]):
        return False
    unit = re.search(rf"\bhow many ({_TIME_UNIT})", question)
    return unit is None or unit.group(1).rstrip("s") in said


def sum_is_theirs(sentence: str, amount: re.Pattern[str], said: Callable[[str], bool]) -> bool:
    """A sum answers "how much profit did Lloyds make?" only near the question's money word
    when the sentence has one ("returned to profit ... recouping some of the £46billion
    bailout" does not); a sentence without one may hold the sum alone ("It cost $5")."""
    words = tokens(sentence)
    where = [i for i, w in enumerate(words) if said(w)]
    if not where:
        return True
    for match in amount.finditer(sentence):
        at = len(tokens(sentence[: match.start()]))
        if any(abs(at - i) <= 6 for i in where):
            return True
    return False


def _age_is_theirs(
    sentence: str, match: re.Match[str], asked: Callable[[str], bool], names: bool
) -> bool:
    """An age answers "how old was X" unless it sits by someone else: a name or a person noun
    the question does not use ("Gary Green, 51", "Stancil's 16-year-old brother")."""
    before = tokens(sentence[: match.start()])[-3:]
    after = tokens(sentence[match.end() :])[:3]
    if any(asked(w) for w in after):
        return True  # "their nine-month-old child, Gloria"
    if before and (before[-1].lower() in _POSSESSIVE or before[-1].lower().endswith("'s")):
        return False  # "her 12-year-old son", "Stancil's 16-year-old brother": a relative's
    near = [w for w in [*before, *after[:2]] if w[:1].isalnum()]
    if any(asked(w) for w in near):
        return True
    # A name beside the age is someone else's only if the question names its person.
    others = [
        w
        for w in near
        if (names and w[0].isupper() and not _is_first(sentence, w)) or w.lower() in PERSON_NOUNS
    ]
    return not others


_OWNED_PERSON = re.compile(
    r"\w(?:'s|s'|’s|s’)\s+(" + "|".join(sorted(PERSON_NOUNS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)


def _is_person_noun(noun: str) -> Callable[[str], bool]:
    """A test for a sentence word naming the same people as `noun` ("child" / "children")."""
    asked = lemma(noun.lower())
    return lambda word: lemma(word.lower()) == asked


def _is_first(sentence: str, word: str) -> bool:
    return sentence.lstrip("\"“'‘(").startswith(word)


_ROLE_QUESTION = re.compile(
    r"^who (?:is|was|are|were|will be|has been) (?:the |a |an )?(?P<role>.+?)"
    r"(?:\s+(?:of|at|for|in|on|behind)\s+.*)?\s*\?*$",
    re.IGNORECASE,
)


# Which-questions that ask for a person by role ("Which teacher reported ...?").
ROLES = {
    "teacher", "official", "officer", "columnist", "judge", "minister", "spokesman",
    "spokeswoman", "spokesperson", "player", "coach", "manager", "director", "president",
    "leader", "mayor", "governor", "lawyer", "attorney", "prosecutor", "editor", "reporter",
    "journalist", "author", "doctor", "scientist", "researcher", "professor", "driver", "pilot",
    "captain", "candidate", "politician", "executive", "secretary", "chairman", "founder",
    "owner", "referee", "striker", "goalkeeper", "singer", "actor", "actress", "senator", "MP",
}  # fmt: skip
_WHICH_ROLE = re.compile(r"^(?:which|what) (\w+)\b", re.IGNORECASE)


def role_asked(question: str) -> list[str]:
    """The role of "Who is the chief executive of RBS?" ("chief executive"), "Who is
    Alshammari's attorney?" ("attorney"), "Which teacher reported ...?" ("teacher"); [] for
    other questions."""
    which = _WHICH_ROLE.match(question.strip())
    if which and which.group(1).lower() in ROLES:
        return [which.group(1)]
    match = _ROLE_QUESTION.match(question.strip())
    if not match:
        return []
    role = match.group("role")
    role = re.sub(r"^.*?['’]s\s+", "", role)  # "Alshammari's attorney" → "attorney"
    words = [w for w in tokens(role) if w[:1].isalpha()]
    articled = re.match(r"^who \w+(?: be| been)? (?:the|a|an) ", question.strip(), re.IGNORECASE)
    possessive = "'" in match.group("role") or "’" in match.group("role")
    # "Who was rescued ...?" is a passive, not a role: without an article (or a possessive)
    # only a known role noun makes one ("Who is president of ...?").
    if not (articled or possessive) and (
        not words or words[0].lower() not in {r.lower() for r in ROLES}
    ):
        return []
    return words


_NAME = re.compile(r"\b[A-Z][a-zA-Z'’-]+(?:\s+(?:[A-Z][a-zA-Z'’.-]*|de|van|von|al|bin))+")


def role_owner(question: str) -> str | None:
    """Whose role "Who is Alshammari's attorney?" asks for ("Alshammari"): the role is
    someone's, not any attorney's."""
    match = _ROLE_QUESTION.match(question.strip())
    owner = re.match(r"(.+?)['’]s\s", match.group("role")) if match else None
    return owner.group(1) if owner else None


def role_owned(
    sentence: str,
    is_role: Callable[[str], bool],
    is_owner: Callable[[str], bool],
    in_role: Callable[[str], bool] = lambda _: False,
) -> bool:
    """Whether the role in the sentence may be the owner's: a possessive or the owner just
    before it ("his attorney", "Alshammari's defence lawyer", "Italian Education Minister"),
    or no one else's ("Minister of Education Stefania Giannini", "Deputy Foreign Minister
    Faisal al-Mekdad": `in_role` words are the role's own) — not "Deputy Utah County
    Attorney Craig Johnson" for "Alshammari's attorney"."""
    words = tokens(sentence)
    for i, word in enumerate(words):
        if is_role(word):
            before = words[max(0, i - 3) : i]
            if any(w.lower() in _POSSESSIVE or w.endswith("'s") or is_owner(w) for w in before):
                return True
            start = max(0, i - 3)
            others = [
                w
                for j, w in enumerate(before, start)
                # A sentence's first word is capitalised anyway ("The"), unless it is a name
                # ("Turkish Foreign Minister ...").
                if w[:1].isupper() and not in_role(w) and (j > 0 or not is_common_word(w))
            ]
            if not others:
                return True
    return False


def named_in_role(
    sentence: str, role: list[Callable[[str], bool]], asked: Callable[[str], bool]
) -> bool:
    """Whether a name stands in apposition to the role — every word of it ("foreign minister"
    is not "Prime Minister") —: "ROLE NAME" ("council leader Dave Stewart"), "ROLE, NAME",
    "NAME, (the) ... ROLE", "NAME is/was the ROLE". `role`: one test per role word."""
    for match in _NAME.finditer(sentence):
        words = match.group(0).split()
        if len([w for w in words if not asked(w)]) < 2:
            continue  # the question's own name, or one capitalised word
        before = tokens(sentence[: match.start()])[-4:]
        if before[-1:] == [","]:
            # "the Crown prosecutor, Mark Tedeschi"; and a role with its own clause before the
            # name: "The captain of the trawler that sank in the North Sea, Tomas Eriksen, ..."
            subject = tokens(sentence[: match.start()])[:-1]
            if "," not in subject and ";" not in subject and len(subject) <= 15:
                before = subject
            else:
                before = before[:-1]
        # "Chief Magistrate Ray Rinaudo": the title may be part of the capitalised run.
        window = [*before, *words[:-1]]
        if all(any(is_role(w) for w in window) for is_role in role):
            return True
        after = tokens(sentence[match.end() :])[:9]
        if after and after[0] in {",", "is", "was", "("}:
            clause = []
            # "Sir Peter Blake, who is now the prize's patron, ...": the role in a relative
            # clause about the name.
            rest = after[1:]
            if rest[:1] == ["who"] and rest[1:2] and rest[1] in {"is", "was", "has", "had"}:
                rest = rest[2:]
            for word in rest:
                if word in {",", ".", ";", ")"} or word.lower() in {"said", "says", "who"}:
                    break
                clause.append(word)
            if all(any(is_role(w) for w in clause) for is_role in role):
                return True
    return False


_BE = {"was", "were", "is", "are", "be", "been", "being"}


def doer_named(sentence: str, is_verb: Callable[[str], bool]) -> bool:
    """Whether the sentence can name who did the asked thing ("who posted the bail?"): the
    verb in the active voice, or a passive with its "by": "$100,000 in bail was posted for
    him" names no one who posted it."""
    words = tokens(sentence)
    uses = [i for i, w in enumerate(words) if is_verb(w)]
    for i in uses:
        passive = any(w.lower() in _BE for w in words[max(0, i - 2) : i])
        if not passive or _agent_follows(words[i + 1 : i + 1 + _AGENT_WINDOW]):
            return True
    return not uses


# Words after a passive verb in which its "by" may come: "Wales were knocked out of the
# World Cup by South Africa" puts a phrase between them.
_AGENT_WINDOW = 10


def _agent_follows(after: list[str]) -> bool:
    """Whether a "by" follows within the clause."""
    for word in after:
        if word in {",", ".", ";", ":"}:
            return False
        if word.lower() == "by":
            return True
    return False


def speaker_speaks(sentence: str, is_speaker: Callable[[str], bool]) -> bool:
    """Whether the speaker asked about is the one who speaks here: their word shortly before a
    speech verb ("Mr Stewart said", "the spokeswoman added: ...") or right after it, closing
    the clause ("..., said the mayor.")."""
    words = tokens(sentence)
    for i, word in enumerate(words):
        if word.lower() not in SPEECH_VERBS:
            continue
        before = words[max(0, i - 4) : i]
        # The speaker ends the noun phrase before the verb: "council leader Dave Stewart said".
        if any(is_speaker(w) for w in before) and not any(w in {".", ";", "that"} for w in before):
            return True
        after = words[i + 1 : i + 6]
        for j, w in enumerate(after):
            if is_speaker(w):
                # "..., said the mayor, Joe Bloggs." — not "said victim Ron Lane was gay",
                # where the speaker's words are the subject of what is said.
                rest = [r for r in words[i + 2 + j :] if not (r[0].isupper() or is_speaker(r))]
                if not rest or rest[0] in {".", ",", ";", ":", "'", '"', "”", "(", "-", "–"}:
                    return True
    return False


_REASON = re.compile(
    r"\b(?:because|due to|owing to|as a result|result(?:ed|ing)? (?:from|in)|since|after|"
    r"following|over (?:the )?(?:risk|fear|concern|claim|allegation)s?|amid|citing|cited|"
    r"in order to|so that|so as to|to (?:avoid|prevent|protect|ensure|stop|allow)|for fear|"
    r"in (?:recognition|response|protest) (?:of|to|at|against)|reason|why|caus(?:e|es|ed|ing)|blamed?|"
    r"would (?:have |be |require|mean|lead|cause|risk|escalate|put)|could (?:have |lead|cause)|"
    r"explained|attributed|led to|triggered|sparked|prompted|poor|failed|failure|lack of)\b",
    re.IGNORECASE,
)
_UNKNOWN = re.compile(
    r"\b(?:declined to (?:comment|say|give|reveal|confirm|discuss)|would not (?:comment|say|"
    r"reveal|confirm|discuss|give)|could not be (?:reached|contacted)|did not (?:say|give|"
    r"reveal|disclose|specify|explain)|(?:remains?|is|was|are|were|not) (?:still )?"
    r"(?:undetermined|unknown|unclear|not known|not clear|a mystery)|no (?:details|"
    r"explanation|reason) (?:was|were|has been|have been) (?:given|released|offered))\b",
    re.IGNORECASE,
)


def asks_reason(question: str) -> bool:
    return bool(re.match(r"\s*why\b", question.lower())) or asks_cause(question)


_CAUSE_QUESTION = re.compile(
    r"\s*what\s+(?:(?:has|had|might have|may have)\s+)?(?:caused|causes|cause|led to|leads to|"
    r"prompted|triggered|sparked|was behind|is behind)\b"
    r"|\s*what\s+(?:is|was|were|are)\s+the\s+(?:cause|causes|reason|reasons|motive)\b",
    re.IGNORECASE,
)
# The words of "what caused ...?" that ask for the reason rather than name the asked thing.
CAUSE_WORDS = {"cause", "caused", "causes", "led", "lead", "leads", "prompted", "triggered",
               "sparked", "reason", "reasons", "motive", "behind"}  # fmt: skip


def asks_cause(question: str) -> bool:
    """ "What caused the fire?", "What led to ...?", "What was the reason for ...?": a "why"
    question in other words."""
    return bool(_CAUSE_QUESTION.match(question))


# Reason words that are verbs of causing: "R caused X", "X was caused by R".
_CAUSING = re.compile(
    r"^(?:caus\w*|led to|triggered|sparked|prompted|result(?:ed|ing)? in)$", re.IGNORECASE
)
_CALENDAR = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "yesterday", "today", "tomorrow", "last", "week", "month", "year",
}  # fmt: skip


# What "what caused X?" accepts as a cause: not a purpose ("to protect"), a modal ("could
# have") or a bare time ("after"), unless the time clause opens the asked event ("the stampede
# began when ...", "the fire broke out after ...").
_CAUSE = re.compile(
    r"^(?:because|due to|owing to|as a result|result(?:ed|ing)? (?:from|in)|blamed?|"
    r"attributed|caus\w*|led to|triggered|sparked|prompted|reason|lack of|failure|failed|poor)$",
    re.IGNORECASE,
)
_ONSET = re.compile(
    r"\b(?:began|begun|started|broke out|erupted|happened|occurred|came|took place)\s+"
    r"(?:when|after|as)\b",
    re.IGNORECASE,
)


def gives_cause(sentence: str, asked: Callable[[str], bool]) -> bool:
    """A reason that is a cause (for "what caused X?"): a causal word, or the asked event's
    onset followed by what set it off."""
    for onset in _ONSET.finditer(sentence):
        before = [w for w in tokens(sentence[: onset.start()])[-4:] if w[:1].isalnum()]
        after = [w for w in tokens(sentence[onset.end() :])[:5] if w[:1].isalnum()]
        if any(asked(w) for w in before) and any(_new(w, asked) for w in after):
            return True
    causal = [m for m in _REASON.finditer(sentence) if _CAUSE.match(m.group(0))]
    return any(_reason_at(sentence, m, asked) for m in causal)


def gives_reason(sentence: str, asked: Callable[[str], bool]) -> bool:
    """Whether the sentence gives a reason: a reason word followed by something the question
    does not already say ("after Bob Bradley's sacking" restates "why was Bradley sacked?"; "on
    2 March" is a date, not a reason). A verb of causing must point at the asked thing: "a
    storm caused the crane to fall", "the fire was caused by a heater" — not "the blaze ...
    caused travel delays", which gives an effect."""
    return any(_reason_at(sentence, m, asked) for m in _REASON.finditer(sentence))


def _reason_at(sentence: str, match: re.Match[str], asked: Callable[[str], bool]) -> bool:
    following = [w for w in tokens(sentence[match.end() :])[:5] if w[:1].isalnum()]
    if not _CAUSING.match(match.group(0)):
        return any(_new(w, asked) for w in following)
    if following[:1] and following[0].lower() == "by":
        return any(_new(w, asked) for w in following[1:])
    preceding = [w for w in tokens(sentence[: match.start()])[-6:] if w[:1].isalnum()]
    # "R caused the fire": the asked thing is what was caused, not a modifier of it ("resulted
    # in our fire safety officers conducting ...").
    after = tokens(sentence[match.end() :])[:8]
    while after and after[0].lower() in _FUNCTION_WORDS:
        after = after[1:]
    head = after[:1] and asked(after[0]) and not (after[1:2] and _new(after[1], asked))
    return bool(head) and any(_new(w, asked) for w in preceding)


def _new(word: str, asked: Callable[[str], bool]) -> bool:
    """A word that can say something the question did not: not one of its own, not a
    function word, not a date or a number."""
    low = word.lower()
    return word[:1].isalpha() and not (asked(word) or low in _FUNCTION_WORDS or low in _CALENDAR)


_FUNCTION_WORDS = set(STOPWORDS_EN) | {"off", "up", "out", "down", "away", "over", "back"}


# "The Russian official accused of attacking the rapper has not been identified": who it is
# is not told, whatever role the sentence names.
_UNNAMED = re.compile(
    r"\b(?:has|have|had|was|were|is|are) (?:not|yet to be|still not) (?:yet )?(?:been )?"
    r"(?:identified|named)\b|\b(?:unnamed|unidentified)\b",
    re.IGNORECASE,
)


def names_no_one(sentence: str) -> bool:
    """A sentence that says who it is has not been told ("has not been named")."""
    return bool(_UNNAMED.search(sentence))


def says_unknown(sentence: str) -> bool:
    """A sentence that says the thing is not known or not told ("The cause of the fire remains
    undetermined", "would not comment on the number ... of the bids") answers nothing."""
    return bool(_UNKNOWN.search(sentence))


# A straight quote after the stop may open the next sentence or close this one: split before
# it; a closing curly quote stays with its sentence.
_GLUED = re.compile(r"(?<=[a-z0-9)%][.!?])(?=[\"“]?[A-Z])|(?<=[a-z0-9)%][.!?]”)(?=[A-Z])")
# A feed's boilerplate glued to the story without a stop: "... on this deviceSadio Mane
# scored", "Copy this linkHarry Whitlam died" (a lowercase word run into a capitalised one;
# not "MetroHealth", "iPhone").
_GLUED_WORDS = re.compile(r"(?<![\w'’-])([a-z]{4,})(?=[A-Z][a-z]*\s)")


# Picture captions run into the story with no stop at all: "... with 28 minutes In Belgium's
# 1-0 win ... on Tuesday night The 24-year-old playmaker ...". In an overlong "sentence", a
# word that opens sentences, capitalised right after a lower-case word, starts a new one.
_RUN_ON_WORDS = 40
_RUN_ON = re.compile(
    r"(?<=[a-z0-9] )(?=(?:The|A|An|He|She|It|They|We|His|Her|Their|Its|In|On|At|After|But|"
    r"However|This|That|These|Those|There|When|While|Scroll)\s)"
)


def unglued(sentence: str) -> list[str]:
    """A sentence split where its source lost the space after a full stop ("... the
    ferry.Since launching ..."), or the stop itself between captions: such feeds glue whole
    paragraphs into one "sentence", which then holds some number, name and date for every
    question."""
    sentence = _GLUED_WORDS.sub("\\1\n", sentence)
    parts = [p.strip() for part in sentence.split("\n") for p in _GLUED.split(part)]
    found = []
    for part in parts:
        if len(part.split()) > _RUN_ON_WORDS:
            found += [p.strip() for p in _RUN_ON.split(part)]
        else:
            found.append(part)
    return [p for p in found if p]

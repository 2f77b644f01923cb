"""News wording for the same thing: the word lists the extractive rules compare words with.

A question and its story often name the asked thing differently ("bought" / "sold to",
"weaknesses" / "vulnerabilities", "the first quarter" / "the first three months"). Word
embeddings cannot tell such pairs from merely related words (injured~wounding 0.57 <
mayor~governor 0.66 with MiniLM), so the common ones are listed here; each group counts as
one word. Roles stay apart where they differ (a story with a governor has no mayor); a role
and the verb of doing it are one ("who manages QPR?" / "QPR boss Chris Ramsey")."""

from __future__ import annotations

import re

from newsdesk.generation import answer_slots

# The same news event in different words: required of a story whenever a question names it.
SAME_EVENT: tuple[tuple[str, ...], ...] = (
    ("injure", "injured", "injury", "injuries", "wound", "wounded", "wounding", "hurt"),
    ("kill", "killed", "killing", "die", "died", "dead", "death", "deaths", "fatality"),
    ("drown", "drowned", "drowning"),
    ("arrest", "arrested", "detain", "detained", "detention"),
    ("evacuate", "evacuated", "evacuation"),
    ("resign", "resigned", "resignation", "quit"),
    # A sale seen from either side: "who bought Homebase?" / "sold Homebase to Wesfarmers".
    ("buy", "bought", "purchase", "purchased", "acquire", "acquired", "acquisition", "sell",
     "sold", "takeover"),
    ("beat", "defeat", "defeated", "overcame", "overcome"),
    ("score", "scored", "scorer", "goal", "goals", "netted"),
)  # fmt: skip

# The same thing under its common news names ("the vessel that rescued him" / "the ship"):
# one key per group, not required of a story for being named.
SAME_THING: tuple[tuple[str, ...], ...] = (
    ("vessel", "ship", "boat"),
    ("vehicle", "car"),
    ("firm", "company"),
    ("staff", "personnel", "employees", "workers"),
    ("lawyer", "attorney", "solicitor", "barrister"),
    ("author", "writer"),
    ("sentence", "sentenced", "jail", "jailed", "imprisoned", "imprisonment"),
    ("film", "movie"),
    ("weakness", "weaknesses", "vulnerability", "vulnerabilities", "flaw", "flaws"),
    ("member", "members", "membership", "belong", "belongs"),
    ("preferred", "favourite", "favorite"),
    ("shop", "shops", "store", "stores", "shopkeeper"),
    ("fire", "blaze", "flames"),
    ("quarter", "quarterly"),
    ("british", "brits", "briton", "britons"),
    # A role and the verb of doing it.
    ("manager", "manage", "manages", "managed", "boss"),
    ("owner", "own", "owns", "owned"),
    ("leader", "lead", "leads", "led"),
    ("chairman", "chair", "chairs", "chaired", "chairwoman", "chairperson"),
    ("editor", "edit", "edits", "edited"),
    # Speaking, however the story words it: "who spoke about the protest?" / "Bentham said".
    ("say", "said", "says", "speak", "speaks", "spoke", "spoken", "comment", "comments",
     "commented", "tell", "tells", "told", "remark", "remarked"),
)  # fmt: skip

# Phrases that name one of the words above, rewritten to it before words are compared.
_PHRASES = (
    (re.compile(r"\b(first|second|third|fourth|final|last) three months\b", re.I), r"\1 quarter"),
    (re.compile(r"\b(?:first|top) choice\b", re.I), "preferred"),
    (re.compile(r"\bpick(?:s|ed|ing)? up\b", re.I), "learn"),
    # The loser's side of a defeat: "lost to Novak Djokovic" answers "who beat Nadal?".
    (re.compile(r"\b(?:lost|lose|loses|losing) to\b", re.I), "beaten by"),
    # A scoreline ("6-3 6-1", "2-1") is the score of a match.
    (re.compile(r"\b\d{1,2}-\d{1,2}\b(?!-)"), "score"),
)


def rewritten(text: str) -> str:
    """The text with the listed phrases put in their one-word form (a scoreline is kept and
    "score" added, so the number stays an answer)."""
    for pattern, word in _PHRASES:
        if word == "score":
            text = pattern.sub(lambda m: f"{m.group(0)} score", text)
        else:
            text = pattern.sub(word, text)
    return text


# "What is the name of the man who ...?" asks who he is: the same question as "Who is the man
# who ...?", and answered the same way (a name for that person, not any name in the story).
_NAME_OF_PERSON = re.compile(
    r"^what(?:'s|’s| is| was) the name of (?P<whose>the |an? |[A-Z][\w’'-]*(?:'s|’s) )"
    r"(?P<head>\w+)",
    re.IGNORECASE,
)
# Nouns for a person ("the man", "the mayor", "the gunman"): the name of one is asked as who.
_PERSON_HEADS = (
    answer_slots.PERSON_NOUNS
    | {r.lower() for r in answer_slots.ROLES}
    | {
        "person", "officer", "guard", "gunman", "soldier", "worker", "resident", "witness",
        "passenger", "rapper", "writer", "artist", "boss", "chief", "nurse", "firefighter",
        "prisoner", "inmate", "attacker", "killer", "neighbour", "pupil", "patient",
    }
)  # fmt: skip


_COUNTED_CHOICE = re.compile(
    r"\b(which|what)\s+(?:two|three|four|five|six|seven|eight|nine|ten|\d{1,2})\s+(?=[a-z])",
    re.IGNORECASE,
)


def asked_form(question: str) -> str:
    """The question in the form the rules read: "what is the name of <a person>" as "who is
    <the person>" (the tense kept), "which two teams" as "which teams"; other questions
    unchanged."""
    # "Which two teams beat Villa?": the count says how many answers, not a word the story
    # uses ("Villa lost to Manchester United and Chelsea").
    question = _COUNTED_CHOICE.sub(r"\1 ", question)
    match = _NAME_OF_PERSON.match(question.strip())
    # The person noun may come after a modifier or two: "the Russian official", "the
    # 24-year-old man".
    described = question.strip()[match.start("head") :].split()[:3] if match else []
    if match is None or not any(word.lower().strip("?,") in _PERSON_HEADS for word in described):
        return question
    verb = "was" if re.match(r"^what was\b", question.strip(), re.IGNORECASE) else "is"
    whose = match.group("whose")
    whose = "the " if whose.strip().lower() in ("a", "an") else whose
    return f"Who {verb} {whose}{question.strip()[match.start('head') :]}"

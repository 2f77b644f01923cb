"""The extractive backend: answer with the passage sentences that best answer the question.

No LLM is involved, so nothing can be invented; the risk is the opposite one — returning a
sentence that is merely on topic. A sentence answers only if
  (a) the story it comes from mentions what the question asks about: its names and numbers,
      and its focus — who is quoted, what is counted, what "which" asks for, the things "the"
      presupposes, its verbs — up to inflection and derivation ("the mayor" in a story without
      one, "injured" in a story that counts only the dead → decline); other (background) words
      may be the story's own ("range in size" for "grow"): one, two of a long question;
  (b) it holds something of the asked-for kind the question does not already contain (a sum
      of money, a number, a date, a name, a place; a quote and its speaker for "what did X
      say");
  (c) it contains the question's inflected verbs ("killed", "released") and enough of the
      question's words that the story has (`min_binding`; the title's words count as said in
      every sentence), i.e. it is about the asked event, not the story at large.
Words are compared as stems of lemmas, so "fell"/"fall", "applicants"/"applied" and
"refuse to impose"/"refused" match; light verbs ("impose", "make") carry no meaning of their
own and are not required. Otherwise the service abstains."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from newsdesk.domain import Passage
from newsdesk.embedding import Embedder
from newsdesk.generation import acronyms, answer_slots, paraphrases, surnames
from newsdesk.generation.facts import (
    SPEECH_VERB_PATTERN,
    fold_aliases,
    is_common_word,
    lemma,
)
from newsdesk.index.text import sentence_spans
from newsdesk.retrieval.dates import MONTHS

QuestionKind = Literal["money", "number", "date", "person", "name", "place", "other"]

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_STOP = set(STOPWORDS_EN) | set(
    [
        "did",
        "does",
        "do",
        "was",
        "were",
        "is",
        "are",
        "many",
        "much",
        "how",
        "when",
        "where",
        "who",
        "whom",
        "whose",
        "what",
        "which",
        "why",
    ]
)
_MONTHS = list(MONTHS)  # names and abbreviations
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_NUMBER_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "hundreds",
    "thousand",
    "thousands",
    "million",
    "millions",
    "billion",
    "billions",
    "dozen",
    "dozens",
    "half",
]
_DATE = re.compile(
    r"\b(?:1[5-9]\d\d|20\d\d|yesterday|today|tomorrow|tonight|"
    rf"(?:last|next|this) (?:week|month|year)|{'|'.join(_MONTHS + _DAYS)}"
    # A time of day answers "when" and "what time" ("at 1.30pm", "at 19:45").
    r"|\d{1,2}(?:[.:]\d\d)?\s?(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d\d)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(rf"\b(?:\d[\d,.]*|{'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][a-zA-Z’'-]+(?:\s+(?:[A-Z][a-zA-Z’'-]+|de|van|von|al|bin))*")
_PLACE = re.compile(
    # "England and Wales, where plans were announced": the place a where-clause is about.
    r"\b([A-Z][\w’'-]+(?:\s+(?:and\s+)?[A-Z][\w’'-]+)*),?\s+where\b|"
    r"\b(?:in|at|from|near|to|into|across|outside|on)\s+(?:the\s+|an?\s+)?"
    # "in the country's capital Ulan Bator", "in the northern city of Mosul"
    r"(?:(?:[a-z][\w’'-]*\s+){0,3}?(?:capital|city|town|village|county|state|region|province|"
    r"district|port|island|suburb)\s+(?:of\s+)?)?"
    rf"(?!(?i:{'|'.join(_MONTHS + _DAYS)})\b)([A-Z][\w’'-]+)"
)

_STEMMER = Stemmer.Stemmer("english")
# Last words of names that name no person: a competition or a news outlet ("the Barclays
# Premier League", "according to the Associated Press") is not who did it.
_NOT_PEOPLE = {
    "league", "cup", "championship", "premiership", "trophy", "open", "games", "press",
    "news", "times", "post", "herald", "telegraph", "guardian", "mail", "journal", "gazette",
    "tribune", "agency", "radio", "tv", "television",
}  # fmt: skip

# "How much did it cost?" asks for a sum of money: the words that say so are the question's
# kind, not its topic, and the answer must hold an amount of money, not just any number.
_MONEY_WORDS = {
    "cost", "costs", "spend", "spent", "pay", "paid", "price", "money", "worth", "fund",
    "funding", "budget", "prize", "owe", "owed", "fine", "fined", "earn", "earned", "raise",
    "raised", "profit", "profits", "lose", "lost", "loss", "losses", "revenue", "salary", "wage",
    "wages",
}  # fmt: skip
_MONEY = re.compile(
    r"[$€£¥]\s?\d|\b\d[\d,.]*\s*(?:million|billion|thousand|m|bn)?\s*"
    r"(?:dollars?|euros?|pounds?|yuan|yen|rupees?|francs?|pesos?|won|dinars?|riyals?)\b",
    re.IGNORECASE,
)


def question_kind(question: str) -> QuestionKind:
    q = question.lower().strip()
    if re.search(answer_slots.HOW_MUCH_OF, q):
        return "number"  # a portion of the money, not a sum (answer_slots: "share")
    if answer_slots.number_shape(q) == "result":
        return "number"  # "what was the final score?" asks for one: "2-1"
    if re.search(r"\bhow much\b", q) and _MONEY_WORDS & set(_WORD.findall(q)):
        return "money"
    if (
        re.search(
            r"\bhow (?:many|much|old|long|far|big|large|often|tall|high|wide|deep|heavy)\b", q
        )
        or "what number" in q
    ):
        return "number"
    if re.search(r"^when\b|\bwhat (?:year|date|day|month|time)\b|\bwhen (?:did|was|will|is)\b", q):
        return "date"
    if re.search(r"^(?:who|whom|whose)\b|\bwho (?:is|was|did|said)\b", q):
        return "person"
    # "What is the dog's name?", "What is the name of the ship?": a name, of anyone or anything.
    if _ASKS_NAME.search(q):
        return "name"
    # "Where did Casey finish?" asks a position in a field ("sixth"), not a place.
    if _ASKS_POSITION.search(q):
        return "number"
    if re.search(r"^where\b|\bwhere (?:is|was|did)\b|\bwhat (?:country|city|town|place)\b", q):
        return "place"
    return "other"


_ASKS_POSITION = re.compile(
    r"^where (?:did|does|do|will|would|is|was|are|were) (?:[\w'’-]+ ){1,4}(?:finish(?:ed)?|"
    r"placed|rank(?:ed)?|come|came)\b(?! from)"
)
# "weigh nearly 700 pounds": a mass, not a sum.
_WEIGHED_POUNDS = re.compile(r"\bweigh\w*\s+(?:\w+\s+){0,3}?\d[\d,.]*\s*pounds?\b", re.IGNORECASE)
_ASKS_NAME = re.compile(
    r"^what(?:'s| is| was| are| were)\s+(?:the\s+name\s+of\b|(?:the\s+|an?\s+)?[\w\s'’-]*?"
    r"(?:'s|’s|\bhis|\bher|\btheir|\bits)\s+(?:\w+\s+)?name\b)"
)


def content_stems(text: str) -> set[str]:
    words = [w.lower() for w in _WORD.findall(text)]
    return set(_STEMMER.stemWords([w for w in words if w not in _STOP and len(w) > 1]))


def _new_entities(pattern: re.Pattern[str], sentence: str, question: str) -> list[str]:
    asked = question.lower()
    found = [m.group(m.lastindex or 0) for m in pattern.finditer(sentence)]
    # Whole words: "50 percent" answers "by 2050?" although "50" is inside "2050".
    return [f for f in found if not re.search(rf"(?<![\w.,]){re.escape(f.lower())}(?![\w])", asked)]


def answers_kind(sentence: str, kind: QuestionKind, question: str) -> bool:
    """Whether the sentence holds something of the asked-for kind the question lacks."""
    if kind == "money":
        return bool(_new_entities(_MONEY, _WEIGHED_POUNDS.sub(" ", sentence), question))
    if kind == "number":
        return bool(_new_entities(_NUMBER, answer_slots.DATE_NUMBERS.sub(" ", sentence), question))
    if kind == "date":
        return bool(_new_entities(_DATE, sentence, question))
    if kind == "person":
        names = _new_entities(_NAME, sentence, question)
        calendar = set(_MONTHS + _DAYS)
        asked = {w.lower() for w in _WORD.findall(question)}
        # A person is named with at least two capitalised words ("Suleiman al-Amr") the
        # question does not use; a lone one is as often a place, a body or an event ("Hajj",
        # "Islam"), and "Space Shuttle Atlantis" for "the Space Shuttle mission" is a thing.
        return any(
            n.lower() not in calendar
            and len([w for w in n.split() if w.lower() not in asked]) >= 2
            and n.split()[-1].lower() not in _NOT_PEOPLE
            for n in names
        )
    if kind == "name":
        # A capitalised word the question lacks ("his dog Hooch"), not a common word that
        # opens the sentence ("Footage shows ...") nor a place it is in ("in Santa Monica").
        places = {p.split()[0] for p in _new_entities(_PLACE, sentence, question)}
        new_names = set(_new_entities(_NAME, sentence, question))
        first_word = re.search(r"\w", sentence)
        start = first_word.start() if first_word else len(sentence)
        return any(
            match.group(0) in new_names
            and match.group(0).split()[0] not in places
            and not (match.start() == start and is_common_word(match.group(0).split()[0]))
            for match in _NAME.finditer(sentence)
        )
    if kind == "place":
        return bool(_new_entities(_PLACE, sentence, question))
    return True


class ExtractiveAnswerer:
    def __init__(self, embedder: Embedder, *, min_binding: float = 0.5) -> None:
        self.embedder = embedder
        # Share of the question's content words a sentence must contain to count as
        # answering it rather than just being about the same story.
        self.min_binding = min_binding

    def answer(
        self,
        question: str,
        passages: list[Passage],
        max_sentences: int = 2,
        *,
        story_cleared: bool = False,
    ) -> list[str]:
        """The sentences that answer the question, best first; [] means abstain.
        `story_cleared`: a judge found that the story answers, whatever words it lacks (the
        names and story checks are passed)."""
        question = paraphrases.asked_form(question)
        kind = question_kind(question)
        verdicts = self.verdicts(question, passages, story_cleared=story_cleared)
        kept = [(v.sentence, v.binding) for v in verdicts if v.answers]
        if not kept:
            return []
        vectors = self.embedder.embed([question, *(text for text, _ in kept)])
        similarity = vectors[1:] @ vectors[0]
        scored = [
            (text, float(cosine), binding)
            for (text, binding), cosine in zip(kept, similarity, strict=True)
        ]
        return best_sentences(scored, kind, max_sentences)

    def verdicts(
        self, question: str, passages: list[Passage], *, story_cleared: bool = False
    ) -> list[Verdict]:
        """Each passage sentence with the first check it fails (None: it answers)."""
        reading = self.read(question, passages, story_cleared=story_cleared)
        found: list[Verdict] = []
        for text, article_id in reading.sentences:
            binding = reading.binding(text, article_id)
            failed = reading.failed(text, article_id, binding)
            found.append(Verdict(text, article_id, binding, failed))
        return found

    def read(
        self, question: str, passages: list[Passage], *, story_cleared: bool = False
    ) -> Reading:
        """The question read once against the retrieved stories, for checking each sentence."""
        return Reading(
            paraphrases.asked_form(question),
            passages,
            self.min_binding,
            story_cleared=story_cleared,
        )


# The checks a sentence must pass to answer, in the order the rules apply them.
GATES = ("names", "story", "binding", "kind", "quote", "verb", "slot")


class Reading:
    """A question read against its retrieved stories: what each check of a sentence needs,
    computed once per question. Each check can be asked on its own (`passes`), so the rules
    can stop at the first one failed and the learned decision can see them all."""

    def __init__(
        self,
        question: str,
        passages: list[Passage],
        min_binding: float,
        *,
        story_cleared: bool = False,
    ) -> None:
        self.question = question
        self.min_binding = min_binding
        # A judge found that the story answers whatever words it lacks: the names and story
        # checks pass (generation/story_judge.py).
        self.story_cleared = story_cleared
        self.initials = acronyms.QuestionInitials(question)
        self.sentences = [(t, a) for t, (a, _) in _sentences_with_context(passages).items()]
        self.kind = question_kind(question)
        self.quote = asks_for_quote(question)
        self.asked = question_keys(question)
        verbs = question_verbs(question)
        # The asked event: its verbs, and its news-event words in any form ("sell" is no
        # inflected verb, but "why did Home Retail sell Homebase?" asks about the sale).
        events = {k for k in self.asked if k.startswith("~")} - _asked_for_keys(question)
        self.event_verbs = (verbs | events) - described_verbs(question)
        # A measured answer ("how long was he lost at sea?" — "hadn't been heard from in 66
        # days") is bound by its shape and the question's names; its verb may be reworded.
        measured = answer_slots.number_shape(question) in (
            "age",
            "duration",
            "distance",
            "share",
            "result",
        )
        self.required = question_required(question)
        self.soft = reworded_verbs(question)
        self.checked = (
            self.event_verbs - self.soft if self.kind == "number" and measured else self.event_verbs
        )
        self.specifics = question_specifics(question)
        self.speaker = question_speaker(question)
        self.stories = _story_keys(passages)
        self.titles = {p.article_id: word_keys(p.title) for p in passages}
        self.headlines = _headline_keys(passages)
        texts = _story_texts(passages)
        self.named = {a: _tokens(text) for a, text in texts.items()}
        # "Alex Salmond" of a story that says "Mr Salmond": the given name is the story's
        # though it never writes it, and said wherever the story is (as its title's words).
        for article_id, text in texts.items():
            given = surnames.dropped_given_names(question, text)
            self.named[article_id] |= given
            self.stories[article_id] |= word_keys(" ".join(given))
            self.titles[article_id] |= word_keys(" ".join(given))
        self.slot = _Slot(
            question,
            self.kind,
            self.asked | specifics_keys(self.specifics),
            self.speaker if self.quote else set(),
        )
        self.slot.event = self.event_verbs if self.kind == "person" else set()
        # What the answer fills (the speaker, the counted noun, the "which" noun, the role)
        # and who or what the question is about ("the mayor", "Sweden's coach"): a story
        # lacking one of these cannot answer, a story lacking a background word may.
        role = {k for keys in self.slot.role for k in keys}
        slot_nouns = self.speaker | self.slot.counted | _asked_for_keys(question) | role
        self.slot_nouns = slot_nouns & self.asked
        self.subject = (_definite_keys(question, verbs) & self.asked) - self.slot_nouns

    def binding(self, text: str, article_id: str) -> float:
        """Share of the question's words the story has that the sentence says. A story's
        sentences are all about its title ("Ctenophora", "Mecca crane collapse"): its words
        count as said in each; words the story lacks (a reworded background word) cannot be
        in any sentence and are not counted."""
        story = self.stories[article_id]
        own = word_keys(text) | self.titles[article_id]
        if linked := self.initials.linked_words(text):
            own |= word_keys(linked)
        present = [k for k in self.asked if covered(k, story)]
        return sum(covered(k, own) for k in present) / len(present) if present else 0.0

    def failed(self, text: str, article_id: str, binding: float) -> str | None:
        """The first check the sentence fails, in the rules' order; None: it answers."""
        return next((g for g in GATES if not self.passes(g, text, article_id, binding)), None)

    def answers(self, text: str, article_id: str) -> bool:
        return self.failed(text, article_id, self.binding(text, article_id)) is None

    def passes(self, gate: str, text: str, article_id: str, binding: float) -> bool:
        story = self.stories[article_id]
        if gate in ("names", "story") and self.story_cleared:
            return True
        if gate == "names":  # the question names what this story never does
            return self.specifics <= self.named[article_id]
        if gate == "story":  # ... or asks about something it never mentions
            return not story_gaps(self.asked, self.required - self.soft, story)
        if gate == "binding":
            return binding >= self.min_binding
        if gate == "kind":
            return answers_kind(text, self.kind, self.question)
        if gate == "quote":  # a quote answers only in the sentence that says who speaks
            said = word_keys(text)  # the title's words do not say who spoke
            return not self.quote or bool(
                _SPEECH.search(text) and all(covered(k, said) for k in self.speaker)
            )
        if gate == "verb":  # the asked event ("drowned", "released") is not this sentence's
            heard = word_keys(text) | self.headlines[article_id]
            return all(covered(k, heard) for k in self.checked if covered(k, story))
        if gate == "slot":  # what it holds of the asked kind answers another question
            return self.slot.filled(text)
        raise ValueError(f"no gate {gate!r}")


# Verbs that lend their object its meaning rather than adding one ("impose a no-fly zone",
# "make a decision"): a story that says "refused a no-fly zone" answers either wording.
_LIGHT_VERBS = {
    "impose", "make", "take", "give", "get", "have", "happen", "occur", "go", "come", "try",
    "find", "use", "be", "do", "put",
}  # fmt: skip
# Prepositions, modals and pronouns that the BM25 stopword list lets through.
_FUNCTION = {
    "about", "above", "across", "after", "against", "along", "among", "around", "before",
    "behind", "below", "between", "during", "over", "since", "through", "under", "until",
    "upon", "within", "without", "according", "from", "with", "via",
    "must", "may", "might", "can", "could", "shall", "should", "would", "will",
    "she", "he", "her", "him", "his", "hers", "they", "them", "their", "we", "us", "our",
    "you", "your", "i", "me", "my", "its", "it",
    # Particles of phrasal verbs ("break out", "pick up"): the verb carries the meaning.
    "out", "up", "off", "down", "away", "back",
    # Degree and position words: they grade or place what the question asks about ("the
    # most you can get", "the quake near Lucca", "the second most popular"), no topic of
    # their own.
    "near", "most", "more", "least", "less", "still",
    # "What else is it called?", "How far ahead are they now?": they ask for another one or
    # for the present, no topic either.
    "else", "now", "currently",
    # Conjunctions that join the question's clauses ("who signed the law *while* Morales was
    # away?"): the clauses carry the topic.
    "while", "whilst", "although", "though", "whereas", "unless",
}  # fmt: skip
# Words that only say which kind of answer is wanted (covered by the kind check).
_KIND_WORDS = {
    "old", "long", "far", "big", "large", "often", "tall", "high", "say", "said",
    "people", "person", "persons",
    # "What is X called?", "What type of ...", "In what year ...": the answer's form.
    "name", "named", "call", "called", "known", "type", "kind", "sort", "term", "example",
    "year", "years", "century", "amount", "percentage", "total",
    # "What proportion of ...": a share (answer_slots), not a word the story must use.
    "proportion", "fraction",
}  # fmt: skip
_SPEECH = re.compile(
    rf"[\"“”‘’]|\b(?:{SPEECH_VERB_PATTERN})\b",
    re.IGNORECASE,
)


def _words(text: str) -> list[str]:
    words = (w.lower().replace("’", "'") for w in _WORD.findall(paraphrases.rewritten(text)))
    words = (w[:-2] if w.endswith("'s") else w.rstrip("'") for w in words)
    return [w for w in words if w not in _STOP and w not in _FUNCTION and len(w) > 1]


def _event_groups() -> dict[str, str]:
    groups = {}
    events = ((w, "~") for w in paraphrases.SAME_EVENT)
    for words, mark in [*events, *((w, "=") for w in paraphrases.SAME_THING)]:
        for word in words:
            for stem in (_STEMMER.stemWord(lemma(word)), _STEMMER.stemWord(word)):
                groups[stem] = f"{mark}{words[0]}"
    return groups


def _key(stem: str) -> str:
    return _EVENT_GROUPS.get(stem, stem)


# A number fused to its unit ("a 16-storey tower", "a 6,000-metre kite", "an 18-month-old",
# "a three-match ban"): the unit is a word of the text as much as in "16 storeys".
_MEASURED_COMPOUND = re.compile(rf"^(?:\d[\d,.]*|{'|'.join(_NUMBER_WORDS)})-([a-z-]+)$")


def word_keys(text: str) -> set[str]:
    """A text's content words as stems of their lemmas ("fell" → "fall", "sank" → "sink"),
    and of themselves (the lemmatiser does not know every word); words for the same event
    share one key."""
    keys = set()
    for word in _words(text):
        keys.add(_key(_STEMMER.stemWord(lemma(word))))
        keys.add(_key(_STEMMER.stemWord(word)))
        if compound := _MEASURED_COMPOUND.match(word):
            for part in compound.group(1).split("-"):
                if len(part) > 1 and part not in _STOP and part not in _FUNCTION:
                    keys.add(_key(_STEMMER.stemWord(lemma(part))))
                    keys.add(_key(_STEMMER.stemWord(part)))
    return keys


def _kind_words(question: str) -> set[str]:
    """The words that say what kind of answer this question wants."""
    kind_words = _KIND_WORDS | (_MONEY_WORDS if question_kind(question) == "money" else set())
    shape = answer_slots.number_shape(question)
    if shape == "share":
        kind_words = kind_words | {"share"}  # "what share of ...": the shape, not the topic
    if shape == "weight":
        kind_words = kind_words | {"heavy", "weigh", "weighs", "weighed", "weight"}
    if shape == "result":  # "the final score": the result's form, the story need not say it
        kind_words = kind_words | {"score", "scoreline", "final"}
    if answer_slots.asks_cause(question):
        kind_words = kind_words | answer_slots.CAUSE_WORDS
    return kind_words


def question_keys(question: str) -> set[str]:
    """The question's content words that an answer must be about (light and kind words aside)."""
    kind_words = _kind_words(question)
    lemmas = (lemma(w) for w in _words(question) if w not in kind_words)
    return {_key(_STEMMER.stemWord(base)) for base in lemmas if base not in _LIGHT_VERBS}


_AUX = r"(?:did|do|does|was|were|is|are|has|have|had|will|would|can|could|should|may|might)"
_SPEAKER = re.compile(rf"\bwhat {_AUX}\s+(.+?)\s+(?:say|said|tell)\b", re.IGNORECASE)
# "Which hospital treated ...?", "What sentence did ...?": the kind of thing asked for.
_ASKED_FOR = re.compile(
    rf"\b(?:which|what)\s+(?!{_AUX}\b)(.+?)(?=\s+{_AUX}\b|[?]|$)", re.IGNORECASE
)
_COUNTED = re.compile(
    rf"\bhow (?:many|much)\s+(?!{_AUX}\b)(.+?)(?=\s+{_AUX}\b|[?]|$)", re.IGNORECASE
)


def question_speaker(question: str) -> set[str]:
    """Who "what did the coach of Sweden say?" asks to quote, as word keys."""
    match = _SPEAKER.search(question)
    return question_keys(match.group(1)) if match else set()


def question_required(question: str) -> set[str]:
    """The question's focus: words a story must mention to answer it, however the rest is
    worded — the speaker of "what did the mayor say?", what "how many" counts ("complaints",
    "hours"), the kind of thing "which" asks for ("hospital"), its verbs ("drowned", "replaced": the asked event) and its news-event words. The
    other words are background, which a story may put in words of its own."""
    verbs = question_verbs(question)
    focus = question_speaker(question) | _definite_keys(question, verbs)
    for pattern in (_COUNTED, _ASKED_FOR):
        if match := pattern.search(question):
            focus |= _phrase_keys(_TOKEN.findall(match.group(1)), verbs)
    asked = question_keys(question)
    return (focus | verbs | {k for k in asked if k.startswith("~")}) & asked


_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*|[^\sA-Za-z0-9]")


def _definite_keys(question: str, verbs: set[str]) -> set[str]:
    """The words of the question's definite descriptions ("the stampede", "the school
    principal", "Sweden's coach"): "the" presupposes that the story has one."""
    keys: set[str] = set()
    tokens = _TOKEN.findall(question)
    for number, token in enumerate(tokens):
        bare = token.lower().replace("’", "'")
        if bare == "the" or (bare.endswith("'s") and number > 0):
            words = _phrase(tokens[number + 1 :], verbs)
            if _after_aux(tokens, number) and len(words) > 1:
                words = words[:-1]  # "why did the crane topple": do-support's verb ends it
            keys |= question_keys(" ".join(words))
    return keys


def _after_aux(tokens: list[str], number: int) -> bool:
    """Whether the description at `number` is the subject of do-support ("did the crane",
    "did the boy's mother"): its last word is then the question's verb."""
    before = number - 1
    while before >= 0 and (
        tokens[before].lower() == "the" or tokens[before].lower().replace("’", "'").endswith("'s")
    ):
        before -= 1
    return before >= 0 and bool(re.fullmatch(_AUX, tokens[before].lower()))


def _phrase_keys(tokens: list[str], verbs: set[str]) -> set[str]:
    return question_keys(" ".join(_phrase(tokens, verbs)))


def _phrase(tokens: list[str], verbs: set[str]) -> list[str]:
    """The noun phrase the tokens start with: it ends at a function word, punctuation or a
    verb ("asylum seekers | drowned", "weather | made")."""
    words: list[str] = []
    for word in tokens:
        low = word.lower()
        if not _WORD.fullmatch(word) or low in _STOP or low in _FUNCTION or low == "the":
            break
        if lemma(low) in _LIGHT_VERBS or question_keys(word) & verbs:
            break
        words.append(word)
    return words


def reworded_verbs(question: str) -> set[str]:
    """The question's verbs a story may put in words of its own ("presided over" for "judge
    ... heard", "exhibited" for "go on display"): the slot (answer_slots) binds such answers —
    a share, a counted number, a reason, a place. Not the verb of "who ...?", where the verb
    is all that ties a name to the question ("Who coaches Nadal?", "Which official lost the
    document?") or a date to its event ("When will the zoo reopen?"), nor the common news events
    (_SAME_EVENT), nor a verb that is also the question's focus noun."""
    kind = question_kind(question)
    if kind not in ("number", "money", "place") and not answer_slots.asks_reason(question):
        return set()
    verbs = question_verbs(question)
    nouns = question_speaker(question) | _definite_keys(question, verbs)
    for pattern in (_COUNTED, _ASKED_FOR):
        if match := pattern.search(question):
            nouns |= _phrase_keys(_TOKEN.findall(match.group(1)), verbs)
    return {k for k in verbs if not k.startswith("~") and k not in nouns}


def story_gaps(asked: set[str], required: set[str], story: set[str]) -> list[str]:
    """The question keys that keep this story from answering ([] if it may): every required
    one it lacks, or its background ones if more are lacking than a paraphrase explains."""
    missing = [k for k in asked if not covered(k, story)]
    focus = [k for k in missing if k in required]
    return focus or (missing if len(missing) > allowed_gaps(len(asked)) else [])


def question_verbs(question: str) -> set[str]:
    """The question's inflected verbs ("killed", "fell", "released"): the event asked about.
    Told apart from nouns and modifiers ("applicants", "working days") by the word's ending."""
    verbs = set()
    capitalised = {w.lower() for w in _WORD.findall(question) if w[0].isupper()}
    kind_words = _kind_words(question)
    for word in _words(question):
        base = lemma(word)
        if word in capitalised or word in kind_words or base in _LIGHT_VERBS:
            continue
        # Not plurals, gerunds, nor comparatives ("hardest", "easier": adjectives).
        if base != word and not word.endswith(("s", "ing", "men", "est", "er")):
            verbs.add(_key(_STEMMER.stemWord(base)))
    # "When did the broadcasts begin?": after do-support the verb ends the question.
    last = _WORD.findall(question)[-1:] if question.rstrip().endswith("?") else []
    if re.match(r"\w+ (?:did|does|do|will)\b", question.lower()) and last and last[0].islower():
        base = lemma(last[0])
        if _words(last[0]) and base not in _LIGHT_VERBS and last[0] not in _KIND_WORDS:
            verbs.add(_key(_STEMMER.stemWord(base)))
    # "Who will command the mission?": after a modal the verb follows the subject "who".
    modal = re.match(rf"\s*who\s+{_AUX}\s+([a-z]+)\s+\w", question, re.I)
    if modal and modal.group(1)[0].islower():  # "Who is Newport County's ...": a name
        base = lemma(modal.group(1).lower())
        if _words(modal.group(1)) and base not in _LIGHT_VERBS and base not in _KIND_WORDS:
            verbs.add(_key(_STEMMER.stemWord(base)))
    # "In what year were the frigates decommissioned?": a passive's participle ends the
    # question (the lemmatiser does not know every participle).
    passive = re.search(r"\b(?:was|were|been|is|are)\b.*\b([a-z]{3,}ed)\s*\?\s*$", question)
    if passive and _words(passive.group(1)) and passive.group(1) not in kind_words:
        base = lemma(passive.group(1))
        if base not in _LIGHT_VERBS:
            verbs.add(_key(_STEMMER.stemWord(base)))
    # "Who coaches Rafael Nadal?", "Who owns the club?": a present verb after "who" (the
    # ending test above reads it as a plural noun).
    if present := re.match(r"\s*who\s+([a-z]+s)\s+\w", question, re.I):
        word = present.group(1).lower()
        base = lemma(word)
        if not re.fullmatch(_AUX, word) and _words(word) and base not in _LIGHT_VERBS:
            verbs.add(_key(_STEMMER.stemWord(base)))
    return verbs


def _asked_for_keys(question: str) -> set[str]:
    """The kind of thing "what injury ...?" asks for: the answer is one ("broke his
    shoulder"), it need not name the kind."""
    match = _ASKED_FOR.search(question)
    return _phrase_keys(_TOKEN.findall(match.group(1)), set()) if match else set()


_RELATIVE = re.compile(r"\s(?:who|that|which)\s+([^,;?]+)", re.IGNORECASE)
_ATTRIBUTIVE = re.compile(r"\b(?:the|a|an|its|their|his|her)\s+([a-z]+(?:ed|en))\s+[a-z]", re.I)


def described_verbs(question: str) -> set[str]:
    """The verbs of a relative clause ("the boy *who told* his father", "the vessel *that
    rescued* him"): they say which one is meant, not the event asked about, so the answer's
    sentence need not repeat them (its story must still mention them)."""
    verbs = question_verbs(question)
    found: set[str] = set()
    for match in _RELATIVE.finditer(question):
        found |= {k for k in question_keys(match.group(1)) if k in verbs or k.startswith("~")}
    # A participle before a noun says which one too: "the downed jet", "the stolen car".
    for match in _ATTRIBUTIVE.finditer(question):
        found |= question_keys(match.group(1)) & verbs
    return found


def covered(key: str, keys: set[str]) -> bool:
    """Whether a word key is among `keys`, up to derivation ("applic" ~ "appli")."""
    if key in keys:
        return True
    if len(key) < 5:
        return False
    return any(len(k) >= 5 and (k.startswith(key) or key.startswith(k)) for k in keys)


def asks_for_quote(question: str) -> bool:
    return bool(
        re.search(
            r"\bwhat (?:did|does|do|has|have|had|will)\b.*\b(?:say|said|tell)\b", question.lower()
        )
    )


class _Slot:
    """The answer's slot (answer_slots): the shape of an asked number, the role a name must
    fill, the speaker who must speak, a reason for "why"."""

    def __init__(self, question: str, kind: QuestionKind, asked: set[str], speaker: set[str]):
        self.question = question
        self.kind = kind
        self.asked = asked
        self.speaker = speaker
        self.shape = answer_slots.number_shape(question) if kind == "number" else None
        counted = _COUNTED.search(question)
        self.counted = _phrase_keys(_TOKEN.findall(counted.group(1)), set()) if counted else set()
        role = answer_slots.role_asked(question) if kind in ("person", "other") else []
        self.role = [question_keys(w) for w in role if question_keys(w)]
        owner = answer_slots.role_owner(question) if self.role else None
        self.owner = question_keys(owner) if owner else set()
        self.reason = answer_slots.asks_reason(question)
        self.cause = answer_slots.asks_cause(question)
        self.event: set[str] = set()  # "who VERBed?": the verb whose doer is asked for
        # "What is the name of the official?" asks who as much as "who is the official?".
        self.asks_who = kind in ("person", "name")
        money = [w for w in _words(question) if w in _MONEY_WORDS]
        self.money = {_key(_STEMMER.stemWord(lemma(w))) for w in money}

    def filled(self, sentence: str) -> bool:
        # "Alshammari's attorney Ron Yengich declined to comment" still names the attorney.
        if answer_slots.says_unknown(sentence) and not self.role:
            return False
        if self.asks_who and answer_slots.names_no_one(sentence):
            return False
        if self.kind == "money" and not answer_slots.sum_is_theirs(
            sentence, _MONEY, lambda w: _is(w, self.money)
        ):
            return False
        if self.shape is not None and not answer_slots.has_shape(
            sentence,
            self.shape,
            self.question,
            lambda w: _is(w, self.asked),
            (lambda w: _is(w, self.counted)) if self.counted else None,
        ):
            return False
        is_role: list[Callable[[str], bool]] = [partial(_is, keys=keys) for keys in self.role]
        if self.role and not answer_slots.named_in_role(
            sentence, is_role, lambda w: _is(w, self.asked)
        ):
            return False
        if self.owner and not answer_slots.role_owned(
            sentence,
            is_role[-1],
            lambda w: _is(w, self.owner),
            lambda w: any(test(w) for test in is_role),
        ):
            return False  # "Alshammari's attorney", not "Utah County Attorney Craig Johnson"
        if self.event and not answer_slots.doer_named(sentence, lambda w: _is(w, self.event)):
            return False
        if self.speaker and not answer_slots.speaker_speaks(
            sentence, lambda w: _is(w, self.speaker)
        ):
            return False
        if self.cause:
            return answer_slots.gives_cause(sentence, lambda w: _is(w, self.asked))
        return not self.reason or answer_slots.gives_reason(sentence, lambda w: _is(w, self.asked))


def _is(word: str, keys: set[str]) -> bool:
    """Whether a sentence word is one of the keys (up to inflection and derivation)."""
    return any(covered(k, keys) for k in word_keys(word))


def specifics_keys(specifics: set[str]) -> set[str]:
    return {k for s in specifics for k in word_keys(s)}


@dataclass(frozen=True)
class Verdict:
    """A passage sentence and the first check it fails (`failed` None: it answers)."""

    sentence: str
    article_id: str
    binding: float
    failed: str | None

    @property
    def answers(self) -> bool:
        return self.failed is None


def best_sentences(
    scored: list[tuple[str, float, float]], kind: QuestionKind, max_sentences: int
) -> list[str]:
    """Of the (sentence, cosine to the question, binding) that answer, the ones to answer
    with: the closest that binds most of the question, one for a who/when/where/how-many
    question, up to `max_sentences` near the best for an open one."""
    if not scored:
        return []
    relevance = {text: cosine + 0.5 * binding for text, cosine, binding in scored}
    ranked = sorted(relevance, key=relevance.__getitem__, reverse=True)  # stable on ties
    limit = 1 if kind != "other" else max_sentences
    best = relevance[ranked[0]]
    return [text for text in ranked[:limit] if relevance[text] >= 0.85 * best]


def _sentences_with_context(passages: list[Passage]) -> dict[str, tuple[str, str]]:
    """Each distinct passage sentence (chunks overlap by one) → its article and passage."""
    found: dict[str, tuple[str, str]] = {}
    for passage in passages:
        for span in sentence_spans(passage.text):
            for sentence in answer_slots.unglued(passage.text[span.start : span.end]):
                found.setdefault(sentence, (passage.article_id, f"{passage.title} {passage.text}"))
    return found


def unmentioned(question: str, passages: list[Passage]) -> list[str]:
    """What the question asks about that no retrieved story mentions ([] if one mentions all):
    the words of the story that comes closest. A question about "the mayor" of a story that
    has no mayor is not answered by that story, however similar the rest of it is."""
    if not passages:
        return []
    question = paraphrases.asked_form(question)
    asked = {_key(_STEMMER.stemWord(lemma(w))): w for w in _words(question)}
    wanted = question_keys(question)
    asked = {k: w for k, w in asked.items() if k in wanted}
    required = question_required(question) - reworded_verbs(question)
    specifics = question_specifics(question)
    texts = _story_texts(passages)
    stories = _story_keys(passages)
    best: list[str] | None = None
    for article_id, keys in stories.items():
        given = surnames.dropped_given_names(question, texts[article_id])
        keys = keys | word_keys(" ".join(given))
        names = sorted(specifics - _tokens(texts[article_id]) - given)
        gaps = story_gaps(set(asked), required, keys)
        words = [w for k, w in asked.items() if k in gaps and w not in names]
        missing = names + words if names or gaps else []
        if best is None or len(missing) < len(best):
            best = missing
    return best or []


def _headline_keys(passages: list[Passage]) -> dict[str, set[str]]:
    """Per article, the word keys of its title when it is a headline. An article ingested
    without one is titled with its first sentence (index/ingest.py): its names stand in for
    the "she" and "they" of later sentences (binding), but its event is its own — "Last
    year, HMS Ark Royal was sold" does not say when the lead's frigates were decommissioned."""
    texts = _story_texts(passages)
    keys: dict[str, set[str]] = {}
    for passage in passages:
        title = passage.title.strip()
        lead = (
            title.endswith(("…", ".", "!", "?")) or title in texts[passage.article_id][len(title) :]
        )
        keys[passage.article_id] = set() if lead else word_keys(title)
    return keys


def _story_texts(passages: list[Passage]) -> dict[str, str]:
    """Per article, its title and the text of all its retrieved passages."""
    texts: dict[str, str] = {}
    for passage in passages:
        texts[passage.article_id] = f"{texts.get(passage.article_id, passage.title)} {passage.text}"
    return texts


def allowed_gaps(asked: int) -> int:
    """Background words a story may lack and still answer (its own wording: "range in size"
    for "how large can it grow"): none of a one-word question, one, two of a long question."""
    return 0 if asked < 2 else 1 if asked < 7 else 2


def _story_keys(passages: list[Passage]) -> dict[str, set[str]]:
    """Per article, the word keys of all its retrieved passages: what the story mentions."""
    stories: dict[str, set[str]] = {}
    for passage in passages:
        keys = stories.setdefault(passage.article_id, word_keys(passage.title))
        keys |= word_keys(passage.text)
    return stories


# A number, or a word with a capital or a digit first, taken whole ("9GAG's" is one name).
_SPECIFIC = re.compile(r"\b(?:\d[\w,.]*\w|\d|[A-Z][\w’'-]*)")


def question_specifics(question: str) -> set[str]:
    """Names and numbers a question commits to (its first word aside): an answer must come
    from a passage that mentions them. SQuAD 2.0's unanswerable questions are mostly answerable
    ones with such a detail swapped for one the paragraph does not contain."""
    first = question.split(maxsplit=1)[0] if question.split() else ""
    # A country or body is committed to by any of its names: "the US" is "America".
    question, aliases = fold_aliases(question.replace("’", "'"))
    words = _SPECIFIC.findall(question)
    return {_bare(w) for w in words if w != first and w.lower() not in _STOP} | aliases


def _tokens(text: str) -> set[str]:
    """The words of a text as question_specifics keys them, its aliased names included."""
    text = text.replace("’", "'")
    words = re.findall(r"[\w'.,-]+", text)
    bare = {_bare(w) for w in words} | {_bare(w) for w in _WORD.findall(text)}
    # Scraped pages glue words at a lost break ("Copy this linkKen Dickie, 64, died"): the
    # parts of a word joined lower-to-upper case are its words too.
    glued = {_bare(part) for w in words if _GLUED.search(w) for part in _GLUED.split(w)}
    return bare | glued | fold_aliases(text)[1]


_GLUED = re.compile(r"(?<=[a-z])(?=[A-Z])")


def _bare(word: str) -> str:
    """A word as names are compared: lower case, without the possessive ("Stubbs'", "Ali's")
    or the quotes around it ("'PPAP'")."""
    word = word.lower().rstrip(".,")
    word = word[:-2] if word.endswith("'s") else word
    return word.strip("'")


_EVENT_GROUPS = _event_groups()

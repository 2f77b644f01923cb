"""The news QA set (evals/suites/news-qa-samples.json): questions on the sample articles, some
answered by their story (with gold spans), some on topic but not answered by it. Scores how
often the answer pipeline answers the first kind and declines the second.

Its format is not the general suite format (evals/suite.py): it keeps character offsets of the
gold spans into the article and a `split` (tune / test) so that thresholds are tuned on one
half and reported on the other; `holdout` questions were written before the rules were reworked
in session 3, `holdout2` ones before session 6, `holdout3` ones before session 7's,
`holdout4` ones before session 8's, `holdout5` ones before session 10's, `holdout6` ones
before session 11's, `holdout7` ones before session 12's, `holdout8` ones before session
13's, `holdout9` ones at the start of session 13 (run once later in it), `holdout10` ones
in session 13 for session 14 (run once at its start), `holdout11` ones in session 14 (run
once in session 14), `holdout12` ones in session 14 for session 15 (run once in session 14),
`holdout13` ones in session 14 for session 15 (run once in session 15), `holdout14` ones in
session 15 for session 16 (run once in session 16), `holdout15` ones in session 16 for
session 17 (run once per decision in session 16) and `holdout16` ones in session 17 for
session 18 (not yet run), all fifteen on articles of another suite (`suite_articles`,
ingested beside the samples); holdouts are only ever reported."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from newsdesk.answers import CitedAnswer
from newsdesk.domain import ArticleInput
from newsdesk.generation.answer import Answerer

Split = Literal[
    "tune",
    "test",
    "holdout",
    "holdout2",
    "holdout3",
    "holdout4",
    "holdout5",
    "holdout6",
    "holdout7",
    "holdout8",
    "holdout9",
    "holdout10",
    "holdout11",
    "holdout12",
    "holdout13",
    "holdout14",
    "holdout15",
    "holdout16",
]
SPLITS: tuple[Split, ...] = get_args(Split)
SUITE = Path(__file__).resolve().parent / "suites" / "news-qa-samples.json"


class GoldSpan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    start: int
    end: int


class NewsQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    article_id: str
    question: str
    answerable: bool
    answers: list[GoldSpan]
    split: Split


class SuiteArticles(BaseModel):
    """Articles taken from another shipped suite (its `articles` list, by id)."""

    model_config = ConfigDict(extra="forbid")
    path: str
    ids: list[str]


class NewsQaSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str
    articles: str
    questions: list[NewsQuestion]
    suite_articles: SuiteArticles | None = None


def load(path: Path = SUITE) -> NewsQaSet:
    return NewsQaSet.model_validate(json.loads(path.read_text(encoding="utf-8")))


def load_articles(suite: NewsQaSet, root: Path) -> list[ArticleInput]:
    """Every article the questions are asked of: the samples file, then the suite articles
    (untitled, as that suite ships them). Paths are relative to the repository root."""
    lines = (root / suite.articles).read_text(encoding="utf-8").splitlines()
    articles = [ArticleInput.model_validate(json.loads(line)) for line in lines if line.strip()]
    if suite.suite_articles is not None:
        wanted = suite.suite_articles.ids
        with gzip.open(root / suite.suite_articles.path, "rt", encoding="utf-8") as handle:
            found = {a["id"]: a for a in json.load(handle)["articles"] if a["id"] in wanted}
        articles += [ArticleInput(id=i, text=found[i]["text"]) for i in wanted]
    return articles


@dataclass(frozen=True)
class Outcome:
    question: NewsQuestion
    abstained: bool
    answer: str
    contains_gold: bool
    cited_gold_article: bool


@dataclass(frozen=True)
class Scores:
    answerable: int
    answered: int
    unanswerable: int
    declined: int
    contains_gold: int

    @property
    def answered_rate(self) -> float:
        return self.answered / self.answerable if self.answerable else 0.0

    @property
    def declined_rate(self) -> float:
        return self.declined / self.unanswerable if self.unanswerable else 0.0

    @property
    def gold_rate(self) -> float:
        """Answerable questions whose answer contains a gold span."""
        return self.contains_gold / self.answerable if self.answerable else 0.0


def ask_all(answerer: Answerer, questions: list[NewsQuestion], top_k: int = 5) -> list[Outcome]:
    return [outcome(item, answerer.ask(item.question, top_k=top_k)) for item in questions]


def outcome(item: NewsQuestion, answer: CitedAnswer) -> Outcome:
    """How one answer fares on its question."""
    contains = not answer.abstained and holds_gold(item, answer.answer)
    cited = any(c.article_id == item.article_id for c in answer.citations)
    return Outcome(item, answer.abstained, answer.answer, contains, cited)


def score(outcomes: list[Outcome]) -> Scores:
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    return Scores(
        answerable=len(answerable),
        answered=sum(not o.abstained for o in answerable),
        unanswerable=len(unanswerable),
        declined=sum(o.abstained for o in unanswerable),
        contains_gold=sum(o.contains_gold for o in answerable),
    )


def holds_gold(item: NewsQuestion, text: str) -> bool:
    """Whether the text holds one of the question's gold spans (case and punctuation aside)."""
    said = _normalise(text)
    return any(_normalise(gold.text) in said for gold in item.answers)


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s%]", " ", text.lower().replace("’", "'")).split())

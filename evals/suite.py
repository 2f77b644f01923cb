"""The suite format: the articles, the questions with their gold answers and passages, and the
summarisation items of one evaluation, as a YAML or JSON file (optionally gzipped).

A suite may keep its articles in a separate JSONL file (`articles_file`, relative to the suite)
so that several suites can share one corpus without duplicating it."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from newsdesk.domain import ArticleInput


class SuiteError(ValueError):
    """A suite file that cannot be read or does not validate; the message says where."""


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[str] = Field(
        default_factory=list, description="Acceptable answers; any one of them is right."
    )
    unanswerable: bool = Field(
        default=False, description="The articles do not answer it: the right output is to abstain."
    )
    gold_article_ids: list[str] = Field(
        default_factory=list, description="Articles that hold the answer (retrieval gold)."
    )
    group: str | None = Field(
        default=None, description="A subset name; aggregates are also given per group."
    )
    gold_passages: list[str] = Field(
        default_factory=list,
        description="Exact text spans that support the answer; a retrieved chunk that contains "
        "one (whitespace-insensitive) is a hit for it. Used instead of gold_article_ids when set.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if self.unanswerable and self.answers:
            raise ValueError("an unanswerable question cannot have answers")
        return self

    @property
    def asks_for_answer(self) -> bool:
        """Retrieval-only questions (no answers, not unanswerable) are only searched."""
        return self.unanswerable or bool(self.answers)

    @property
    def has_retrieval_gold(self) -> bool:
        return bool(self.gold_article_ids or self.gold_passages)


class ModelSummary(BaseModel):
    """A summary written by some system, with a human factuality judgement (FRANK-style)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    summary: str = Field(min_length=1)
    human_factuality: float | None = Field(default=None, ge=0, le=1)


class SummaryItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    article_id: str
    group: str | None = Field(
        default=None,
        description="A subset name (e.g. the source dataset); aggregates are also given per group.",
    )
    reference: str | None = Field(default=None, description="Reference summary for ROUGE.")
    model_summaries: list[ModelSummary] = Field(
        default_factory=list, description="Scored summaries to test the support checker on."
    )


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    licence: str = Field(default="", description="Licence of the data; shown in reports.")
    provenance: str = ""
    articles: list[ArticleInput] = Field(default_factory=list)
    articles_file: str | None = Field(
        default=None, description="JSONL(.gz) of article objects, relative to the suite file."
    )
    questions: list[Question] = Field(default_factory=list)
    summaries: list[SummaryItem] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Suite:
        for kind, ids in (
            ("article", [a.id for a in self.articles]),
            ("question", [q.id for q in self.questions]),
            ("summary", [s.id for s in self.summaries]),
        ):
            duplicates = sorted(i for i, count in Counter(ids).items() if count > 1)
            if duplicates:
                raise ValueError(f"duplicate {kind} ids: {', '.join(duplicates[:5])}")
        if not (self.questions or self.summaries):
            raise ValueError("a suite needs questions or summaries")
        return self

    def limited(self, limit: int | None) -> Suite:
        """The first `limit` questions and summary items (all articles kept)."""
        if limit is None:
            return self
        return self.model_copy(
            update={"questions": self.questions[:limit], "summaries": self.summaries[:limit]}
        )


def _read_text(path: Path) -> str:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return handle.read()
    return path.read_text(encoding="utf-8")


def _parse(path: Path) -> Any:
    text = _read_text(path)
    plain = path.name.removesuffix(".gz")
    if plain.endswith(".json"):
        return json.loads(text)
    if plain.endswith((".yaml", ".yml")):
        return yaml.safe_load(text)
    raise SuiteError(f"{path}: a suite file must end in .json, .yaml or .yml (optionally .gz)")


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "suite"
        parts.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def load_suite(path: Path) -> Suite:
    """Read and validate a suite; raises SuiteError with a readable reason."""
    if not path.is_file():
        raise SuiteError(f"{path}: no such suite file")
    try:
        data = _parse(path)
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise SuiteError(f"{path}: cannot parse: {exc}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite must be an object with name, articles, questions…")
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise SuiteError(f"{path}: {_describe(exc)}") from None
    if suite.articles_file:
        suite.articles = [*suite.articles, *read_articles(path.parent / suite.articles_file)]
        suite.articles_file = None
    _check_references(path, suite)
    return suite


def read_articles(path: Path) -> list[ArticleInput]:
    if not path.is_file():
        raise SuiteError(f"{path}: articles file not found")
    articles = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            articles.append(ArticleInput.model_validate_json(line))
        except ValidationError as exc:
            raise SuiteError(f"{path}:{number}: {_describe(exc)}") from None
    return articles


def _check_references(path: Path, suite: Suite) -> None:
    known = {a.id for a in suite.articles}
    if len(known) != len(suite.articles):
        raise SuiteError(f"{path}: duplicate article ids")
    for question in suite.questions:
        unknown = [a for a in question.gold_article_ids if a not in known]
        if unknown:
            raise SuiteError(f"{path}: question {question.id}: unknown gold article {unknown[0]}")
    for item in suite.summaries:
        if item.article_id not in known:
            raise SuiteError(f"{path}: summary {item.id}: unknown article {item.article_id}")


def write_suite(suite: Suite, path: Path) -> None:
    """Write a suite as JSON (gzipped when the name ends in .gz) or YAML."""
    data = suite.model_dump(mode="json", exclude_defaults=True)
    data.setdefault("name", suite.name)
    plain = path.name.removesuffix(".gz")
    if plain.endswith((".yaml", ".yml")):
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    elif plain.endswith(".json"):
        text = json.dumps(data, ensure_ascii=False, indent=1)
    else:
        raise SuiteError(f"{path}: a suite file must end in .json, .yaml or .yml (optionally .gz)")
    _write_text(path, text)


def write_articles(articles: list[ArticleInput], path: Path) -> None:
    _write_text(path, "".join(a.model_dump_json(exclude_defaults=True) + "\n" for a in articles))


def _write_text(path: Path, text: str) -> None:
    """UTF-8 text, gzipped when the name ends in .gz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        # mtime=0: the same content always gives the same bytes (reviewable diffs).
        with gzip.GzipFile(path, "wb", mtime=0) as handle:
            handle.write(text.encode("utf-8"))
    else:
        path.write_text(text, encoding="utf-8")


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Objects of a JSONL(.gz) file; a malformed line is a SuiteError naming it."""
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{path}:{number}: not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise SuiteError(f"{path}:{number}: expected a JSON object")
        yield obj

"""Converters from common public formats into suites:

- SQuAD-style JSON: each paragraph becomes an article, each question keeps its paragraph as
  gold article; `is_impossible` questions become unanswerable ones.
- BEIR: a folder with `corpus.jsonl` (or `.jsonl.gz`), `queries.jsonl` and `qrels/test.tsv`;
  retrieval-only questions whose gold articles are the qrels with a score above 0.
- CNN/DailyMail-style JSONL: `article` and `highlights` (or `reference_summary`); FRANK-style
  `model_summaries` with `human_factuality` are kept for the checker evaluation.

`limit` keeps a seeded random sample of that many questions (SQuAD, BEIR) in their original
order, with every article kept so the retrieval corpus is unchanged; for CNN/DM it keeps the
first `limit` articles."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from newsdesk.domain import ArticleInput
from newsdesk.evals.suite import (
    ModelSummary,
    Question,
    Suite,
    SuiteError,
    SummaryItem,
    iter_jsonl,
)

SourceFormat = Literal["squad", "beir", "cnndm"]
_UNSAFE = re.compile(r"[^\w.:@-]+")


def import_source(
    kind: SourceFormat, source: Path, *, limit: int | None = None, seed: int = 0
) -> Suite:
    try:
        if kind == "squad":
            return import_squad(source, limit=limit, seed=seed)
        if kind == "beir":
            return import_beir(source, limit=limit, seed=seed)
        return import_cnndm(source, limit=limit)
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        if isinstance(exc, SuiteError):
            raise
        raise SuiteError(f"{source}: not valid {kind} data ({type(exc).__name__}: {exc})") from None


def _article_id(raw: str) -> str:
    return _UNSAFE.sub("_", raw).strip("_")[:200] or "article"


def _sample(items: list[Any], limit: int | None, seed: int) -> list[Any]:
    if limit is None or limit >= len(items):
        return items
    keep = set(random.Random(seed).sample(range(len(items)), limit))
    return [item for index, item in enumerate(items) if index in keep]


def _build(**fields: Any) -> Suite:
    try:
        return Suite(**fields)
    except ValidationError as exc:
        raise SuiteError(f"the converted suite does not validate: {exc}") from None


def import_squad(source: Path, *, limit: int | None = None, seed: int = 0) -> Suite:
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
        topics = data["data"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SuiteError(f"{source}: not SQuAD-style JSON ({exc})") from None
    articles: list[ArticleInput] = []
    questions: list[Question] = []
    for topic in topics:
        title = str(topic.get("title", "")).replace("_", " ")
        for number, paragraph in enumerate(topic.get("paragraphs", [])):
            article_id = _article_id(f"{topic.get('title', 'squad')}-p{number}")
            articles.append(ArticleInput(id=article_id, title=title, text=paragraph["context"]))
            for qa in paragraph.get("qas", []):
                impossible = bool(qa.get("is_impossible", False))
                answers = [] if impossible else [a["text"] for a in qa.get("answers", [])]
                questions.append(
                    Question(
                        id=str(qa["id"]),
                        question=qa["question"],
                        answers=list(dict.fromkeys(answers)),  # the crowd repeats answers
                        unanswerable=impossible,
                        gold_article_ids=[] if impossible else [article_id],
                    )
                )
    return _build(
        name=source.stem,
        description=f"Converted from SQuAD-style {source.name}; each paragraph is an article.",
        articles=articles,
        questions=_sample(questions, limit, seed),
    )


def _beir_corpus(folder: Path) -> Path:
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    raise SuiteError(f"{folder}: no corpus.jsonl or corpus.jsonl.gz (BEIR layout expected)")


def import_beir(source: Path, *, limit: int | None = None, seed: int = 0) -> Suite:
    if not source.is_dir():
        raise SuiteError(f"{source}: expected a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    qrels_path = source / "qrels" / "test.tsv"
    if not qrels_path.is_file() or not (source / "queries.jsonl").is_file():
        raise SuiteError(f"{source}: queries.jsonl and qrels/test.tsv are required")
    articles = [
        ArticleInput(id=_article_id(str(d["_id"])), title=d.get("title") or "", text=d["text"])
        for d in iter_jsonl(_beir_corpus(source))
        if str(d.get("text", "")).strip()
    ]
    gold: dict[str, list[str]] = {}
    with qrels_path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if int(row["score"]) > 0:
                gold.setdefault(row["query-id"], []).append(_article_id(row["corpus-id"]))
    known = {a.id for a in articles}
    # Only the query text: BEIR `metadata` may hold the evidence (SciFact does), i.e. the answer.
    questions = [
        Question(
            id=str(q["_id"]),
            question=q["text"],
            gold_article_ids=[d for d in gold[str(q["_id"])] if d in known],
        )
        for q in iter_jsonl(source / "queries.jsonl")
        if str(q["_id"]) in gold
    ]
    return _build(
        name=source.name,
        description=f"Converted from the BEIR folder {source.name} (test qrels).",
        articles=articles,
        questions=_sample(questions, limit, seed),
    )


def import_cnndm(source: Path, *, limit: int | None = None) -> Suite:
    if not source.is_file():
        raise SuiteError(f"{source}: no such JSONL file")
    articles: list[ArticleInput] = []
    items: list[SummaryItem] = []
    for number, obj in enumerate(iter_jsonl(source), start=1):
        if limit is not None and len(items) >= limit:
            break
        text = obj.get("article")
        reference = obj.get("highlights", obj.get("reference_summary"))
        if not isinstance(text, str) or not text.strip():
            raise SuiteError(f"{source}:{number}: missing `article` text")
        raw_id = obj.get("id") or hashlib.sha1(text.encode("utf-8")).hexdigest()
        article_id = _article_id(str(raw_id))
        articles.append(
            ArticleInput(id=article_id, title=obj.get("title") or "", text=text, url=obj.get("url"))
        )
        items.append(
            SummaryItem(
                id=article_id,
                article_id=article_id,
                group=obj.get("source_dataset")
                if isinstance(obj.get("source_dataset"), str)
                else None,
                reference=reference if isinstance(reference, str) else None,
                model_summaries=[
                    ModelSummary(
                        model=str(m.get("model", "")),
                        summary=m["summary"],
                        human_factuality=m.get("human_factuality"),
                    )
                    for m in obj.get("model_summaries", [])
                    if str(m.get("summary", "")).strip()
                ],
            )
        )
    return _build(
        name=source.stem,
        description=f"Converted from CNN/DailyMail-style {source.name}.",
        articles=articles,
        summaries=items,
    )

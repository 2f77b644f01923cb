"""The results document of an evaluation run, `results.json`, as pydantic models: what
`run_suite` returns, `write_results` writes and `read_results` reads back (for `--compare`).

The JSON shape is an interface: users keep results files and compare new runs with them. It
only grows — fields are added, never renamed or removed — and `format_version` says which
shape a file has:

1. Files without `format_version` (written before the field existed). Their fields are those of
   version 2, so they are read as they stand.
2. Adds `format_version`.

A file from a newer version than `RESULTS_FORMAT_VERSION` is refused rather than half read.

The document, top level: `suite`, `licence`, `started_at`, `finished_at`, `ingest` (articles,
rejected, chunks, seconds), `environment` (python, embedding_model, packages), `runs` (one per
configuration: label, config, settings, models, aggregates, rows), and a copy of the first run's
`label`, `config`, `aggregates` and `rows` (kept for readers of the first format; it is written
from `runs[0]` and, when read, must equal it).

A row is one item of a run — a question, a summary item or a labelled summary scored by the
checker (`kind`). It holds only what applies to it: a metric that does not apply (no retrieval
gold, an abstention without citations, …) is absent from the JSON, not null. `aggregates` maps
each metric to its value over all rows, and `metric[group]` to its value over one group's rows
(items may name a `group`)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_serializer,
    model_serializer,
    model_validator,
)

from newsdesk.settings import Backend, RetrievalMode

RESULTS_FORMAT_VERSION = 2
RESULTS_FILE = "results.json"
# The first run's fields that the top level repeats.
_FIRST_RUN_COPY = ("label", "config", "aggregates", "rows")


class ResultsError(ValueError):
    """A results file that cannot be read or does not validate; the message says where."""


class _Model(BaseModel):
    # NaN stays NaN in the JSON, as json.dumps wrote it before these models.
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")


# --- rows ----------------------------------------------------------------------------------


def _metric(key: str) -> Any:
    """A row field whose JSON key is not a Python name (e.g. `recall@1`)."""
    return Field(default=None, validation_alias=key, serialization_alias=key)


class _Row(_Model):
    model_config = ConfigDict(populate_by_name=True, validate_assignment=True)

    kind: str
    id: str
    group: str | None = Field(
        default=None, description="The item's subset; aggregates are also given per group."
    )

    @model_serializer(mode="wrap")
    def _only_what_applies(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        """Fields never set are absent (a null is kept where it was set: an undefined value,
        such as the citation precision of an answer that cites nothing)."""
        data: dict[str, Any] = {"kind": self.kind, **handler(self)}  # kind first, for readers
        for name, field in type(self).model_fields.items():
            if name != "kind" and name not in self.model_fields_set:
                key = (
                    field.serialization_alias
                    if info.by_alias and field.serialization_alias
                    else name
                )
                data.pop(key, None)
        return data


class QuestionRow(_Row):
    kind: Literal["question"] = "question"
    question: str
    # Retrieval (questions with gold articles or passages).
    search_ms: float | None = None
    ranked: list[str] | None = Field(default=None, description="The first 10 ranking keys.")
    recall_at_1: float | None = _metric("recall@1")
    recall_at_5: float | None = _metric("recall@5")
    recall_at_10: float | None = _metric("recall@10")
    mrr_at_10: float | None = _metric("mrr@10")
    ndcg_at_10: float | None = _metric("ndcg@10")
    latency_ms: float | None = None
    # The answer (questions with answers or marked unanswerable).
    prediction: str | None = None
    gold: list[str] | None = None
    unanswerable: bool | None = None
    abstained: bool | None = None
    degraded_share: float | None = None
    exact_match: float | None = None
    f1: float | None = None
    retrieval_ms: float | None = None
    generation_ms: float | None = None
    check_ms: float | None = None
    exact_match_answerable: float | None = None
    f1_answerable: float | None = None
    answer_containment: float | None = None
    answer_words: int | None = None
    # Citations (answers with sentences); a precision is null when nothing was cited.
    citation_recall: float | None = None
    citation_precision: float | None = None
    citation_recall_lexical: float | None = None
    citation_precision_lexical: float | None = None
    faithfulness: float | None = None


class SummaryRow(_Row):
    kind: Literal["summary"] = "summary"
    article_id: str
    lead3_rouge1: float | None = None
    lead3_rouge2: float | None = None
    lead3_rougeL: float | None = None  # noqa: N815 (the JSON key)
    summary: str | None = None
    summary_cached: bool | None = None
    summary_ms: float | None = Field(default=None, description="Absent on a cache hit.")
    rouge1: float | None = None
    rouge2: float | None = None
    rougeL: float | None = None  # noqa: N815 (the JSON key)
    degraded_share: float | None = None
    summary_faithfulness: float | None = None


class CheckerRow(_Row):
    """A summary with a human factuality label, scored by the support checker."""

    kind: Literal["checker"] = "checker"
    human_factuality: float
    checker_min: float
    checker_mean: float
    lexical_min: float


ResultRow = Annotated[QuestionRow | SummaryRow | CheckerRow, Field(discriminator="kind")]


def row_values(row: QuestionRow | SummaryRow | CheckerRow) -> dict[str, Any]:
    """The row as its JSON object: metric → value, for what applies to it."""
    return row.model_dump(mode="json", by_alias=True)


# --- a run ---------------------------------------------------------------------------------


class RunConfig(_Model):
    """One configuration of a run: which backend answers, which retrieval ranks."""

    model_config = ConfigDict(frozen=True)

    backend: Backend = "extractive"
    retrieval: RetrievalMode = "hybrid"
    top_k: int | None = None

    @property
    def label(self) -> str:
        return f"{self.backend}/{self.retrieval}" + (f"/k{self.top_k}" if self.top_k else "")


class Models(_Model):
    embedding: str
    llm: list[str] = Field(description="Chat models that answered (none for extractive).")


class RunResult(_Model):
    """One configuration's results."""

    label: str
    config: RunConfig
    settings: dict[str, JsonValue] = Field(
        description="The run's settings (newsdesk.settings.Settings), without the API key."
    )
    models: Models
    aggregates: dict[str, float] = Field(
        description="metric → value over all rows; `metric[group]` → over one group's rows."
    )
    rows: list[ResultRow]

    @property
    def groups(self) -> list[str]:
        """The groups the rows name, sorted (their metrics are `metric[group]`)."""
        return sorted({row.group for row in self.rows if row.group})


# --- the document --------------------------------------------------------------------------


class IngestStats(_Model):
    articles: int
    rejected: int
    chunks: int
    seconds: float


class Environment(_Model):
    python: str
    embedding_model: str
    packages: dict[str, str | None] = Field(description="Versions; null when not installed.")


class EvalResults(_Model):
    format_version: int = RESULTS_FORMAT_VERSION
    suite: str
    licence: str
    started_at: datetime
    finished_at: datetime
    ingest: IngestStats
    environment: Environment
    runs: list[RunResult] = Field(min_length=1)

    @property
    def first(self) -> RunResult:
        """The first configuration: the one `--compare` compares and the top level repeats."""
        return self.runs[0]

    @field_serializer("started_at", "finished_at")
    def _iso(self, moment: datetime) -> str:
        return moment.isoformat()  # "+00:00", as the first format wrote it (not "Z")

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Bring an older document to the current version (the only place that knows the
        versions apart), and drop the top-level copy of the first run after checking it."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        version = data.get("format_version", 1)  # version 1 files have no such field
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"format_version must be a positive integer, got {version!r}")
        if version > RESULTS_FORMAT_VERSION:
            raise ValueError(
                f"written in results format {version}; this newsdesk reads formats up to "
                f"{RESULTS_FORMAT_VERSION}: upgrade newsdesk to read it"
            )
        # 1 → 2: only the version field was added.
        data["format_version"] = RESULTS_FORMAT_VERSION
        runs = data.get("runs")
        first = runs[0] if isinstance(runs, list) and runs and isinstance(runs[0], dict) else None
        for key in _FIRST_RUN_COPY:
            if key not in data:
                continue
            copied = data.pop(key)
            if first is not None and key in first and _canonical(copied) != _canonical(first[key]):
                raise ValueError(f"top-level {key!r} differs from runs[0], which it must copy")
        return data

    @model_serializer(mode="wrap")
    def _with_first_run_copy(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        runs = data.pop("runs")
        copy = {key: runs[0][key] for key in _FIRST_RUN_COPY}
        return {**data, **copy, "runs": runs}


# --- files ---------------------------------------------------------------------------------


def dump_results(results: EvalResults) -> str:
    # json.dumps rather than model_dump_json: the same formatting as files of the first format.
    data = results.model_dump(mode="json", by_alias=True)
    return json.dumps(data, indent=1, ensure_ascii=False)


def parse_results(text: str, source: str = "results") -> EvalResults:
    """Read a results document; raises ResultsError naming `source` and what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{source}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{source}: not a newsdesk results document (not a JSON object)")
    try:
        return EvalResults.model_validate(data)
    except ValidationError as exc:
        raise ResultsError(f"{source}: not a newsdesk results document: {_describe(exc)}") from None


def write_results(results: EvalResults, out: Path) -> Path:
    """Write `out/results.json`; returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / RESULTS_FILE
    path.write_text(dump_results(results), encoding="utf-8")
    return path


def read_results(path: Path) -> EvalResults:
    """A results file, or the `results.json` of a folder."""
    file = path / RESULTS_FILE if path.is_dir() else path
    if not file.is_file():
        raise ResultsError(f"{path}: no {RESULTS_FILE} to compare with")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{file}: cannot read: {exc}") from None
    return parse_results(text, str(file))


def _canonical(value: Any) -> str:
    """JSON text for comparing values read from JSON (NaN equals NaN here, unlike in ==)."""
    return json.dumps(value, sort_keys=True)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")

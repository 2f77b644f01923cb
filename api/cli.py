"""The `newsdesk` command line. Each command opens the collection in NEWSDESK_DATA_DIR, calls
the same operation as the matching HTTP endpoint, and with --json prints exactly its JSON."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from newsdesk.answers import SummaryRequest
from newsdesk.api.bench_cli import bench_app
from newsdesk.api.eval_cli import eval_app
from newsdesk.api.schemas import MAX_PAGE, SearchBody
from newsdesk.domain import SearchFilters
from newsdesk.errors import InvalidInput, NewsdeskError
from newsdesk.index.readers import describe_validation_error, read_paths
from newsdesk.settings import EmbeddingBackend, RetrievalMode, Settings
from newsdesk.stores.keys import KeyStore, StoredKey

# The collection's commands import the service (`newsdesk.api.operations`: torch, faiss, the
# models) inside their bodies, so that `--help`, `keys` and argument errors answer in a
# fraction of a second instead of paying seconds of imports (tests/test_cli.py checks it).
if TYPE_CHECKING:
    from newsdesk.answers import AnswerSentence, Citation, SourceRelation, TimeRange
    from newsdesk.container import Newsdesk

app = typer.Typer(
    help="Cited question answering over news articles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
articles_app = typer.Typer(help="List, show and delete stored articles.", no_args_is_help=True)
app.add_typer(articles_app, name="articles")
keys_app = typer.Typer(
    help="Create, list and revoke API keys (also while `newsdesk serve` runs).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")
app.add_typer(eval_app, name="eval")
app.add_typer(bench_app, name="bench")

stderr = Console(stderr=True, soft_wrap=True)
stdout = Console(soft_wrap=True)
T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print the HTTP endpoint's JSON.")]


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app(args=ray_value_optional(sys.argv[1:]))


def ray_value_optional(args: list[str]) -> list[str]:
    """`ingest --ray [ADDRESS]`: typer has no options whose value may be left out, so a
    `--ray` not followed by a Ray address (the end, another option, or a path) is given an
    empty one here, and the next word stays what it is."""
    done: list[str] = []
    for position, arg in enumerate(args):
        following = args[position + 1] if position + 1 < len(args) else None
        if arg == "--ray" and (following is None or not _RAY_ADDRESS.fullmatch(following)):
            done.append("--ray=")
        else:
            done.append(arg)
    return done


@contextmanager
def _desk(as_json: bool, settings: Settings | None = None) -> Iterator[Newsdesk]:
    """Open the collection; turn the core's errors into a message and exit status 1 (among
    them a data directory that another process holds: one process per data directory)."""
    from newsdesk.api.problems import problem_for
    from newsdesk.container import Newsdesk

    try:
        with Newsdesk.open(settings or Settings()) as desk:
            yield desk
    except ValidationError as exc:
        error = InvalidInput(describe_validation_error(exc))
        if as_json:
            print(json.dumps(problem_for(error).model_dump(exclude_none=True), indent=2))
        stderr.print(f"[red]error:[/red] {error.detail}", highlight=False)
        raise typer.Exit(1) from None
    except NewsdeskError as exc:
        if as_json:
            print(json.dumps(problem_for(exc).model_dump(exclude_none=True), indent=2))
        stderr.print(f"[red]error:[/red] {exc.detail}", highlight=False)
        raise typer.Exit(1) from None


def _print_json(model: BaseModel | dict[str, Any]) -> None:
    data = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _with_spinner(
    label: str, work: Callable[[Callable[[int], None]], T], unit: str = "articles"
) -> T:
    with Progress(
        SpinnerColumn(),
        TextColumn(f"{{task.description}}: {{task.completed}} {unit}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=not stderr.is_terminal,
    ) as progress:
        task = progress.add_task(label, total=None)
        return work(lambda n: progress.advance(task, n))


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of articles.")],
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Read, chunk and embed on Ray (the `ray` extra): the cluster at ADDRESS "
            "(`auto`, `HOST:PORT`, `ray://HOST:PORT`), else NEWSDESK_RAY_ADDRESS's, else a "
            "local Ray instance (also `local`). Same report as without.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Embedding actors of a Ray ingest (2 if not given)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest .txt, .md, .html, .json and .jsonl articles (folders are walked)."""
    from newsdesk.api import operations
    from newsdesk.index.ray_ingest import RayOptions

    settings = _settings()
    address = _ray_address(ray, settings)
    if address is None and workers is not None:
        _fail("--workers sets the embedding actors of a Ray ingest: give --ray too")
    with _desk(as_json, settings) as desk:
        if address is None:
            work = lambda advance: operations.ingest(desk, read_paths(paths), advance)  # noqa: E731
        else:
            options = RayOptions(address or None, workers or 2)
            work = lambda advance: operations.ingest_on_ray(desk, paths, options, advance)  # noqa: E731
        report = _with_spinner("ingesting", work)
    if as_json:
        _print_json(report)
    else:
        for rejected in report.rejected:
            where = rejected.origin or rejected.id or "article"
            stderr.print(f"[yellow]rejected[/yellow] {where}: {rejected.reason}", highlight=False)
        stderr.print(report.summary_line(), highlight=False)
    if report.rejected:
        raise typer.Exit(1)


_RAY_ADDRESS = re.compile(r"(auto|local|ray://[^\s/]+:\d+|[\w.\-]+:\d+|\[[0-9a-fA-F:]+\]:\d+)")


def _ray_address(option: str | None, settings: Settings) -> str | None:
    """None: a plain ingest; "": a local Ray instance; else the cluster's address."""
    if option is None and not settings.ray_address:  # Ray only when asked or configured
        return None
    address = option or settings.ray_address or ""
    if address and not _RAY_ADDRESS.fullmatch(address):
        _fail(f"{address!r} is not a Ray address (auto, local, HOST:PORT or ray://HOST:PORT)")
    return "" if address == "local" else address


def _fail(message: str) -> NoReturn:
    stderr.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


@app.command()
def reindex(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="The new embedding model: a sentence-transformers name or local path "
            "(all-MiniLM-L6-v2 is packaged; nothing is downloaded).",
        ),
    ],
    backend: Annotated[
        EmbeddingBackend | None,
        typer.Option(
            "--backend",
            help="What runs it: torch, openvino or openvino-bf16 (if not given: "
            "NEWSDESK_EMBEDDING_BACKEND's).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-embed the collection with another model, then switch to it in one step.

    The new vectors are built beside the live ones (searches go on with the old model) and
    switched to in one transaction. Run it again after an interruption: it resumes. Refused
    while a server holds the data directory (one process per data directory)."""
    from newsdesk.api import operations

    with _desk(as_json) as desk:
        report = _with_spinner(
            "re-embedding chunks",
            lambda advance: operations.reindex(desk, model, backend, advance),
            unit="chunks",
        )
    if as_json:
        _print_json(report)
        return
    stderr.print(
        f"{report.chunks} chunks now embedded with {report.model} (was {report.previous_model}; "
        f"{report.embedded} embedded, {report.resumed} resumed) in {report.seconds:.1f} s",
        highlight=False,
    )
    stderr.print(
        f"set NEWSDESK_EMBEDDING_MODEL={model}"
        + (f" NEWSDESK_EMBEDDING_BACKEND={backend}" if backend else "")
        + " in the configuration; until then the collection's choice overrides it",
        highlight=False,
    )


def _filters(
    source: list[str] | None,
    article_id: list[str] | None,
    after: datetime | None,
    before: datetime | None,
) -> SearchFilters:
    return SearchFilters(
        sources=source or None,
        article_ids=article_id or None,
        published_after=after,
        published_before=before,
    )


SourceOption = Annotated[list[str] | None, typer.Option("--source", help="Only this outlet.")]
AfterOption = Annotated[datetime | None, typer.Option("--after", help="Published on/after.")]
BeforeOption = Annotated[datetime | None, typer.Option("--before", help="Published on/before.")]
ArticleIdOption = Annotated[
    list[str] | None, typer.Option("--article-id", help="Only this article.")
]
TopKOption = Annotated[int | None, typer.Option("--top-k", "-k", help="Passages to use.")]
AsOfOption = Annotated[
    datetime | None,
    typer.Option(
        "--as-of", help="Resolve relative dates ('last week', 'on Monday') against this date."
    ),
]


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    top_k: TopKOption = None,
    source: SourceOption = None,
    article_id: ArticleIdOption = None,
    after: AfterOption = None,
    before: BeforeOption = None,
    mode: Annotated[RetrievalMode | None, typer.Option(help="hybrid, dense or lexical.")] = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ranked passages for a query."""
    from newsdesk.api import operations

    with _desk(as_json) as desk:
        body = SearchBody(
            query=query,
            top_k=top_k,
            filters=_filters(source, article_id, after, before),
            mode=mode,
            as_of=as_of,
        )
        response = operations.search(desk, body)
    if as_json:
        _print_json(response)
        return
    if response.time_range is not None:
        stderr.print(_time_range_note(response.time_range), highlight=False)
    if not response.results:
        stderr.print("no matching passages")
    for rank, passage in enumerate(response.results, start=1):
        date = passage.published_at.date().isoformat() if passage.published_at else "undated"
        stdout.print(
            f"[bold]{rank}. {passage.title}[/bold] ({passage.article_id}, {date}) "
            f"score {passage.score:.4f} chars {passage.char_start}-{passage.char_end}",
            highlight=False,
        )
        stdout.print(f"   {passage.text}\n", highlight=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    top_k: TopKOption = None,
    source: SourceOption = None,
    article_id: ArticleIdOption = None,
    after: AfterOption = None,
    before: BeforeOption = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question from the articles, every sentence cited (POST /ask)."""
    from newsdesk.api import operations

    with _desk(as_json) as desk:
        filters = _filters(source, article_id, after, before)
        answer = operations.ask(desk, question, top_k, filters, as_of=as_of)
    if as_json:
        _print_json(answer)
        return
    stdout.print(answer.answer, highlight=False)
    _print_sources(answer.sentences, answer.citations)
    _print_relations(answer.relations)
    notes = [f"backend {answer.backend}", f"model {answer.model}"]
    if answer.time_range is not None:
        notes.append(_time_range_note(answer.time_range))
    if answer.abstained:
        notes.append(f"abstained: {answer.abstain_reason}")
    if answer.degraded:
        notes.append(f"degraded: {answer.degraded_reason}")
    if answer.fallback_reason:
        notes.append(f"the story's own sentences answered: {answer.fallback_reason}")
    stderr.print(" · ".join(notes), highlight=False)


@app.command()
def summarize(
    article: Annotated[
        str | None, typer.Argument(help="Id of the article to summarise.", show_default=False)
    ] = None,
    topic: Annotated[
        str | None, typer.Option("--topic", help="Summarise what the collection says on this.")
    ] = None,
    articles: Annotated[
        str | None,
        typer.Option("--articles", help="Comma-separated ids: summarise these together."),
    ] = None,
    length: Annotated[str, typer.Option("--length", help="short, medium or long.")] = "medium",
    max_words: Annotated[
        int | None, typer.Option("--max-words", help="A word budget (overrides --length).")
    ] = None,
    bullets: Annotated[bool, typer.Option("--bullets", help="One bullet a sentence.")] = False,
    top_k: TopKOption = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Summarise an article, several articles or a topic, every sentence cited
    (POST /summaries)."""
    from newsdesk.api import operations

    with _desk(as_json) as desk:
        request = SummaryRequest(
            article_id=article,
            article_ids=[a.strip() for a in articles.split(",") if a.strip()] if articles else None,
            topic=topic,
            length=length,
            max_words=max_words,
            style="bullets" if bullets else "paragraph",
            top_k=top_k,
            as_of=as_of,
        )
        summary = operations.summarize(desk, request)
    if as_json:
        _print_json(summary)
        return
    stdout.print(summary.summary or "(nothing to summarise)", highlight=False)
    _print_sources(summary.sentences, summary.citations)
    _print_relations(summary.relations)
    notes = [
        f"backend {summary.backend}",
        f"model {summary.model}",
        f"{summary.max_words}-word budget",
    ]
    if summary.time_range is not None:
        notes.append(_time_range_note(summary.time_range))
    if summary.cached:
        notes.append("cached")
    if summary.hierarchical:
        notes.append("hierarchical (map-reduce)")
    if summary.abstained:
        notes.append(f"abstained: {summary.abstain_reason}")
    if summary.degraded:
        notes.append(f"degraded: {summary.degraded_reason}")
    stderr.print(" · ".join(notes), highlight=False)


@app.command()
def timeline(
    topic: Annotated[str, typer.Argument(help="What the timeline is about.")],
    after: AfterOption = None,
    before: BeforeOption = None,
    source: SourceOption = None,
    top_k: TopKOption = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Dated events of a topic in date order, each a cited sentence (POST /timeline).
    "what changed since DATE" keeps only the facts new after DATE."""
    from newsdesk.answers import TimelineRequest
    from newsdesk.api import operations

    with _desk(as_json) as desk:
        request = TimelineRequest(
            topic=topic,
            filters=_filters(source, None, after, before),
            as_of=as_of,
            top_k=top_k,
        )
        result = operations.timeline(desk, request)
    if as_json:
        _print_json(result)
        return
    if result.abstained:
        stderr.print(f"no timeline: {result.abstain_reason}", highlight=False)
    for event in result.events:
        marks = "".join(f"[{c.number}]" for c in event.citations)
        stdout.print(
            f"{event.date.isoformat()} ({event.date_source}) {event.text} {marks}",
            highlight=False,
            markup=False,
        )
    citations = {c.number: c for e in result.events for c in e.citations}
    if citations:
        stdout.print("\nSources:", highlight=False)
    for number in sorted(citations):
        citation = citations[number]
        date = citation.published_at.date().isoformat() if citation.published_at else "undated"
        stdout.print(
            f"[{number}] {citation.title} ({citation.source or citation.article_id}, {date})",
            highlight=False,
            markup=False,
        )
    if result.time_range is not None:
        stderr.print(_time_range_note(result.time_range), highlight=False)


def _time_range_note(time_range: TimeRange) -> str:
    after = time_range.published_after.date().isoformat() if time_range.published_after else "…"
    before = time_range.published_before.date().isoformat() if time_range.published_before else "…"
    return f"published {after} to {before} (from '{time_range.resolved_from}')"


def _print_sources(sentences: list[AnswerSentence], citations: list[Citation]) -> None:
    for sentence in sentences:
        if not sentence.supported:
            stdout.print(
                f"[yellow]unsupported (support {sentence.support:.2f}):[/yellow] {sentence.text}",
                highlight=False,
            )
    if citations:
        stdout.print("\nSources:", highlight=False)
    for citation in citations:
        date = citation.published_at.date().isoformat() if citation.published_at else "undated"
        stdout.print(
            f"[{citation.number}] {citation.title} ({citation.source or citation.article_id}, "
            f"{date}) {citation.url or ''}\n    “{citation.quote}”",
            highlight=False,
            markup=False,
        )


def _print_relations(relations: list[SourceRelation]) -> None:
    """One line per relation; a disagreement names the fact and the words of both sides."""
    for relation in relations:
        conflict = ""
        if relation.kind is not None:
            conflict = f" ({relation.kind}: “{relation.evidence}” against “{relation.claim}”)"
        stdout.print(
            f"sentence {relation.sentence + 1}: {relation.article_id} {relation.relation} "
            f"[{relation.citation}]{conflict}",
            highlight=False,
            markup=False,
        )


@articles_app.command("list")
def list_articles(
    source: SourceOption = None,
    after: AfterOption = None,
    before: BeforeOption = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_PAGE)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: JsonOption = False,
) -> None:
    """Stored articles, newest first."""
    from newsdesk.api import operations

    with _desk(as_json) as desk:
        page = operations.list_articles(desk, _filters(source, None, after, before), limit, offset)
    if as_json:
        _print_json(page)
        return
    for item in page.items:
        date = item.published_at.date().isoformat() if item.published_at else "undated"
        stdout.print(f"{item.id}  {date}  {item.source or '-'}  {item.title}", highlight=False)
    stderr.print(f"{len(page.items)} of {page.total} articles")


@articles_app.command("show")
def show_article(article_id: str, as_json: JsonOption = False) -> None:
    """One article with its chunks and their offsets."""
    from newsdesk.api import operations

    with _desk(as_json) as desk:
        article = operations.get_article(desk, article_id)
    if as_json:
        _print_json(article)
        return
    stdout.print(f"[bold]{article.title}[/bold]\n{article.url or ''}\n", highlight=False)
    stdout.print(article.text, highlight=False)
    stderr.print(f"\n{len(article.chunks)} chunks")


@articles_app.command("delete")
def delete_article(article_id: str, as_json: JsonOption = False) -> None:
    """Remove an article from the database and both indexes."""
    from newsdesk.api import operations

    with _desk(as_json) as desk:
        operations.delete_article(desk, article_id)
    if as_json:
        _print_json({"deleted": article_id})
    else:
        stderr.print(f"deleted {article_id}")


@app.command()
def status(as_json: JsonOption = False) -> None:
    """What the collection holds and which models it uses (GET /health)."""
    from newsdesk.api import operations

    with _desk(as_json) as desk:
        health = operations.health(desk)
    if as_json:
        _print_json(health)
    else:
        for key, value in health.model_dump().items():
            stdout.print(f"{key}: {value}", highlight=False)


class KeyRole(StrEnum):
    read = "read"
    admin = "admin"


def _settings() -> Settings:
    """The settings, or a message and exit status 1 when they are invalid (a short key)."""
    try:
        return Settings()
    except ValidationError as exc:
        stderr.print(f"[red]error:[/red] {describe_validation_error(exc)}", highlight=False)
        raise typer.Exit(1) from None


@contextmanager
def _key_store() -> Iterator[KeyStore]:
    """Only the database, not the collection: no data-directory lock, so these commands
    work beside a running server (SQLite's WAL lets both in)."""
    settings = _settings()
    try:
        with KeyStore(settings.database) as store:
            yield store
    except NewsdeskError as exc:
        stderr.print(f"[red]error:[/red] {exc.detail}", highlight=False)
        raise typer.Exit(1) from None


@keys_app.command("create")
def create_key(
    role: Annotated[
        KeyRole,
        typer.Option(
            "--role",
            help="read: search, ask, summaries, chat, article "
            "reads. admin: also ingest, upload, delete and keys.",
            show_default=False,
        ),
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="A unique name (default: generated).")
    ] = None,
    from_stdin: Annotated[
        bool,
        typer.Option(
            "--from-stdin",
            help="Store the key read from standard input (at least 32 characters) instead "
            "of generating one.",
        ),
    ] = False,
) -> None:
    """Make a key and print it once, alone on the last line (`... | tail -1`); only its
    SHA-256 is stored. A running service accepts it at once."""
    offered = sys.stdin.readline().strip() if from_stdin else None
    with _key_store() as store:
        stored, key = store.create(role.value, name, offered)
    stderr.print(
        f"created {stored.role} key '{stored.name}'; it is shown only now:", highlight=False
    )
    print(key, flush=True)


@keys_app.command("list")
def list_keys(as_json: JsonOption = False) -> None:
    """Name, role, created and revoked time of each stored key (never the key)."""
    with _key_store() as store:
        keys = store.list()
    if as_json:
        _print_json({"keys": [_key_json(key) for key in keys]})
        return
    for key in keys:
        revoked = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
        stdout.print(
            f"{key.name}  {key.role}  created {key.created_at.isoformat()}  {revoked}",
            highlight=False,
            markup=False,
        )
    configured = len(_settings().api_keys)
    more = f" (and {configured} admin keys from NEWSDESK_API_KEYS)" if configured else ""
    stderr.print(f"{len(keys)} stored keys{more}", highlight=False)


def _key_json(key: StoredKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "role": key.role,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@keys_app.command("revoke")
def revoke_key(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke a stored key: a running service refuses it from the next request."""
    with _key_store() as store:
        key = store.revoke(name)
    assert key.revoked_at is not None
    stderr.print(f"revoked '{key.name}' ({key.revoked_at.isoformat()})", highlight=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (NEWSDESK_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (NEWSDESK_PORT).")] = None,
) -> None:
    """Run the HTTP service on the configured data directory."""
    import uvicorn

    from newsdesk.api.app import create_app
    from newsdesk.logs import configure_logging

    settings = _settings()
    if host is not None:
        # The app answers to the host it binds (its allowed hosts), so it must know it.
        settings = settings.model_copy(update={"host": host})
    configure_logging(settings)
    # Opened here rather than in the app's lifespan, so that a data directory held by another
    # process (one process per data directory) is refused with a message, not a traceback.
    with _desk(as_json=False, settings=settings) as desk:
        uvicorn.run(
            create_app(settings, desk=desk, warm_up=True),
            host=settings.host,
            port=settings.port if port is None else port,
            log_level=settings.log_level,
            # uvicorn's loggers go through ours (JSON, request ids); the access line is the
            # observability middleware's (no query string, with the request id).
            log_config=None,
            access_log=False,
        )


if __name__ == "__main__":
    main()

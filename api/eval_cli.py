"""`newsdesk eval`: run an evaluation suite, or (`newsdesk eval import`) convert public data
into one. The work is done by newsdesk.evals; this module only parses and prints."""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer
from rich.console import Console
from typer.core import TyperGroup

from newsdesk.evals.importers import SourceFormat, import_source
from newsdesk.evals.suite import SuiteError, load_suite, write_articles, write_suite
from newsdesk.settings import Backend, RetrievalMode, Settings

if TYPE_CHECKING:
    # The classes TyperGroup's methods take: typer vendors click as typer._click.
    from typer._click import Command, Context

    from newsdesk.evals.compare import Delta
    from newsdesk.evals.results import EvalResults, RunConfig


class SuiteOrCommand(TyperGroup):
    """`newsdesk eval SUITE …` runs a suite; `newsdesk eval import …` converts data. A first
    argument that names no subcommand is taken as a suite and routed to `run`."""

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


eval_app = typer.Typer(
    cls=SuiteOrCommand,
    help="Evaluate: `newsdesk eval SUITE --out DIR [--backend B]... [--retrieval M]... "
    "[--top-k K] [--compare PREV_DIR --fail-on METRIC:DROP]` runs a suite (options: "
    "`newsdesk eval run --help`); `newsdesk eval import` converts public data into one.",
    no_args_is_help=True,
)
stderr = Console(stderr=True, soft_wrap=True)
stdout = Console(soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    stderr.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    return typer.Exit(1)


def resolve_suite(name: Path) -> Path:
    """A path, or the name of a shipped suite (e.g. `squad2-dev-qa`)."""
    if name.exists():
        return name
    shipped = resources.files("newsdesk.evals") / "suites"
    for suffix in ("", ".json", ".json.gz", ".yaml"):
        candidate = shipped / f"{name}{suffix}"
        if candidate.is_file():
            return Path(str(candidate))
    return name


@eval_app.command("run", hidden=True)
def run(
    suite: Annotated[Path, typer.Argument(help="Suite file, or the name of a shipped suite.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for results.json and the report.")],
    backend: Annotated[
        list[str] | None,
        typer.Option("--backend", help="local, openai or extractive; repeat to compare."),
    ] = None,
    retrieval: Annotated[
        list[str] | None,
        typer.Option("--retrieval", help="dense, lexical or hybrid; repeat to compare."),
    ] = None,
    top_k: Annotated[
        int | None, typer.Option("--top-k", min=1, help="Passages per answer.")
    ] = None,
    compare: Annotated[
        Path | None, typer.Option("--compare", help="A previous results folder.")
    ] = None,
    fail_on: Annotated[
        list[str] | None,
        typer.Option("--fail-on", help="METRIC:DROP — exit 1 if METRIC worsens by more."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Only the first N questions and summary items."),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir",
            help="Keep the suite's collection here (re-runs skip unchanged articles); "
            "default: a temporary folder, removed afterwards.",
        ),
    ] = None,
) -> None:
    """Run SUITE and write DIR/results.json and DIR/report.md (with plots)."""
    # Imported here: the runner, metrics and report pull in torch, scipy, nltk and
    # matplotlib, seconds of start-up that every other command (and --help) should not pay.
    from newsdesk.evals.compare import (
        CompareError,
        compare_runs,
        load_results,
        parse_gate,
        regressions,
    )
    from newsdesk.evals.report import write_report
    from newsdesk.evals.results import write_results
    from newsdesk.evals.runner import run_suite

    try:
        gates = [parse_gate(g) for g in fail_on or []]
        if gates and compare is None:
            raise CompareError("--fail-on needs --compare PREVIOUS_DIR")
        previous = load_results(compare) if compare is not None else None
        loaded = load_suite(resolve_suite(suite)).limited(limit)
        configs = _configs(backend, retrieval, top_k)
    except (SuiteError, CompareError) as exc:
        raise _fail(str(exc)) from None
    logging.getLogger("newsdesk").setLevel(logging.WARNING)
    results = run_suite(
        loaded,
        configs,
        progress=lambda m: stderr.print(m, highlight=False, markup=False),
        data_dir=work_dir,
    )
    write_results(results, out)
    # The first configuration of each run (what the top level of results.json repeats).
    deltas = compare_runs(previous.first, results.first) if previous is not None else None
    failures = regressions(deltas, gates) if deltas is not None else []
    report = write_report(results, out, deltas, failures)
    _print_summary(results)
    if deltas is not None:
        _print_deltas(deltas)
    stderr.print(f"results: {out / 'results.json'}  report: {report}", highlight=False)
    for failure in failures:
        stderr.print(f"[red]regression:[/red] {failure}", highlight=False)
    if failures:
        raise typer.Exit(1)


def _configs(
    backends: list[str] | None, modes: list[str] | None, top_k: int | None
) -> list[RunConfig]:
    from newsdesk.evals.results import RunConfig

    settings = Settings()
    chosen_backends = list(dict.fromkeys(backends or [settings.backend]))
    chosen_modes = list(dict.fromkeys(modes or [settings.retrieval_mode]))
    for b in chosen_backends:
        if b not in get_args(Backend):
            raise SuiteError(f"unknown backend {b!r}: use local, openai or extractive")
    for m in chosen_modes:
        if m not in get_args(RetrievalMode):
            raise SuiteError(f"unknown retrieval mode {m!r}: use dense, lexical or hybrid")
    if top_k is not None and top_k > settings.max_top_k:
        raise SuiteError(f"--top-k must be at most {settings.max_top_k}")
    return [
        RunConfig.model_validate({"backend": b, "retrieval": m, "top_k": top_k})
        for b in chosen_backends
        for m in chosen_modes
    ]


def _print_summary(results: EvalResults) -> None:
    runs = results.runs
    names = list(dict.fromkeys(m for run in runs for m in run.aggregates))
    stdout.print("metric".ljust(28) + "".join(run.label.rjust(22) for run in runs))
    for name in names:
        cells = "".join(
            (f"{v:.4f}" if (v := run.aggregates.get(name)) is not None else "–").rjust(22)
            for run in runs
        )
        stdout.print(name.ljust(28) + cells, highlight=False)


def _print_deltas(deltas: list[Delta]) -> None:
    stdout.print("\nmetric".ljust(29) + "before".rjust(12) + "after".rjust(12) + "  delta (95% CI)")
    for d in deltas:
        ci = f" [{d.ci[0]:+.4f}, {d.ci[1]:+.4f}]" if d.ci else ""
        stdout.print(
            f"{d.metric:<28}{d.before:>12.4f}{d.after:>12.4f}  {d.delta:+.4f}{ci}", highlight=False
        )


@eval_app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help="squad, beir or cnndm.")],
    source: Annotated[Path, typer.Argument(help="The file (squad, cnndm) or folder (beir).")],
    out: Annotated[Path, typer.Option("--out", help="Suite file to write (.json, .yaml, .gz).")],
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Seeded sample of N questions (cnndm: first N)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the --limit sample.")] = 0,
    articles_out: Annotated[
        Path | None,
        typer.Option("--articles-out", help="Write the articles to this JSONL(.gz) instead."),
    ] = None,
) -> None:
    """Convert SQuAD-style JSON, a BEIR folder or CNN/DM-style JSONL into a suite."""
    if kind not in get_args(SourceFormat):
        raise _fail(f"unknown format {kind!r}: use squad, beir or cnndm")
    if not source.exists():
        raise _fail(f"{source}: not found")
    try:
        suite = import_source(kind, source, limit=limit, seed=seed)  # type: ignore[arg-type]
        if articles_out is not None:
            write_articles(suite.articles, articles_out)
            relative = os.path.relpath(articles_out.resolve(), out.resolve().parent)
            suite = suite.model_copy(update={"articles": [], "articles_file": str(relative)})
        write_suite(suite, out)
    except SuiteError as exc:
        raise _fail(str(exc)) from None
    stderr.print(
        f"{out}: {len(suite.articles) or 'external'} articles, {len(suite.questions)} questions, "
        f"{len(suite.summaries)} summary items",
        highlight=False,
    )

"""Generators for the reference parts of the manual, run by cog inside the Markdown pages.

A page holds blocks such as::

    <!-- [[[cog
    import docgen
    cog.out(docgen.settings_table())
    ]]] -->
    … generated text …
    <!-- [[[end]]] -->

and ``cog -r docs/*.md`` rewrites the generated text from the code (cog puts the processed
file's folder on ``sys.path``, so ``import docgen`` finds this script; it is not a package and
not installed). ``tests/test_docs.py`` runs ``cog --check`` and fails when a page is stale.

- :func:`settings_table` reads ``Settings.model_fields``: the descriptions in
  ``newsdesk/settings.py`` are the single source of the settings reference.
- :func:`cli_reference` runs the real ``newsdesk`` command line in a subprocess with a fixed
  terminal width and no colour, so the help text is what a user sees and the same on every
  machine (with the same typer and rich versions).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import annotated_types

ROOT = Path(__file__).resolve().parent.parent
HELP_WIDTH = 100

# --- settings -----------------------------------------------------------------------------


def settings_table() -> str:
    """One Markdown table row per setting: variable, default, accepted values, meaning."""
    from newsdesk.settings import Settings

    prefix = Settings.model_config.get("env_prefix", "")
    rows = [
        "| variable | default | accepts | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ValueError(f"setting {name!r} has no description in newsdesk/settings.py")
        variable = f"{prefix}{name}".upper()
        default = field.default_factory() if field.default_factory else field.default
        cells = [
            f"`{variable}`",
            _default(default),
            _accepts(field.annotation, field.metadata),
            field.description,
        ]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n"


def _default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | tuple) and not value:
        return "empty"
    return f"`{value}`"


def _accepts(annotation: Any, metadata: list[Any]) -> str:
    """A short description of the values a field accepts, from its type and constraints."""
    optional = False
    args = typing.get_args(annotation)
    if type(None) in args:
        optional = True
        rest = [a for a in args if a is not type(None)]
        annotation = rest[0] if len(rest) == 1 else annotation
    if typing.get_origin(annotation) is typing.Literal:
        text = " \\| ".join(f"`{v}`" for v in typing.get_args(annotation))
    elif typing.get_origin(annotation) is list:
        text = "comma-separated list or JSON list"
    else:
        text = {
            bool: "`true` / `false`",
            int: "integer",
            float: "number",
            str: "text",
            Path: "path",
        }.get(annotation, getattr(annotation, "__name__", str(annotation)))
        bounds = _bounds(metadata)
        if bounds:
            text += f" {bounds}"
    return f"{text}, optional" if optional else text


def _bounds(metadata: list[Any]) -> str:
    low = high = None
    low_strict = high_strict = False
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Gt):
            low, low_strict = item.gt, True
        elif isinstance(item, annotated_types.Le):
            high = item.le
        elif isinstance(item, annotated_types.Lt):
            high, high_strict = item.lt, True
    if low is not None and high is not None and not (low_strict or high_strict):
        return f"{_number(low)} … {_number(high)}"
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_strict else '≥'} {_number(low)}")
    if high is not None:
        parts.append(f"{'<' if high_strict else '≤'} {_number(high)}")
    return ", ".join(parts)


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _cell(text: str) -> str:
    # Inside a table cell, a bare | would end the cell.
    return " ".join(text.split()).replace(" | ", " \\| ")


# --- command line -------------------------------------------------------------------------

# Runs in a subprocess, so that the environment below is in place before typer and rich are
# imported (they read it at import time) and nothing of the caller's terminal leaks in.
_HELP_SCRIPT = r"""
import json, sys
from typer.main import get_command
from typer.testing import CliRunner
from newsdesk.api.cli import app

root = get_command(app)
runner = CliRunner()
found = []

def walk(command, path):
    result = runner.invoke(app, [*path, "--help"], prog_name="newsdesk", color=False)
    if result.exit_code != 0:
        sys.exit(f"newsdesk {' '.join(path)} --help failed: {result.output}")
    found.append({"path": path, "hidden": command.hidden, "help": result.output})
    # typer may vendor its own click: look for subcommands rather than a class.
    if getattr(command, "commands", None):
        for name, sub in command.commands.items():
            walk(sub, [*path, name])

walk(root, [])
print(json.dumps(found))
"""


def _help_texts() -> list[dict[str, Any]]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("NEWSDESK_")
        and key not in {"FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS", "CLICOLOR_FORCE"}
    }
    env.update(
        NO_COLOR="1",
        TERM="dumb",
        COLUMNS=str(HELP_WIDTH),
        LINES="50",
        TERMINAL_WIDTH=str(HELP_WIDTH),
        _TYPER_FORCE_DISABLE_TERMINAL="1",
        PYTHONIOENCODING="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", _HELP_SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"collecting the CLI help failed:\n{done.stderr}")
    return json.loads(done.stdout)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def cli_reference(heading: str = "###") -> str:
    """A section per command and subcommand (hidden ones too), each with its --help text."""
    parts = []
    for entry in _help_texts():
        name = " ".join(["newsdesk", *entry["path"]])
        note = ""
        if entry["path"] == ["eval", "run"]:
            note = (
                "\nHidden from `newsdesk eval --help`: `newsdesk eval SUITE …` is routed here, "
                "so `newsdesk eval squad2-dev-qa --out DIR` and "
                "`newsdesk eval run squad2-dev-qa --out DIR` are the same.\n"
            )
        parts.append(f"{heading} `{name}`\n{note}\n```text\n{_tidy(entry['help'])}\n```\n")
    return "\n".join(parts)

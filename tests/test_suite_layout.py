"""The test suite's own conventions, checked: helpers that tests share are imported from
tests/support/ (never from a conftest, which pytest loads itself and which would then run
twice under two names, nor from another test module), and a live server is started in one
place only."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent
LIVE_SERVER = TESTS / "support" / "live_server.py"


def _imports() -> Iterator[tuple[Path, int, list[str]]]:
    """Every import statement under tests/: file, line, the dotted names it imports."""
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
                yield path, node.lineno, names
            elif isinstance(node, ast.Import):
                yield path, node.lineno, [alias.name for alias in node.names]


def test_nothing_imports_a_conftest() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{line}"
        for path, line, names in _imports()
        if any("conftest" in name.split(".") for name in names)
    ]
    assert offenders == [], f"import shared helpers from tests/support/ instead: {offenders}"


def test_no_test_module_imports_another() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{line}"
        for path, line, names in _imports()
        if any(part.startswith("test_") for name in names for part in name.split("."))
    ]
    assert offenders == [], f"move what tests share into tests/support/: {offenders}"


def test_uvicorn_is_started_only_by_the_live_server_helper() -> None:
    offenders = sorted(
        {
            str(path.relative_to(TESTS))
            for path, _, names in _imports()
            if path != LIVE_SERVER and any(name.split(".")[0] == "uvicorn" for name in names)
        }
    )
    assert offenders == [], f"serve the app with tests/support/live_server.py: {offenders}"

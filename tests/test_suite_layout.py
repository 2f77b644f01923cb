"""The test suite's own conventions, checked: helpers that tests share are imported from
tests/support/ (never from a conftest, which pytest loads itself and which would then run
twice under two names, nor from another test module), and a live server is started in one
place only."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
LIVE_SERVER = TESTS / "support" / "live_server.py"


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in TESTS.rglob("*.py")]


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or "", *(f"{node.module or ''}.{a.name}" for a in node.names)]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def test_nothing_imports_a_conftest() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{node.lineno}"
        for path, module in _modules()
        for node in ast.walk(module)
        if any("conftest" in name.split(".") for name in _imported(node))
    ]
    assert offenders == [], f"import shared helpers from tests/support/ instead: {offenders}"


def test_no_test_module_imports_another() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{node.lineno}"
        for path, module in _modules()
        for node in ast.walk(module)
        if any(part.startswith("test_") for name in _imported(node) for part in name.split("."))
    ]
    assert offenders == [], f"move what tests share into tests/support/: {offenders}"


def test_uvicorn_is_started_only_by_the_live_server_helper() -> None:
    offenders = [
        str(path.relative_to(TESTS))
        for path, module in _modules()
        if path != LIVE_SERVER
        and any(
            name.split(".")[0] == "uvicorn" for node in ast.walk(module) for name in _imported(node)
        )
    ]
    assert offenders == [], f"serve the app with tests/support/live_server.py: {offenders}"

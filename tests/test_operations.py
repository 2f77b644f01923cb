"""Every endpoint goes through api/operations.py: routes and their CLI twins reach the
collection's components only by calling an operation, so the two cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parent.parent / "api"
# The components an operation works on; a route or command touching one directly bypasses it.
_DIRECT = re.compile(
    r"\bdesk\.(answerer|summarizer|chat_model|checker|searcher|store|ingestor|indexes)\b"
)


@pytest.mark.parametrize(
    "path", sorted([*API.glob("routers/*.py"), API / "cli.py"]), ids=lambda p: p.name
)
def test_routes_and_commands_call_operations_not_components(path: Path) -> None:
    direct = [m.group() for m in _DIRECT.finditer(path.read_text(encoding="utf-8"))]
    assert not direct, f"{path.name} bypasses api/operations.py: {direct}"

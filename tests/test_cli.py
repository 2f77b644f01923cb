"""The installed `newsdesk` command, run as a user would, against a temporary data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings

from .support.cli import run_newsdesk
from .support.samples import SAMPLES

# Each command loads the model afresh; the commands that open the collection run on each
# article store (NEWSDESK_DATABASE_URL in their environment).
pytestmark = [pytest.mark.slow, pytest.mark.both_stores, pytest.mark.lexical_stores]


def _env(database_url: str | None) -> dict[str, str]:
    """The commands' environment: this one, on the test's article store."""
    return {**os.environ, **({"NEWSDESK_DATABASE_URL": database_url} if database_url else {})}


def test_ingest_search_and_json_parity_with_http(
    tmp_path: Path, embedder: Embedder, database_url: str | None
) -> None:
    data, env = tmp_path / "data", _env(database_url)
    ingested = run_newsdesk(data, "ingest", str(SAMPLES / "articles.jsonl"), "--json", env=env)
    assert ingested.returncode == 0, ingested.stderr
    report = json.loads(ingested.stdout)
    assert len(report["added"]) == 19 and report["chunks"] > 19
    assert set(report) >= {"added", "updated", "unchanged", "rejected", "chunks"}

    human = run_newsdesk(data, "ingest", str(SAMPLES / "articles.jsonl"), env=env)
    assert human.returncode == 0
    assert "0 added, 0 updated, 19 unchanged, 0 rejected" in human.stderr

    cli = run_newsdesk(
        data, "search", "crane collapse at the Grand Mosque", "--top-k", "3", "--json", env=env
    )
    assert cli.returncode == 0, cli.stderr
    cli_body = json.loads(cli.stdout)

    with (
        Newsdesk.open(
            Settings(data_dir=data, database_url=database_url, _env_file=None), embedder=embedder
        ) as desk,
        TestClient(create_app(desk.settings, desk=desk)) as client,
    ):
        http_body = client.post(
            "/search", json={"query": "crane collapse at the Grand Mosque", "top_k": 3}
        ).json()
        http_article = client.get("/articles/nato-no-fly-zone-stoltenberg").json()
    for body in (cli_body, http_body):
        body.pop("took_ms")
    assert cli_body == http_body

    shown = run_newsdesk(
        data, "articles", "show", "nato-no-fly-zone-stoltenberg", "--json", env=env
    )
    assert json.loads(shown.stdout) == http_article


def test_cli_errors_are_messages_with_a_non_zero_exit(
    tmp_path: Path, database_url: str | None
) -> None:
    data, env = tmp_path / "data", _env(database_url)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Café news".encode("latin-1"))
    result = run_newsdesk(data, "ingest", str(bad), env=env)
    assert result.returncode == 1
    assert "not UTF-8" in result.stderr and "Traceback" not in result.stderr

    too_many = run_newsdesk(data, "search", "anything", "--top-k", "1000000", "--json", env=env)
    assert too_many.returncode == 1
    assert json.loads(too_many.stdout)["status"] == 422

    missing = run_newsdesk(data, "articles", "show", "no-such-article", env=env)
    assert missing.returncode == 1 and "no article with id" in missing.stderr


def test_summarize_prints_the_endpoint_json_and_refuses_bad_targets(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, database_url: str | None
) -> None:
    monkeypatch.setenv("NEWSDESK_BACKEND", "extractive")
    data, env = tmp_path / "data", _env(database_url)
    assert run_newsdesk(data, "ingest", str(SAMPLES / "articles.jsonl"), env=env).returncode == 0
    article = "wikinews-2015-mecca-crane-collapse"
    cli = run_newsdesk(data, "summarize", article, "--length", "short", "--json", env=env)
    assert cli.returncode == 0, cli.stderr
    cli_body = json.loads(cli.stdout)
    human = run_newsdesk(data, "summarize", article, "--length", "short", env=env)
    assert human.returncode == 0 and "Sources:" in human.stdout and "cached" in human.stderr

    settings = Settings(
        data_dir=data, backend="extractive", database_url=database_url, _env_file=None
    )
    with (
        Newsdesk.open(settings, embedder=embedder) as desk,
        TestClient(create_app(settings, desk=desk)) as client,
    ):
        http_body = client.post("/summaries", json={"article_id": article, "length": "short"})
    http_body = http_body.json()
    for body in (cli_body, http_body):
        body.pop("timings"), body.pop("cached")
    assert cli_body == http_body

    for args, message in [
        (["summarize"], "exactly one of"),
        (["summarize", article, "--topic", "crane"], "exactly one of"),
        (["summarize", article, "--length", "epic"], "length"),
        (["summarize", "no-such-article"], "no article with id"),
    ]:
        result = run_newsdesk(data, *args, env=env)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_commands_that_open_no_collection_import_no_model_stack() -> None:
    """`--help`, `keys` and `eval import` must not pay for torch, faiss or the eval metrics
    (seconds of imports on every call); the collection's commands import them when they run."""
    probe = (
        "import sys\n"
        "import newsdesk.api.cli\n"
        "heavy = {'torch', 'faiss', 'sentence_transformers', 'newsdesk.container',\n"
        "         'newsdesk.api.operations', 'matplotlib', 'scipy', 'rouge_score'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout

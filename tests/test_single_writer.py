"""One process per data directory, with real processes: while `newsdesk serve` holds a data
directory, a CLI command or a second server on it is refused with a message naming the holder
and writes nothing; once the server dies (even by SIGKILL) the OS releases the lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.errors import DataDirectoryInUse
from newsdesk.settings import Settings

from .support.cli import NEWSDESK, free_port, newsdesk_serve, run_newsdesk
from .support.patience import PATIENCE_S
from .support.samples import SAMPLES

pytestmark = pytest.mark.slow  # each process loads the model afresh

REFUSAL = "stop it, or use its HTTP API"

LIGHTHOUSE_ID = "skarvholm-lighthouse-keeper-retires"
LIGHTHOUSE = {
    "id": LIGHTHOUSE_ID,
    "title": "Last lighthouse keeper of Skarvholm retires after forty years",
    "source": "Test Gazette",
    "published_at": "2024-03-01",
    "text": (
        "The last lighthouse keeper on the island of Skarvholm, Ingrid Solberg, retired on "
        "Friday after forty years of tending the lamp through winter gales. The lighthouse "
        "will now be run automatically from the mainland, the coastal authority said. "
        "Solberg said she would miss the seabirds and the long nights watching ships pass "
        "the reef, and that she plans to write a book about the storms she saw."
    ),
}
DENSE_QUERY = "a woman who looked after a coastal beacon for decades has stepped down"
LEXICAL_QUERY = "Skarvholm lighthouse keeper Solberg"


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env.update(NEWSDESK_DATA_DIR=str(data_dir), NEWSDESK_BACKEND="extractive")
    return env


def _article_total(url: str) -> int:
    response = httpx.get(f"{url}/articles", timeout=PATIENCE_S)
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


def _top_article(url: str, query: str, mode: str) -> str:
    response = httpx.post(
        f"{url}/search", json={"query": query, "mode": mode, "top_k": 3}, timeout=PATIENCE_S
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == mode
    return str(body["results"][0]["article_id"])


def test_serve_holds_the_data_directory_until_it_dies(tmp_path: Path) -> None:
    data = tmp_path / "data"
    loaded = run_newsdesk(data, "ingest", str(SAMPLES / "articles.jsonl"), env=_env(data))
    assert loaded.returncode == 0, loaded.stderr
    article = tmp_path / "lighthouse.json"
    article.write_text(json.dumps(LIGHTHOUSE), encoding="utf-8")

    serve_log = tmp_path / "serve.log"
    with newsdesk_serve(NEWSDESK, env=_env(data), cwd=tmp_path, log=serve_log) as served:
        server, url = served.process, served.url
        before = _article_total(url)
        assert before == 19

        # A CLI command on the served directory is refused at once and writes nothing.
        refused = run_newsdesk(data, "ingest", str(article), env=_env(data))
        assert refused.returncode == 1, refused.stderr
        assert f"in use by pid {server.pid}" in refused.stderr, refused.stderr
        assert "serve" in refused.stderr and REFUSAL in refused.stderr
        assert "Traceback" not in refused.stderr
        assert _article_total(url) == before
        assert httpx.get(f"{url}/articles/{LIGHTHOUSE_ID}", timeout=PATIENCE_S).status_code == 404

        # So is a second server (as a second uvicorn worker would be).
        second = subprocess.run(
            [NEWSDESK, "serve", "--port", str(free_port())],
            capture_output=True,
            text=True,
            env=_env(data),
            cwd=tmp_path,
            timeout=PATIENCE_S * 3,
            check=False,
        )
        assert second.returncode != 0
        assert f"in use by pid {server.pid}" in second.stderr and REFUSAL in second.stderr
        assert "Traceback" not in second.stderr
        assert _article_total(url) == before

        # The OS gives the lock up with the process, even on SIGKILL (no clean shutdown).
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=PATIENCE_S)

    ingested = run_newsdesk(data, "ingest", str(article), env=_env(data))
    assert ingested.returncode == 0, ingested.stderr
    assert "1 added" in ingested.stderr

    again_log = tmp_path / "serve-again.log"
    with newsdesk_serve(NEWSDESK, env=_env(data), cwd=tmp_path, log=again_log) as served:
        assert _article_total(served.url) == before + 1
        assert _top_article(served.url, DENSE_QUERY, "dense") == LIGHTHOUSE_ID
        assert _top_article(served.url, LEXICAL_QUERY, "lexical") == LIGHTHOUSE_ID


def test_a_second_open_in_the_same_process_is_refused_until_close(
    settings: Settings, embedder: Embedder
) -> None:
    with Newsdesk.open(settings, embedder=embedder) as desk:
        with pytest.raises(DataDirectoryInUse) as refused:
            Newsdesk.open(settings, embedder=embedder)
        assert f"in use by pid {os.getpid()}" in refused.value.detail
        assert REFUSAL in refused.value.detail
        assert desk.data_lock.held
    assert not desk.data_lock.held
    with Newsdesk.open(settings, embedder=embedder) as reopened:
        assert reopened.data_lock.held

"""The supervised local LLM, with real processes: a killed llama.cpp child comes back (new
pid, /ready ready again) and answers made while it is down are marked degraded; a child that
keeps dying is given up (/ready 503); and the child dies with `newsdesk serve` even when that
is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings

from .support.cli import NEWSDESK, newsdesk_serve
from .support.patience import LLM_PATIENCE_S, PATIENCE_S
from .support.samples import load_samples

pytestmark = pytest.mark.llm

CRANE = "How many people were killed when the crane fell in Mecca?"
LAUNCHER = "newsdesk.generation.llm_child"


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "backend": "local",
        # Ceilings for a busy machine, not delays.
        "local_startup_seconds": LLM_PATIENCE_S,
        "llm_timeout_seconds": LLM_PATIENCE_S,
        # The model's own answer, so that `backend: local` shows the healed server answered
        # (with the rules deciding, a declined answer would come back as the story's own).
        "llm_answerability": "model",
        **overrides,
    }
    return Settings(data_dir=data_dir, _env_file=None, **options)


def _until(condition: Callable[[], object], what: str, patience: float = LLM_PATIENCE_S) -> None:
    deadline = time.monotonic() + patience
    while not condition():
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.1)


def _gone(pid: int) -> bool:
    """Exited (a zombie waiting for a parent that does not reap counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and LAUNCHER.encode() in command:
            found.append(int(entry.name))
    return found


def test_a_killed_llm_comes_back_and_answers_meanwhile_are_degraded(
    tmp_path: Path, embedder: Embedder
) -> None:
    # A long first backoff keeps the server down while the test asks (not a delay: the test
    # waits for it only once, for the restart).
    settings = _settings(tmp_path / "data", llm_restart_initial_seconds=20.0)
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(load_samples()[4:5])  # the crane article
        with TestClient(create_app(settings, desk=desk)) as client:
            desk.chat_model()
            assert client.get("/ready").json()["llm"] == "ready"
            server = desk._local_server
            assert server is not None and server.pid is not None
            first = server.pid
            # Its own process group and session: a terminal's Ctrl-C reaches the service only.
            assert os.getpgid(first) == first != os.getpgid(0)

            os.kill(first, signal.SIGKILL)
            _until(
                lambda: client.get("/health").json()["llm"].startswith("restarting: attempt 1"),
                "restarting",
            )
            ready = client.get("/ready")
            assert ready.status_code == 200 and ready.json()["llm"] == "restarting"
            answer = client.post("/ask", json={"question": CRANE}).json()
            assert answer["degraded"] and answer["backend"] == "extractive"
            assert "restarting" in answer["degraded_reason"]
            assert "107" in answer["answer"]

            _until(lambda: client.get("/ready").json()["llm"] == "ready", "ready again")
            assert server.pid is not None and server.pid != first
            healed = client.post("/ask", json={"question": CRANE}).json()
            assert not healed["degraded"] and healed["backend"] == "local"
            assert client.get("/health").json()["llm"] == "ready"


def test_an_llm_that_keeps_dying_is_given_up_and_the_service_is_not_ready(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = _settings(tmp_path / "data", llm_restart_limit=0)
    with (
        Newsdesk.open(settings, embedder=embedder) as desk,
        TestClient(create_app(settings, desk=desk)) as client,
    ):
        desk.chat_model()
        server = desk._local_server
        assert server is not None and server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        _until(lambda: client.get("/health").json()["llm"].startswith("unavailable: "), "given up")
        health = client.get("/health").json()["llm"]
        assert "exited with code -9" in health and "gave up after 0 restart(s)" in health
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not ready" and ready.json()["llm"] == "unavailable"


def test_the_llm_dies_with_the_service_even_on_sigkill(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
        "NEWSDESK_BACKEND": "local",
        "NEWSDESK_LOCAL_STARTUP_SECONDS": str(LLM_PATIENCE_S),
    }
    with newsdesk_serve(NEWSDESK, env=env, cwd=tmp_path, log=tmp_path / "serve.log") as served:
        # `serve` starts the LLM from a warm-up thread that ends right after: the child must
        # outlive that thread and still die with the process.
        _until(
            lambda: httpx.get(f"{served.url}/ready", timeout=PATIENCE_S).json()["llm"] == "ready",
            "the LLM ready",
        )
        (child,) = _children(served.process.pid)
        assert not _gone(child)
        served.process.kill()
        served.process.wait(timeout=PATIENCE_S)
        _until(lambda: _gone(child), "the LLM child gone after the service's SIGKILL", PATIENCE_S)

"""/health says only `ok` to callers without a key once keys are configured (its details name
paths, URLs and the LLM's last error); /ready reports the model, index and LLM in single
words, open to all, 503 when the configured LLM cannot work. Real apps served by uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings

from .support.live_server import serve
from .support.patience import PATIENCE_S
from .support.samples import load_samples

KEY = "health-test-key-0123456789abcdef"
DETAILS = {"version", "articles", "chunks", "embedding_model", "index_status", "backend", "llm"}


def _get(url: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(url, headers=headers, timeout=PATIENCE_S)


@pytest.fixture(scope="module")
def missing_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models") / "secret-place" / "missing.gguf"


@pytest.fixture(scope="module")
def locked(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, missing_model: Path
) -> Iterator[tuple[str, Newsdesk]]:
    """Keys configured, a local LLM that cannot start (its reason names a path), one article."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("health") / "data",
        backend="local",
        local_model_path=missing_model,
        api_keys=[KEY],
        _env_file=None,
    )
    with (
        Newsdesk.open(settings, embedder=embedder) as desk,
        serve(create_app(settings, desk=desk)) as url,
    ):
        desk.ingestor.ingest(load_samples()[4:5])
        yield url, desk


def test_health_tells_callers_without_a_key_only_a_status_word(
    locked: tuple[str, Newsdesk],
) -> None:
    url, desk = locked
    desk.chat_model()  # tries to start the LLM: its state is now "unavailable: <reason>"
    for key in (None, "wrong-key-0123456789abcdefghijkl"):
        response = _get(f"{url}/health", key)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert "secret-place" not in response.text


def test_health_gives_key_holders_the_details(locked: tuple[str, Newsdesk]) -> None:
    url, desk = locked
    desk.chat_model()
    health = _get(f"{url}/health", KEY).json()
    assert health.keys() >= DETAILS
    assert health["status"] == "ok" and health["articles"] == 1 and health["backend"] == "local"
    assert health["llm"].startswith("unavailable: ")


def test_without_keys_everyone_gets_the_details(sample_url: str) -> None:
    # Without keys anyone who reaches the service may read and write everything anyway; the
    # chat page shows the counts and the LLM's state from here.
    health = _get(f"{sample_url}/health").json()
    assert health.keys() >= DETAILS and health["articles"] == 19 and health["llm"] == "none"


def test_ready_reports_components_in_words(sample_url: str) -> None:
    response = _get(f"{sample_url}/ready")
    assert response.status_code == 200
    body = response.json()
    assert body == {"status": "ready", "model": "ready", "index": body["index"], "llm": "none"}
    assert body["index"] in ("loaded", "rebuilt")


def test_ready_is_open_and_says_503_for_an_llm_that_cannot_start(
    locked: tuple[str, Newsdesk],
) -> None:
    url, desk = locked
    desk.chat_model()
    response = _get(f"{url}/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready" and body["llm"] == "unavailable"
    assert body["model"] == "ready" and body["index"] in ("loaded", "rebuilt")
    assert "secret-place" not in response.text

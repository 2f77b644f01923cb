"""Bearer-key auth (NEWSDESK_API_KEYS): the OpenAI client with and without a key, the
RFC 9457 routes, the open paths, and how keys are read from the environment."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from newsdesk.api.app import create_app
from newsdesk.api.auth import KeyRing
from newsdesk.api.routers.page import STATIC_DIR
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings

from .support.live_server import serve
from .support.patience import PATIENCE_S

KEYS = ["first-key-0123456789", "second-key-abcdefghij"]


@pytest.fixture(scope="module")
def locked_url(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("auth") / "data",
        backend="extractive",
        api_keys=KEYS,
        _env_file=None,
    )
    with (
        Newsdesk.open(settings, embedder=embedder) as desk,
        serve(create_app(settings, desk=desk)) as url,
    ):
        yield url


def _chat(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


def test_openai_client_needs_a_configured_key(locked_url: str) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        _chat(locked_url, "wrong-key").models.list()
    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"
    assert caught.value.response.headers["www-authenticate"] == "Bearer"
    with pytest.raises(openai.AuthenticationError):
        _chat(locked_url, "wrong-key").chat.completions.create(
            model="newsdesk", messages=[{"role": "user", "content": "Who won?"}]
        )
    # Either configured key works; an empty collection makes the service abstain, not fail.
    assert [m.id for m in _chat(locked_url, KEYS[1]).models.list().data] == ["newsdesk"]
    reply = _chat(locked_url, KEYS[0]).chat.completions.create(
        model="newsdesk", messages=[{"role": "user", "content": "Who won the election?"}]
    )
    assert reply.model_extra["newsdesk"]["abstained"] is True


def test_problem_routes_answer_401_with_a_problem_document(locked_url: str) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {KEYS[0]}"}):
        response = httpx.get(f"{locked_url}/articles", headers=headers, timeout=PATIENCE_S)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["status"] == 401
    unauthorised = httpx.post(f"{locked_url}/search", json={"query": "NATO"}, timeout=PATIENCE_S)
    assert unauthorised.status_code == 401
    ok = httpx.get(
        f"{locked_url}/articles",
        headers={"Authorization": f"Bearer {KEYS[0]}"},
        timeout=PATIENCE_S,
    )
    assert ok.status_code == 200 and ok.json()["total"] == 0


@pytest.mark.parametrize("path", ["/health", "/", "/openapi.json", "/docs"])
def test_health_page_and_docs_stay_open(locked_url: str, path: str) -> None:
    assert httpx.get(f"{locked_url}{path}", timeout=PATIENCE_S).status_code == 200


def test_the_page_assets_stay_open(locked_url: str) -> None:
    assets = sorted(p.name for p in STATIC_DIR.iterdir() if p.is_file())
    assert assets
    for name in assets:
        assert httpx.get(f"{locked_url}/static/{name}", timeout=PATIENCE_S).status_code == 200


def test_without_keys_nothing_asks_for_one(client) -> None:
    # `client` (conftest) serves an app whose settings configure no keys.
    assert client.get("/articles").status_code == 200
    assert client.get("/v1/models").status_code == 200


def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_API_KEYS", " alpha , beta,, ")
    assert [k.get_secret_value() for k in Settings(_env_file=None).api_keys] == ["alpha", "beta"]
    monkeypatch.setenv("NEWSDESK_API_KEYS", '["gamma", "delta,with-comma"]')
    keys = [k.get_secret_value() for k in Settings(_env_file=None).api_keys]
    assert keys == ["gamma", "delta,with-comma"]
    monkeypatch.setenv("NEWSDESK_API_KEYS", "")
    assert Settings(_env_file=None).api_keys == []
    # Secrets stay out of reprs and logs.
    monkeypatch.setenv("NEWSDESK_API_KEYS", "alpha")
    assert "alpha" not in repr(Settings(_env_file=None))


def test_key_ring_names_the_key_without_revealing_it() -> None:
    ring = KeyRing(KEYS)
    principal = ring.identify(KEYS[1])
    assert principal is not None and principal.name == "key-2" and principal.authenticated
    assert KEYS[1] not in repr(principal)
    assert ring.identify(KEYS[1][:-1]) is None
    assert ring.identify("") is None
    assert not KeyRing([]).enabled

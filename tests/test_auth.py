"""Bearer-key auth: settings keys (admin) and stored keys (read or admin), the OpenAI client
with and without a key, the RFC 9457 routes, the open paths, roles (403), refusals before the
body is read, and how keys are read from the environment."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from pydantic import ValidationError

from newsdesk.api.app import create_app
from newsdesk.api.auth import KeyRing, require_admin, required_role
from newsdesk.api.routers.page import STATIC_DIR
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings
from newsdesk.stores.keys import KeyStore

from .support.live_server import serve
from .support.patience import PATIENCE_S
from .support.samples import load_samples

WRONG = "wrong-key-0123456789-abcdefghijklmnopq"
KEYS = ["first-key-0123456789-abcdefghijklmnop", "second-key-abcdefghij-0123456789klmno"]


@dataclass(frozen=True)
class Locked:
    url: str
    database: Path
    read_key: str  # stored with `KeyStore.create`, as `newsdesk keys create` does
    stored_admin_key: str


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Locked]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("auth") / "data",
        backend="extractive",
        api_keys=KEYS,
        _env_file=None,
    )
    with (
        Newsdesk.open(settings, embedder=embedder) as desk,
        serve(create_app(settings, desk=desk)) as url,
        KeyStore(settings.database_path) as store,
    ):
        desk.ingestor.ingest(load_samples()[4:5])
        _, read_key = store.create("read", "reader")
        _, admin_key = store.create("admin", "stored-admin")
        yield Locked(url, settings.database_path, read_key, admin_key)


@pytest.fixture(scope="module")
def locked_url(locked: Locked) -> str:
    return locked.url


def _auth(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def _chat(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


def test_openai_client_needs_a_configured_key(locked_url: str) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        _chat(locked_url, WRONG).models.list()
    assert caught.value.status_code == 401
    body = caught.value.body
    assert isinstance(body, dict), body
    assert body["code"] == "invalid_api_key"
    assert caught.value.response.headers["www-authenticate"] == "Bearer"
    with pytest.raises(openai.AuthenticationError):
        _chat(locked_url, WRONG).chat.completions.create(
            model="newsdesk", messages=[{"role": "user", "content": "Who won?"}]
        )
    # Either configured key works; an empty collection makes the service abstain, not fail.
    assert [m.id for m in _chat(locked_url, KEYS[1]).models.list().data] == ["newsdesk"]
    reply = _chat(locked_url, KEYS[0]).chat.completions.create(
        model="newsdesk", messages=[{"role": "user", "content": "Who won the election?"}]
    )
    assert reply.model_extra is not None
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
    assert ok.status_code == 200 and ok.json()["total"] == 1


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


ALPHA, BETA, GAMMA = ("alpha" + "a" * 30, "beta" + "b" * 30, "gamma" + "g" * 30)


def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_API_KEYS", f" {ALPHA} , {BETA},, ")
    assert [k.get_secret_value() for k in Settings(_env_file=None).api_keys] == [ALPHA, BETA]
    monkeypatch.setenv("NEWSDESK_API_KEYS", f'["{GAMMA}", "{BETA},with-comma"]')
    keys = [k.get_secret_value() for k in Settings(_env_file=None).api_keys]
    assert keys == [GAMMA, f"{BETA},with-comma"]
    monkeypatch.setenv("NEWSDESK_API_KEYS", "")
    assert Settings(_env_file=None).api_keys == []
    # Secrets stay out of reprs and logs.
    monkeypatch.setenv("NEWSDESK_API_KEYS", ALPHA)
    assert ALPHA not in repr(Settings(_env_file=None))


def test_short_settings_keys_are_refused_without_showing_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short = "s" * 31
    monkeypatch.setenv("NEWSDESK_API_KEYS", f"{ALPHA},{short}")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    message = str(caught.value)
    assert "at least 32 characters" in message and "key number 2" in message
    assert short not in message and ALPHA not in message


def test_key_ring_names_the_key_without_revealing_it() -> None:
    ring = KeyRing(KEYS)
    principal = ring.identify(KEYS[1])
    assert principal is not None and principal.name == "key-2" and principal.authenticated
    assert KEYS[1] not in repr(principal)
    assert principal.role == "admin"  # settings keys keep every power
    assert ring.identify(KEYS[1][:-1]) is None
    assert ring.identify("") is None
    assert not KeyRing([]).enabled


# --- roles --------------------------------------------------------------------------------

ARTICLE = {"id": "auth-test-article", "title": "A test", "text": "Nothing happened today."}


def test_a_read_key_reads_searches_asks_and_chats(locked: Locked) -> None:
    url, key = locked.url, locked.read_key
    listed = httpx.get(f"{url}/articles", headers=_auth(key), timeout=PATIENCE_S)
    assert listed.status_code == 200
    article_id = listed.json()["items"][0]["id"]
    for method, path, body in [
        ("GET", f"/articles/{article_id}", None),
        ("POST", "/search", {"query": "crane"}),
        ("POST", "/ask", {"question": "What happened?"}),
        ("POST", "/summaries", {"article_id": article_id, "length": "short"}),
        ("GET", "/v1/models", None),
        (
            "POST",
            "/v1/chat/completions",
            {"model": "newsdesk", "messages": [{"role": "user", "content": "What happened?"}]},
        ),
    ]:
        response = httpx.request(
            method, f"{url}{path}", json=body, headers=_auth(key), timeout=PATIENCE_S
        )
        assert response.status_code == 200, (path, response.text)
    me = httpx.get(f"{url}/whoami", headers=_auth(key), timeout=PATIENCE_S).json()
    assert me == {"name": "reader", "role": "read", "authenticated": True}


def test_a_read_key_on_an_admin_route_is_403_and_changes_nothing(locked: Locked) -> None:
    url, key = locked.url, locked.read_key
    article_id = httpx.get(f"{url}/articles", headers=_auth(key), timeout=PATIENCE_S).json()[
        "items"
    ][0]["id"]
    refused = [
        httpx.post(f"{url}/articles", json=ARTICLE, headers=_auth(key), timeout=PATIENCE_S),
        httpx.post(
            f"{url}/articles/upload",
            files={"files": ("a.txt", b"A title\n\nSome text.")},
            headers=_auth(key),
            timeout=PATIENCE_S,
        ),
        httpx.delete(f"{url}/articles/{article_id}", headers=_auth(key), timeout=PATIENCE_S),
        httpx.get(f"{url}/keys", headers=_auth(key), timeout=PATIENCE_S),
        httpx.post(f"{url}/keys", json={"role": "admin"}, headers=_auth(key), timeout=PATIENCE_S),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 403 and "admin" in problem["detail"]
        assert "www-authenticate" not in response.headers
    total = httpx.get(f"{url}/articles", headers=_auth(key), timeout=PATIENCE_S).json()["total"]
    assert total == 1
    # On /v1 the refusal is an OpenAI error (no /v1 route needs admin today: any other POST
    # there does, by default).
    response = httpx.post(f"{url}/v1/embeddings", json={}, headers=_auth(key), timeout=PATIENCE_S)
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"


def test_admin_keys_from_settings_and_from_the_store_may_write(locked: Locked) -> None:
    for number, key in enumerate((KEYS[0], locked.stored_admin_key)):
        article = {**ARTICLE, "id": f"auth-admin-{number}"}
        created = httpx.post(
            f"{locked.url}/articles", json=article, headers=_auth(key), timeout=PATIENCE_S
        )
        assert created.status_code == 200, created.text
        deleted = httpx.delete(
            f"{locked.url}/articles/{article['id']}", headers=_auth(key), timeout=PATIENCE_S
        )
        assert deleted.status_code == 204
    me = httpx.get(f"{locked.url}/whoami", headers=_auth(KEYS[1]), timeout=PATIENCE_S).json()
    assert me == {"name": "key-2", "role": "admin", "authenticated": True}


def test_a_revoked_key_is_refused_at_once(locked: Locked) -> None:
    with KeyStore(locked.database) as store:
        _, key = store.create("read", "short-lived")
        assert (
            httpx.get(f"{locked.url}/articles", headers=_auth(key), timeout=PATIENCE_S).status_code
            == 200
        )
        store.revoke("short-lived")
    response = httpx.get(f"{locked.url}/articles", headers=_auth(key), timeout=PATIENCE_S)
    assert response.status_code == 401 and response.json()["detail"] == "Invalid API key."


def test_every_write_route_needs_admin_and_declares_it(locked: Locked) -> None:
    """The middleware's table (what is refused before the body is read) and the routes'
    own declarations agree; a new write route that is in neither is admin by default."""
    app = create_app(Settings(data_dir=locked.database.parent, _env_file=None))
    checked = 0
    for route in _api_routes(app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        declared = _calls(dependant, require_admin)
        path = route.path.replace("{", "").replace("}", "")  # e.g. /articles/article_id
        for method in route.methods:
            checked += 1
            assert (required_role(method, path) == "admin") == declared, (method, route.path)
    assert checked > 10
    assert required_role("POST", "/some/new/route") == "admin"
    assert required_role("GET", "/some/new/route") == "read"
    assert required_role("GET", "/health") is None


def _api_routes(routes: list) -> Iterator:
    """Every route, also inside included routers (FastAPI keeps those as one entry each)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _api_routes(included.routes) if included is not None else [route]


def _calls(dependant, function) -> bool:
    return dependant.call is function or any(_calls(d, function) for d in dependant.dependencies)


# --- refused before the body is read ---------------------------------------------------------


def test_a_keyless_malformed_body_is_401_not_422(locked: Locked) -> None:
    for path in ("/search", "/articles", "/v1/chat/completions"):
        response = httpx.post(
            f"{locked.url}{path}",
            content=b"{not json",
            headers={"content-type": "application/json"},
            timeout=PATIENCE_S,
        )
        assert response.status_code == 401, (path, response.text)
    # With a read key, a malformed body on an admin route is 403, not 422 either.
    response = httpx.post(
        f"{locked.url}/articles",
        content=b"{not json",
        headers={"content-type": "application/json", **_auth(locked.read_key)},
        timeout=PATIENCE_S,
    )
    assert response.status_code == 403


@pytest.mark.parametrize("size", [200_000_000, 10_000_000])
def test_a_keyless_upload_is_refused_before_its_body_is_sent(locked: Locked, size: int) -> None:
    """A multipart upload announced by Content-Length (beyond the upload limit, and within
    it): the 401 arrives after the headers and 64 KiB of body. Were the key checked after the
    body is read, the server would wait for the rest and no response would come."""
    host, port = locked.url.removeprefix("http://").split(":")
    head = (
        "POST /articles/upload HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {size}\r\n"
        "\r\n"
    ).encode()
    body_start = b"--xyz\r\nContent-Disposition: form-data; name=files; filename=a.txt\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=PATIENCE_S) as sock:
        sock.sendall(head + body_start + b"x" * 65_536)
        reply = b""
        while b"\r\n\r\n" not in reply:
            data = sock.recv(65_536)
            if not data:
                break
            reply += data
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 401"), reply[:500]
    assert b"www-authenticate: Bearer" in rest.lower().replace(b"bearer", b"Bearer")


def test_without_keys_nobody_can_create_the_first_key_over_http(
    tmp_path: Path, embedder: Embedder
) -> None:
    # With keys off every caller is admin; minting a key over HTTP would switch authentication
    # on for everyone else. The first key comes from the CLI on the machine.
    settings = Settings(data_dir=tmp_path / "data", backend="extractive", _env_file=None)
    with (
        Newsdesk.open(settings, embedder=embedder) as desk,
        serve(create_app(settings, desk=desk)) as url,
    ):
        response = httpx.post(f"{url}/keys", json={"role": "admin"}, timeout=PATIENCE_S)
        assert response.status_code == 403, response.text
        assert "newsdesk keys create" in response.json()["detail"]
        with KeyStore(settings.database_path) as store:
            assert store.list() == []
        assert httpx.get(f"{url}/articles", timeout=PATIENCE_S).status_code == 200

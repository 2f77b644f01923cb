"""What a web page or a link can make the service do to its reader: security headers on
every response, API docs without third-party scripts, no writes from another origin, CORS
closed unless configured, only known host names. The real app through TestClient (which
sends `Host: testserver`, allowed by tests/conftest.py); the browser side is in
tests/e2e/test_page_security.py."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.api.routers.page import STATIC_DIR
from newsdesk.api.web_security import LOOPBACK_HOSTS, allowed_hosts
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings
from tests.support.cli import NEWSDESK, newsdesk_serve
from tests.support.patience import PATIENCE_S

EVIL = "http://evil.example"
ARTICLE = {
    "id": "cross-origin-test",
    "title": "Harbour reopens",
    "text": "The harbour reopened on Monday after the storm.",
    "source": "Test Wire",
}


def _csp(header: str) -> dict[str, str]:
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


@pytest.mark.parametrize(
    "path", ["/", "/static/app.js", "/health", "/articles", "/openapi.json", "/missing"]
)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "content-security-policy" in headers


def test_the_page_has_a_strict_content_security_policy(client: TestClient) -> None:
    policy = _csp(client.get("/").headers["content-security-policy"])
    assert policy["default-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    # Scripts and styles fall back to default-src: the service's own files, nothing inline.
    assert "script-src" not in policy and "style-src" not in policy
    assert "unsafe" not in " ".join(policy.values())
    # ... which the page keeps: every script is a file of its own.
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert not re.search(r"\son[a-z]+=", html), "inline event handlers"
    assert "style=" not in html


def test_api_docs_load_no_script_from_another_origin(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert not re.search(r"(?:src|href)=[\"']?(?:https?:)?//", page.text), "asset elsewhere"
    assets = re.findall(r"(?:src|href)=\"(/[^\"]+)\"", page.text)
    assert any(asset.endswith(".js") for asset in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.headers["x-content-type-options"] == "nosniff"
    policy = _csp(page.headers["content-security-policy"])
    sources = policy["script-src"].split()
    assert sources[0] == "'self'"
    # Swagger UI's start-up script is allowed by its hash, not by 'unsafe-inline'.
    assert all(source.startswith("'sha256-") for source in sources[1:])
    assert policy["frame-ancestors"] == "'none'" and policy["connect-src"] == "'self'"
    # The schema the docs read stays where it was; ReDoc's page (whose script fetches its
    # vendor's logo from a CDN) is gone.
    assert client.get("/openapi.json").json()["paths"]
    assert client.get("/redoc").status_code == 404


def _stored(client: TestClient) -> int:
    return client.get("/articles").json()["total"]


def test_a_form_upload_from_another_origin_writes_nothing(client: TestClient) -> None:
    # What a hostile page's <form enctype="multipart/form-data"> sends: no preflight.
    response = client.post(
        "/articles/upload",
        files={"files": ("harbour.txt", b"Harbour reopens\n\nThe harbour reopened on Monday.")},
        headers={"Origin": EVIL},
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 403 and EVIL in response.json()["detail"]
    assert _stored(client) == 0


def test_a_text_plain_post_from_another_origin_writes_nothing(client: TestClient) -> None:
    for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        response = client.post(
            "/articles",
            content=json.dumps(ARTICLE),
            headers={"Content-Type": "text/plain", **headers},
        )
        assert response.status_code == 403, headers
    assert client.delete(f"/articles/{ARTICLE['id']}", headers={"Origin": EVIL}).status_code == 403
    assert _stored(client) == 0


def test_the_service_own_pages_and_non_browser_clients_still_write(client: TestClient) -> None:
    same_origin = client.post(
        "/articles",
        json=ARTICLE,
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert same_origin.status_code == 200, same_origin.text
    assert client.post("/articles", json={**ARTICLE, "id": "curl"}).status_code == 200
    assert _stored(client) == 2


@pytest.fixture
def open_to(tmp_path: Path, embedder: Embedder) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        backend="extractive",
        cors_origins=["https://app.example.org"],
        allowed_hosts=["testserver"],
        _env_file=None,
    )
    with (
        Newsdesk.open(settings, embedder=embedder) as desk,
        TestClient(create_app(settings, desk=desk)) as client,
    ):
        yield client


def test_cors_is_closed_unless_configured(client: TestClient) -> None:
    preflight = client.options(
        "/search",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    response = client.get("/articles", headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in response.headers


def test_configured_cors_origins_may_call_and_write(open_to: TestClient) -> None:
    app_origin = "https://app.example.org"
    preflight = open_to.options(
        "/articles",
        headers={
            "Origin": app_origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == app_origin
    written = open_to.post("/articles", json=ARTICLE, headers={"Origin": app_origin})
    assert written.status_code == 200
    assert written.headers["access-control-allow-origin"] == app_origin
    # Any other origin is still refused, and gets no CORS headers.
    refused = open_to.post("/articles", json=ARTICLE, headers={"Origin": EVIL})
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers


def test_unknown_host_names_are_refused(client: TestClient) -> None:
    # DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 reaches the
    # service as a same-origin page, but its requests still say `Host: evil.example`.
    refused = client.get("/articles", headers={"Host": "evil.example"})
    assert refused.status_code == 400
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:newsdesk:problem:unknown-host"
    # A name that merely ends like an allowed one is not that name.
    assert client.get("/articles", headers={"Host": "evil-localhost"}).status_code == 400
    assert (
        client.post("/articles", json=ARTICLE, headers={"Host": "evil.example:8000"}).status_code
        == 400
    )
    assert _stored(client) == 0
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
        assert client.get("/articles", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_are_loopback_the_bound_host_and_the_configured_ones() -> None:
    assert allowed_hosts(Settings(_env_file=None, allowed_hosts=[])) == list(LOOPBACK_HOSTS)
    assert allowed_hosts(Settings(_env_file=None, allowed_hosts=[], host="0.0.0.0")) == list(
        LOOPBACK_HOSTS
    )
    assert allowed_hosts(
        Settings(_env_file=None, host="10.0.0.5", allowed_hosts="News.Example.org, b.example")
    ) == [*LOOPBACK_HOSTS, "10.0.0.5", "news.example.org", "b.example"]
    assert allowed_hosts(Settings(_env_file=None, allowed_hosts=[], host="::1")) == list(
        LOOPBACK_HOSTS
    )


def test_serve_answers_to_the_address_it_was_told_to_bind(tmp_path: Path) -> None:
    # `newsdesk serve --host` must reach the app's allowed hosts, or every request a client
    # sends to that address is refused as an unknown host.
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env.update(NEWSDESK_DATA_DIR=str(tmp_path / "data"), NEWSDESK_BACKEND="extractive")
    log = tmp_path / "serve.log"
    with newsdesk_serve(NEWSDESK, env=env, cwd=tmp_path, log=log, host="127.0.0.2") as served:
        response = httpx.get(f"{served.url}/health", timeout=PATIENCE_S)
        assert response.status_code == 200, response.text
        other = httpx.get(
            f"{served.url}/health", headers={"Host": "evil.example"}, timeout=PATIENCE_S
        )
        assert other.status_code == 400

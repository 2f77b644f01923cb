"""The page is served by the service itself, from files in the package, outside the API
schema (no browser needed for these)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from newsdesk.api.routers.page import STATIC_DIR


def test_root_serves_the_page_and_its_assets(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert sorted(assets) == ["/static/app.css", "/static/app.js"]
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.content == (STATIC_DIR / asset.removeprefix("/static/")).read_bytes()
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/missing.js").status_code == 404


def test_no_external_assets(client: TestClient) -> None:
    # The machine is offline: nothing may come from a CDN.
    for name in ["index.html", "app.js", "app.css"]:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), name


def test_page_routes_stay_out_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert not [p for p in paths if p.startswith("/static")]

"""Hostile input through the real app: each gets a 4xx problem document, costs little and
writes nothing (issue 12, section 1, and article URLs from section 2)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response  # what TestClient returns (an httpx2 client)

from newsdesk.container import Newsdesk

pytestmark = [
    pytest.mark.both_stores,
    pytest.mark.vector_stores,
    pytest.mark.lexical_stores,
]  # store-facing: each store kind

PROBLEM = "application/problem+json"


def _problem(response: Response) -> dict:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    body = response.json()
    assert body["status"] == response.status_code
    return body


def _upload(client: TestClient, name: str, data: bytes) -> Response:
    return client.post("/articles/upload", files=[("files", (name, data, "text/plain"))])


def _nothing_written(desk: Newsdesk) -> None:
    assert desk.store.article_count() == 0
    assert desk.store.generation() == 0


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_published_at_beyond_the_calendar_in_utc_is_refused(
    client: TestClient, desk: Newsdesk, moment: str
) -> None:
    response = client.post(
        "/articles", json={"id": "edge", "text": "A story.", "published_at": moment}
    )
    assert "published_at" in _problem(response)["detail"]
    _nothing_written(desk)


def test_search_filter_at_the_start_of_time_with_an_offset_is_refused(client: TestClient) -> None:
    response = client.post(
        "/search",
        json={"query": "story", "filters": {"published_after": "0001-01-01T00:00:00+01:00"}},
    )
    assert "published_after" in _problem(response)["detail"]


def test_list_filter_at_the_start_of_time_with_an_offset_is_refused(client: TestClient) -> None:
    response = client.get("/articles", params={"published_before": "0001-01-01T00:00:00+01:00"})
    assert "published_before" in _problem(response)["detail"]


def test_huge_list_offset_is_refused(client: TestClient) -> None:
    assert "offset" in _problem(client.get("/articles", params={"offset": 10**30}))["detail"]


def test_lone_surrogate_in_an_article_is_refused(client: TestClient, desk: Newsdesk) -> None:
    # json.dumps writes the escape "\ud800", which decodes to a lone surrogate: not storable.
    for field, value in [("text", "bad \ud800 text"), ("metadata", {"k": ["\udfff"]})]:
        body = json.dumps({"id": "s", "title": "T", "text": "A story.", field: value})
        response = client.post(
            "/articles", content=body, headers={"content-type": "application/json"}
        )
        _problem(response)
    in_file = _upload(client, "a.json", b'{"id": "s", "text": "bad \\ud800 text"}')
    assert "surrogate" in _problem(in_file)["rejected"][0]["reason"]
    _nothing_written(desk)


def test_deeply_nested_json_upload_is_refused(client: TestClient, desk: Newsdesk) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    response = _upload(client, "deep.json", deep)
    assert "nested" in _problem(response)["detail"]
    lines = _upload(client, "deep.jsonl", deep + b"\n")
    assert "nested" in _problem(lines)["detail"]
    _nothing_written(desk)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        " JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/path",
        "https://",
        "http:/relative",
    ],
)
def test_article_url_must_be_http_or_https(client: TestClient, desk: Newsdesk, url: str) -> None:
    response = client.post("/articles", json={"id": "u", "text": "A story.", "url": url})
    assert "url" in _problem(response)["detail"]
    upload = _upload(client, "u.md", f"---\ntitle: T\nurl: '{url}'\n---\nA story.\n".encode())
    assert "url" in _problem(upload)["rejected"][0]["reason"]
    _nothing_written(desk)


def test_http_and_https_article_urls_are_kept(client: TestClient) -> None:
    for number, url in enumerate(["https://example.org/a?b=c#d", "HTTP://Example.org/x"]):
        response = client.post(
            "/articles", json={"id": f"ok{number}", "text": "A story.", "url": url}
        )
        assert response.status_code == 200, response.text
        assert client.get(f"/articles/ok{number}").json()["url"] == url


def _laughs(levels: int) -> str:
    """YAML whose aliases expand to 10**levels strings: the "billion laughs" bomb."""
    lines = ["a0: &a0 lol"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 10)}]")
    return "\n".join(lines)


def test_yaml_front_matter_aliases_are_refused(client: TestClient, desk: Newsdesk) -> None:
    # 500 bytes that expanded to 10**5 strings (megabytes of stored metadata) before.
    bomb = f"---\ntitle: Bomb\n{_laughs(5)}\n---\nA story.\n".encode()
    assert len(bomb) < 600
    response = _upload(client, "bomb.md", bomb)
    assert "aliases" in _problem(response)["rejected"][0]["reason"]
    _nothing_written(desk)


def test_deep_or_malformed_front_matter_is_refused(client: TestClient, desk: Newsdesk) -> None:
    deep = b"---\nx: " + b"[" * 100_000 + b"]" * 100_000 + b"\n---\nA story.\n"
    assert "nest" in _problem(_upload(client, "deep.md", deep))["detail"]
    just_too_deep = b"---\nx: " + b"[" * 20 + b"]" * 20 + b"\n---\nA story.\n"
    assert "nested" in _problem(_upload(client, "deep.txt", just_too_deep))["detail"]
    malformed = b"---\ntitle: [unclosed\n---\nA story.\n"
    assert "front matter" in _problem(_upload(client, "bad.md", malformed))["detail"]
    _nothing_written(desk)


def test_metadata_size_and_depth_are_capped(client: TestClient, desk: Newsdesk) -> None:
    big = {"id": "big", "text": "A story.", "metadata": {"blob": "x" * 70_000}}
    response = client.post("/articles", json=big)
    assert "NEWSDESK_MAX_METADATA_BYTES" in _problem(response)["rejected"][0]["reason"]
    front = f"---\ntitle: Big\nblob: {'x' * 70_000}\n---\nA story.\n".encode()
    assert "NEWSDESK_MAX_METADATA_BYTES" in _problem(_upload(client, "big.md", front))["detail"]

    nested: dict = {}
    for _ in range(20):  # 21 levels: the metadata object itself is level 1
        nested = {"n": nested}
    deep = client.post("/articles", json={"id": "deep", "text": "A story.", "metadata": nested})
    assert "nested" in _problem(deep)["detail"]
    _nothing_written(desk)

    within = {
        "id": "ok",
        "text": "A story.",
        "metadata": {"n": nested["n"]["n"], "x": "y" * 60_000},
    }
    assert client.post("/articles", json=within).status_code == 200


def test_json_number_too_long_to_read_is_refused(client: TestClient, desk: Newsdesk) -> None:
    response = _upload(
        client,
        "n.json",
        b'{"id": "n", "text": "A story.", "metadata": {"n": ' + b"9" * 5000 + b"}}",
    )
    assert "digits" in _problem(response)["detail"]
    _nothing_written(desk)


@pytest.mark.parametrize(
    "front_matter",
    [
        "published: 2024-01-01 00:00:00 +99:00",  # a time zone beyond ±24 h
        "count: !!float 'abc'",
        "day: !!timestamp 2024-13-45",
        "big: " + "9" * 5000,
    ],
)
def test_front_matter_yaml_cannot_build_is_refused(
    client: TestClient, desk: Newsdesk, front_matter: str
) -> None:
    response = _upload(client, "odd.md", f"---\ntitle: T\n{front_matter}\n---\nA story.\n".encode())
    assert "front matter" in _problem(response)["detail"]
    _nothing_written(desk)


def test_an_article_of_stop_words_alone_leaves_search_working(
    client: TestClient, desk: Newsdesk
) -> None:
    # Nothing in it for BM25 to index: building the lexical index from it alone failed.
    added = client.post("/articles", json={"id": "stop", "text": "The the and of a. It is."})
    assert added.status_code == 200, added.text
    found = client.post("/search", json={"query": "the stop words", "mode": "lexical"})
    assert found.status_code == 200, found.text
    assert client.post("/search", json={"query": "stop words"}).status_code == 200
    desk.indexes.rebuild()


# JSON can spell a lone surrogate ("\ud800"); each of these reached SQLite or the tokenizer
# and was a 500 (found while fuzzing the API, issue 12 §5). The body is written by hand:
# json.dumps escapes the surrogate exactly as a hostile client would send it.
_SURROGATE_BODIES = [
    ("/search", {"query": "story", "filters": {"sources": ["\ud800"]}}),
    ("/search", {"query": "story", "filters": {"article_ids": ["a\udfff"]}}),
    ("/ask", {"question": "What happened?", "filters": {"article_ids": ["\ud800"]}}),
    ("/summaries", {"article_id": "x\ud800"}),
    ("/summaries", {"article_ids": ["\udbff"]}),
    ("/summaries", {"topic": "story", "filters": {"sources": ["\ud800"]}}),
]


@pytest.mark.parametrize(("path", "body"), _SURROGATE_BODIES)
def test_lone_surrogate_in_a_request_is_refused(
    client: TestClient, path: str, body: dict[str, object]
) -> None:
    response = client.post(
        path, content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert "surrogate" in _problem(response)["detail"]


@pytest.mark.parametrize(
    "content", ["What \ud800 happened?", [{"type": "text", "text": "What \udc00 happened?"}]]
)
def test_lone_surrogate_in_a_chat_message_is_refused(client: TestClient, content: object) -> None:
    body = {"model": "newsdesk", "messages": [{"role": "user", "content": content}]}
    response = client.post(
        "/v1/chat/completions",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "surrogate" in error["message"]

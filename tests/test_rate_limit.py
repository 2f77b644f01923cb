"""Rate limits (issue 12 §1): a token bucket per API key (per client address without keys),
429 with Retry-After as a problem document or an OpenAI error; probes are never limited; off
by default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from newsdesk.api.app import create_app
from newsdesk.api.limits import TokenBuckets
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings

from .support.live_server import serve
from .support.patience import PATIENCE_S

KEYS = ["rate-limit-key-one-0123456789abcdefghij", "rate-limit-key-two-0123456789abcdefghij"]


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_paces_requests() -> None:
    clock = ManualClock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0.0  # another caller has a bucket of its own
    clock.now += 1.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    clock.now += 60.0  # a long pause refills the burst, never more
    assert [buckets.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]


def _served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, **options: Any):
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("rate") / "data",
        backend="extractive",
        _env_file=None,
        **options,
    )
    desk = Newsdesk.open(settings, embedder=embedder)
    return desk, serve(create_app(settings, desk=desk))


@pytest.fixture
def limited_url(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    # One request a minute after a burst of two: the test never waits for a refill.
    desk, server = _served(tmp_path_factory, embedder, rate_limit_per_minute=1, rate_limit_burst=2)
    with desk, server as url:
        yield url


@pytest.fixture
def keyed_url(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    desk, server = _served(
        tmp_path_factory, embedder, rate_limit_per_minute=1, rate_limit_burst=2, api_keys=KEYS
    )
    with desk, server as url:
        yield url


def _get(url: str, path: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(f"{url}{path}", headers=headers, timeout=PATIENCE_S)


def test_over_the_limit_is_a_429_problem_with_retry_after(limited_url: str) -> None:
    assert [_get(limited_url, "/articles").status_code for _ in range(2)] == [200, 200]
    refused = _get(limited_url, "/articles")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    problem = refused.json()
    assert problem["type"] == "urn:newsdesk:problem:rate-limited"
    assert problem["status"] == 429
    # Probes and the chat page are never limited.
    for path in ["/health", "/ready", "/health", "/"]:
        assert _get(limited_url, path).status_code == 200, path


def test_openai_clients_get_a_rate_limit_error(limited_url: str) -> None:
    client = openai.OpenAI(base_url=f"{limited_url}/v1", api_key="unused", max_retries=0)
    client.models.list()
    client.models.list()
    with pytest.raises(openai.RateLimitError) as caught:
        client.models.list()
    body = caught.value.body
    assert isinstance(body, dict), body
    assert body["code"] == "rate_limit_exceeded"
    assert body["type"] == "rate_limit_error"
    assert int(caught.value.response.headers["retry-after"]) >= 1


def test_each_key_has_its_own_budget(keyed_url: str) -> None:
    assert [_get(keyed_url, "/articles", KEYS[0]).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    # The same address with the other key is another caller.
    assert _get(keyed_url, "/articles", KEYS[1]).status_code == 200


def test_no_limit_by_default(sample_url: str) -> None:
    assert Settings(_env_file=None).rate_limit_per_minute == 0
    assert {_get(sample_url, "/articles").status_code for _ in range(30)} == {200}

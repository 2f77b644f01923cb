"""Every route of the OpenAPI schema, fuzzed by schemathesis against a real uvicorn server on
loopback (issue 12 §5): generated requests — valid ones and deliberately invalid ones — never
get a 5xx, and every response is one the schema documents, in the documented shape and media
type.

The server holds the sample articles and uses the extractive backend (no local LLM), so
`/articles/{id}`, `/search`, `/ask`, `/summaries` and `/v1/chat/completions` work on real data.
Three runs: without keys; with an admin key configured and sent; and without it to that keyed
server (401s). Each operation gets `NEWSDESK_FUZZ_EXAMPLES` generated cases (default 25) plus
schemathesis's coverage cases (boundaries, missing and wrong-typed fields), derandomized so a
run is reproducible; set `NEWSDESK_FUZZ_SEED` to explore other inputs. `bench/fuzz_api.py`
runs the same tests with many more examples (see docs/development.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from newsdesk.api.app import create_app
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings
from tests.support.live_server import serve_desk
from tests.support.patience import PATIENCE_S
from tests.support.samples import load_samples

EXAMPLES = int(os.environ.get("NEWSDESK_FUZZ_EXAMPLES", "25"))
SEED = os.environ.get("NEWSDESK_FUZZ_SEED")
# Where to append one JSON line per request sent (method, path, status): for bench/fuzz_api.py.
LOG = os.environ.get("NEWSDESK_FUZZ_LOG")
# 40 characters: API keys shorter than 32 are refused at start.
KEY = "fuzz-admin-key-0123456789abcdefghijklmno"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# The schema the server will serve: built from the app's routes (no server, no data needed).
schema = schemathesis.openapi.from_dict(create_app(Settings(_env_file=None)).openapi())

# schemathesis draws only strings UTF-8 can encode, but JSON can also spell a lone surrogate
# ("\ud800"), which Python decodes and SQLite and the tokenizer refuse: one JSON body in five
# gets one appended to a string somewhere in it.
SURROGATES = "\ud800\udbff\udc00\udfff"


def _string_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            yield from _string_paths(child, (*path, key))


def _appended(value: Any, path: tuple[Any, ...], suffix: str) -> Any:
    if not path:
        return value + suffix
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _appended(value[path[0]], path[1:], suffix)
    return copy


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    operation = context.operation
    paths = list(_string_paths(body))
    if operation is None or not paths:
        return st.just(body)
    if all(b.media_type != "application/json" for b in operation.body):
        return st.just(body)
    spoiled = st.tuples(st.sampled_from(paths), st.sampled_from(SURROGATES)).map(
        lambda pick: _appended(body, *pick)
    )
    return st.integers(0, 4).flatmap(lambda n: spoiled if n == 0 else st.just(body))


# Creating a stored key turns authentication on for every later request: the keyless run
# would lock itself out after its first POST /keys. The keyed runs cover it.
keyless_schema = schema.exclude(method="POST", path="/keys")


# Random ids never name a stored article: one `article_id` in three is a sample's, so reads,
# summaries and deletes of real articles are fuzzed too.
SAMPLE_IDS = sorted(article.id for article in load_samples())


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    if "article_id" not in (path_parameters or {}):
        return st.just(path_parameters)
    real = st.sampled_from(SAMPLE_IDS).map(lambda id_: {**path_parameters, "article_id": id_})
    return st.integers(0, 2).flatmap(lambda n: real if n == 0 else st.just(path_parameters))


def _fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Bounded and reproducible: the same cases on every run unless a seed is given."""
    bound = hypothesis.settings(
        max_examples=examples,
        derandomize=SEED is None,
        database=None,
        deadline=None,
        # Slow answers on a busy machine, and filtering of invalid inputs, are not failures.
        suppress_health_check=list(HealthCheck),
    )
    if SEED is None:
        return bound
    return lambda test: hypothesis.seed(int(SEED))(bound(test))


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    # Whatever the environment says: no rate limit (thousands of requests come from one
    # client), and /metrics closed like every other route when keys are configured.
    return Settings(
        data_dir=data_dir,
        backend="extractive",
        rate_limit_per_minute=0,
        metrics_open=False,
        _env_file=None,
        **overrides,
    )


@pytest.fixture(scope="module")
def open_url(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("fuzz-open") / "data"
    with serve_desk(_settings(data_dir), embedder) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_url(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("fuzz-keyed") / "data"
    with serve_desk(_settings(data_dir, api_keys=[KEY]), embedder) as url:
        yield url


def _call(
    case: schemathesis.Case, base_url: str, run: str, headers: dict[str, str] | None = None
) -> schemathesis.Response:
    response = case.call(base_url=base_url, headers=headers, timeout=PATIENCE_S)
    if LOG:  # bench/fuzz_api.py counts cases and statuses from it
        line = {
            "run": run,
            "operation": f"{case.method} {case.path}",
            "status": response.status_code,
        }
        with Path(LOG).open("a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")
    case.validate_response(response, checks=CHECKS, headers=headers)
    return response


@keyless_schema.parametrize()
@_fuzz(EXAMPLES)
def test_no_keys(case: schemathesis.Case, open_url: str) -> None:
    _call(case, open_url, "no keys")


@schema.parametrize()
@_fuzz(EXAMPLES)
def test_with_an_admin_key(case: schemathesis.Case, keyed_url: str) -> None:
    _call(case, keyed_url, "admin key", headers={"Authorization": f"Bearer {KEY}"})


@schema.parametrize()
@_fuzz(max(EXAMPLES // 5, 3))
def test_without_the_key_to_a_keyed_server(case: schemathesis.Case, keyed_url: str) -> None:
    response = _call(case, keyed_url, "keyed server, no key")
    public = case.path in {"/health", "/ready"} or case.path.startswith("/openapi")
    if not public:
        assert response.status_code == 401, response.text

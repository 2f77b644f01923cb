"""Server-sent events read from a streamed response of Starlette's TestClient.

TestClient is an httpx2 client (Starlette uses httpx2 where it is installed, and openai
requires it), so its responses are ``httpx2.Response``, while httpx_sse's EventSource is
typed to take an ``httpx.Response``."""

from __future__ import annotations

from typing import cast

import httpx
import httpx2
from httpx_sse import EventSource


def event_source(response: httpx2.Response) -> EventSource:
    """The events of ``response`` (``client.stream(...)`` of a TestClient)."""
    # EventSource reads only the response's headers and iter_text(), which httpx2's Response
    # has as httpx's does: the cast bridges the two packages' types, not their behaviour.
    return EventSource(cast(httpx.Response, response))

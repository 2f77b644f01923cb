"""Bearer-key authentication: one dependency for the whole app, returning who is calling.

Routes that need to know the caller take ``PrincipalDep``; a later role check (read vs admin)
becomes a field of :class:`Principal` and a check on it, without touching call sites."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request

from newsdesk.settings import Settings

Role = Literal["admin"]

# Open even when keys are configured: liveness and readiness probes (/health tells key holders
# more), the chat page and its assets (which ask for the key in the browser), and the API docs.
PUBLIC_PATHS = frozenset({"/health", "/ready", "/", "/docs"})
PUBLIC_PREFIXES = ("/static/", "/openapi", "/docs-assets/")


@dataclass(frozen=True)
class Principal:
    """Who made a request. ``name`` never contains the key itself, so it is safe to log."""

    name: str
    role: Role
    authenticated: bool


ANONYMOUS = Principal(name="anonymous", role="admin", authenticated=False)


def _digest(key: str) -> bytes:
    # Comparing fixed-length digests keeps the comparison's time independent of the key's
    # length as well as of its content.
    return hashlib.sha256(key.encode("utf-8")).digest()


class KeyRing:
    """The configured keys, compared in constant time."""

    def __init__(self, keys: list[str]) -> None:
        self._digests = [_digest(key) for key in keys]

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        return cls([key.get_secret_value() for key in settings.api_keys])

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def identify(self, key: str) -> Principal | None:
        offered = _digest(key)
        found = None
        # No early exit: every configured key is compared whichever one matches.
        for number, digest in enumerate(self._digests, start=1):
            if hmac.compare_digest(offered, digest):
                found = Principal(name=f"key-{number}", role="admin", authenticated=True)
        return found


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class Unauthenticated(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def require_principal(request: Request) -> Principal:
    """The caller, or 401 when keys are configured and none (or a wrong one) was sent."""
    keys = _key_ring(request)
    if not keys.enabled or is_public(request.url.path):
        return ANONYMOUS
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthenticated("Missing bearer token: send 'Authorization: Bearer <key>'.")
    principal = keys.identify(credentials.strip())
    if principal is None:
        raise Unauthenticated("Invalid API key.")
    return principal


def identified(request: Request) -> Principal | None:
    """For open paths that tell key holders more: the caller when keys are off (everyone may
    do everything then) or a valid key was sent; None otherwise (no 401: probes send none)."""
    keys = _key_ring(request)
    if not keys.enabled:
        return ANONYMOUS
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return keys.identify(credentials.strip())


def _key_ring(request: Request) -> KeyRing:
    # Built once per app from the settings the desk was opened with, then cached.
    keys = getattr(request.app.state, "key_ring", None)
    if keys is None:
        keys = KeyRing.from_settings(request.app.state.desk.settings)
        request.app.state.key_ring = keys
    return keys


PrincipalDep = Annotated[Principal, Depends(require_principal)]

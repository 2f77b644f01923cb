"""Bearer-key authentication and roles, decided before any route runs or any body is read.

:class:`Authentication` is pure ASGI middleware: it looks at the method, path and
`Authorization` header only, answers 401 (no or unknown key) or 403 (a `read` key on an admin
route) itself, and otherwise puts the caller's :class:`Principal` on ``scope["state"]``
(``request.state.principal``) for the middleware inside it (rate limits) and the routes. A
keyless 200 MB upload is refused without a byte of its body received, and a keyless malformed
body gets a 401, not a 422.

Keys come from two places: ``NEWSDESK_API_KEYS`` (admin; compared in memory in constant time)
and the key table that ``newsdesk keys create`` writes (newsdesk/stores/keys.py; looked up by
SHA-256 digest on every request, so new and revoked keys count at once, without a restart).
Authentication is on when either holds a key.

Roles are a method + path table (:func:`required_role`), safe by default: a new route needs at
least `read`, and a new write route (any method but GET/HEAD/OPTIONS) needs `admin` unless it
is listed in ``READ_WRITES``. Routes also declare it (``AdminDep``), and a test keeps the two
in step."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from newsdesk.api.openai_errors import refusal_response
from newsdesk.settings import Settings
from newsdesk.stores.keys import ROLES, KeyStore, Role

# Open even when keys are configured: liveness and readiness probes (/health tells key holders
# more), the chat page and its assets (which ask for the key in the browser), and the API docs.
PUBLIC_PATHS = frozenset({"/health", "/ready", "/", "/docs"})
PUBLIC_PREFIXES = ("/static/", "/openapi", "/docs-assets/")

# Requests that change nothing although their method is not GET: a `read` key may send them.
READ_WRITES = frozenset(
    {
        ("POST", "/search"),
        ("POST", "/ask"),
        ("POST", "/summaries"),
        ("POST", "/timeline"),
        ("POST", "/v1/chat/completions"),
    }
)
# Paths that need `admin` whatever the method (key management: listing keys is an admin's job).
ADMIN_PREFIXES = ("/keys",)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Each role's powers, as a rank: a role may do what any lower role may.
_RANK = {role: rank for rank, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Principal:
    """Who made a request. ``name`` never contains the key itself, so it is safe to log."""

    name: str
    role: Role
    authenticated: bool

    def may(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]


ANONYMOUS = Principal(name="anonymous", role="admin", authenticated=False)


def _digest(key: str) -> bytes:
    # Comparing fixed-length digests keeps the comparison's time independent of the key's
    # length as well as of its content.
    return hashlib.sha256(key.encode("utf-8")).digest()


class KeyRing:
    """The keys configured in settings (all admin), compared in constant time."""

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


class Keys:
    """Both sources of keys. The key table is opened on first use (after the app's lifespan
    has opened, and migrated, the database)."""

    def __init__(self, settings: Settings) -> None:
        self.ring = KeyRing.from_settings(settings)
        self._database = settings.database
        self._store: KeyStore | None = None

    @property
    def store(self) -> KeyStore:
        if self._store is None:
            self._store = KeyStore(self._database)
        return self._store

    @property
    def enabled(self) -> bool:
        return self.ring.enabled or self.store.has_keys()

    def identify(self, key: str) -> Principal | None:
        configured = self.ring.identify(key)
        if configured is not None:
            return configured
        stored = self.store.lookup(key)
        if stored is None:
            return None
        return Principal(name=stored.name, role=stored.role, authenticated=True)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def required_role(method: str, path: str) -> Role | None:
    """The role a request needs: None for the open paths, `admin` for key management and
    writes, `read` for everything else."""
    if path.startswith(ADMIN_PREFIXES):
        return "admin"
    if is_public(path):
        return None
    if method.upper() in READ_METHODS or (method.upper(), path) in READ_WRITES:
        return "read"
    return "admin"


def _bearer(headers: Headers) -> str | None:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


class Authentication:
    """ASGI middleware: 401/403 before the body is read; the principal on scope["state"]."""

    def __init__(self, app: ASGIApp, keys: Keys) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        needed = required_role(scope["method"], path)
        key = _bearer(Headers(scope=scope))
        if not self.keys.enabled:
            principal: Principal | None = ANONYMOUS
        else:
            principal = self.keys.identify(key) if key is not None else None
        if needed is not None:
            refusal = _refusal(principal, needed, key is not None)
            if refusal is not None:
                await _refuse(refusal, path)(scope, receive, send)
                return
        # Open paths get the caller too when a valid key came with the request (/health tells
        # key holders more); None there means "no valid key".
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class _Refusal:
    status: int
    message: str


def _refusal(principal: Principal | None, needed: Role, sent_key: bool) -> _Refusal | None:
    if principal is None:
        if not sent_key:
            return _Refusal(401, "Missing bearer token: send 'Authorization: Bearer <key>'.")
        return _Refusal(401, "Invalid API key.")
    if not principal.may(needed):
        return _Refusal(
            403,
            f"This needs an {needed} key; the key '{principal.name}' is a {principal.role} key.",
        )
    return None


def _refuse(refusal: _Refusal, path: str) -> Response:
    """The refusal in the route's own error language (the middleware runs outside FastAPI's
    exception handlers, so it renders it itself)."""
    unauthorized = refusal.status == 401
    return refusal_response(
        path,
        refusal.status,
        slug="unauthorized" if unauthorized else "insufficient-role",
        title=HTTPStatus(refusal.status).phrase,
        detail=refusal.message,
        openai_code="invalid_api_key" if unauthorized else "insufficient_role",
        headers={"WWW-Authenticate": "Bearer"} if unauthorized else None,
    )


def install_auth(app: FastAPI, settings: Settings) -> Keys:
    """Add the middleware (inside the web-security middleware: call this before
    ``install_web_security``) and keep the keys on ``app.state.keys`` for the keys routes."""
    keys = Keys(settings)
    app.state.keys = keys
    app.add_middleware(Authentication, keys=keys)
    return keys


# --- for routes -----------------------------------------------------------------------------


_MISSING = object()


def identified(request: Request) -> Principal | None:
    """The caller: ANONYMOUS when keys are off (everyone may do everything then), the key's
    principal when a valid key was sent, None otherwise (only on the open paths: the
    middleware refuses such requests elsewhere; probes send no key)."""
    principal = getattr(request.state, "principal", _MISSING)
    if principal is _MISSING:
        # The middleware is not installed: fail closed.
        raise RuntimeError("the Authentication middleware did not run for this request")
    assert principal is None or isinstance(principal, Principal)
    return principal


def require_principal(request: Request) -> Principal:
    """The caller (for routes that want it); an open path's caller without a valid key is
    an unauthenticated `read` principal."""
    return identified(request) or Principal(name="anonymous", role="read", authenticated=False)


def require_admin(request: Request) -> Principal:
    """Declares an admin route (the middleware's table already refused others; this keeps
    the route safe should the table ever disagree)."""
    principal = require_principal(request)
    if not principal.may("admin"):
        raise HTTPException(status_code=403, detail="This needs an admin key.")
    return principal


PrincipalDep = Annotated[Principal, Depends(require_principal)]
AdminDep = Annotated[Principal, Depends(require_admin)]

"""What a browser may do with the service: security headers on every response, no state
change from another origin, CORS closed unless configured, and only known host names (DNS
rebinding). The API docs (Swagger UI) are served from a PyPI package's copy of its files, so
no page of the service loads a script from another origin.

All of it is ASGI middleware around the whole app, so it also covers errors raised before a
route runs (404s, 405s, 401s) and the static files."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsdesk.api.problems import Problem, problem_response
from newsdesk.settings import Settings

# Host names every service answers to: the loopback names a browser on this machine uses.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# Addresses that bind every interface: nobody sends them as a Host header.
_WILDCARD_BINDS = frozenset({"0.0.0.0", "::", "[::]", ""})

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

DOCS_URL = "/docs"
DOCS_ASSETS = "/docs-assets"


def _policy(**directives: str) -> str:
    return "; ".join(f"{name.replace('_', '-')} {value}" for name, value in directives.items())


_COMMON = {
    "connect_src": "'self'",
    "frame_ancestors": "'none'",
    "object_src": "'none'",
    "base_uri": "'none'",
    "form_action": "'self'",
}

# The chat page and everything else: scripts and styles from the service's own files only.
# `img-src data:` is for the page's empty favicon (`<link rel="icon" href="data:,">`).
PAGE_CSP = _policy(default_src="'self'", img_src="'self' data:", **_COMMON)


def _inline_script_hashes(html: str) -> str:
    """CSP source expressions for the inline scripts of a page FastAPI renders (Swagger UI's
    start-up script), computed from the page itself so a new FastAPI cannot silently break it."""
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in scripts
    )


def docs_asset_dir() -> Path:
    """Swagger UI's files as the `fastapi-offline` package ships them."""
    return Path(str(files("fastapi_offline") / "static"))


def _swagger_page(openapi_url: str, title: str) -> str:
    return bytes(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            oauth2_redirect_url=None,
        ).body
    ).decode()


def install_docs(app: FastAPI) -> str:
    """Serve `/docs` (Swagger UI) from local copies of its files: the app is built with
    ``docs_url=None, redoc_url=None``, since FastAPI's own pages load Swagger UI and ReDoc
    from a CDN. (ReDoc is left out: it also fetches its logo from its vendor's CDN.) Returns
    the Content-Security-Policy the page needs: Swagger UI starts from an inline script
    (allowed by its hash, not wholesale) and renders with inline styles and `data:` images."""
    openapi_url = app.openapi_url or "/openapi.json"
    swagger = _swagger_page(openapi_url, app.title)

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger)

    app.mount(DOCS_ASSETS, StaticFiles(directory=docs_asset_dir()), name="docs-assets")
    return _policy(
        default_src="'self'",
        script_src=f"'self' {_inline_script_hashes(swagger)}",
        style_src="'self' 'unsafe-inline'",
        img_src="'self' data:",
        **_COMMON,
    )


class SecurityHeaders:
    """Headers on every response: a strict CSP (a looser one for the API docs page),
    nosniff, no framing, no referrer."""

    def __init__(self, app: ASGIApp, docs_csp: str) -> None:
        self.app = app
        self.docs_csp = docs_csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = self.docs_csp if scope["path"] == DOCS_URL else PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = csp
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SameOriginWrites:
    """Refuse state-changing requests that a page of another origin sent. Browsers send
    `Origin` with every cross-origin POST, including the "simple" ones (a form's multipart
    or text/plain body) that CORS lets through without a preflight; when `Origin` is absent,
    `Sec-Fetch-Site` tells. Clients that are not browsers (curl, the OpenAI SDK) send
    neither and are not affected."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        reason = self._refusal(Headers(scope=scope))
        if reason is None:
            await self.app(scope, receive, send)
            return
        response = problem_response(
            Problem(
                type="urn:newsdesk:problem:cross-origin",
                title="Forbidden",
                status=403,
                detail=reason,
                instance=scope["path"],
            )
        )
        await response(scope, receive, send)

    def _refusal(self, headers: Headers) -> str | None:
        origin = headers.get("origin")
        if origin is None:
            site = headers.get("sec-fetch-site", "").lower()
            if site in ("cross-site", "same-site"):
                return f"Refused a {site} request that changes state."
            return None
        if origin.rstrip("/").lower() in self.allowed_origins:
            return None
        parts = urlsplit(origin)
        host = headers.get("host", "").lower()
        if parts.scheme in ("http", "https") and host and parts.netloc.lower() == host:
            return None  # the service's own origin (behind a TLS terminator too)
        return f"Refused a request from origin {origin!r}: only this service's own pages (and NEWSDESK_CORS_ORIGINS) may change state."


class KnownHosts:
    """Answer only requests whose `Host` names this service, so that a page served under an
    attacker's domain that resolves to this address (DNS rebinding) gets a 400 problem
    document and nothing else. `*` allows every host; `*.example.org` any subdomain."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        names = [h.lower() for h in hosts]
        self.any_host = "*" in names
        self.exact = frozenset(h for h in names if not h.startswith("*"))
        self.suffixes = tuple(h[1:] for h in names if h.startswith("*."))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any_host or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _host_name(Headers(scope=scope).get("host", ""))
        if host in self.exact or (self.suffixes and host.endswith(self.suffixes)):
            await self.app(scope, receive, send)
            return
        response = problem_response(
            Problem(
                type="urn:newsdesk:problem:unknown-host",
                title="Bad Request",
                status=400,
                detail="Invalid host header: this service does not answer to that name "
                "(NEWSDESK_ALLOWED_HOSTS lists the names it answers to besides loopback).",
                instance=scope["path"],
            )
        )
        await response(scope, receive, send)


def _host_name(header: str) -> str:
    """The host of a `Host` header without its port; IPv6 literals keep their brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.split(":", 1)[0]


def allowed_hosts(settings: Settings) -> list[str]:
    """The Host header values the service answers to: the loopback names, NEWSDESK_HOST (when
    it names one host rather than every interface) and NEWSDESK_ALLOWED_HOSTS."""
    hosts = list(LOOPBACK_HOSTS)
    bound = settings.host.strip().lower()
    if bound not in _WILDCARD_BINDS:
        hosts.append(f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound)
    hosts.extend(h.lower() for h in settings.allowed_hosts)
    return list(dict.fromkeys(hosts))


def install_web_security(app: FastAPI, settings: Settings) -> None:
    """Add the middleware, outermost first: headers (so every refusal carries them too), the
    host check, CORS (answers preflights for configured origins only), the origin check."""
    docs_csp = install_docs(app)
    app.add_middleware(SameOriginWrites, allowed_origins=settings.cors_origins)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
        )
    app.add_middleware(KnownHosts, hosts=allowed_hosts(settings))
    app.add_middleware(SecurityHeaders, docs_csp=docs_csp)

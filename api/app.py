"""The FastAPI application: components built once in the lifespan hook, thin routers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from newsdesk import __version__
from newsdesk.api.auth import install_auth, require_principal
from newsdesk.api.limits import install_limits
from newsdesk.api.observability import install_observability, install_open_metrics
from newsdesk.api.openai_errors import install_openai_error_handlers
from newsdesk.api.problems import install_problem_handlers
from newsdesk.api.routers import (
    articles,
    ask,
    health,
    keys,
    reindex,
    search,
    summaries,
    timeline,
)
from newsdesk.api.routers.chat import router as chat_router
from newsdesk.api.routers.metrics import router as metrics_router
from newsdesk.api.routers.page import install_page
from newsdesk.api.web_security import install_web_security
from newsdesk.container import Newsdesk
from newsdesk.settings import Settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, desk: Newsdesk | None = None, *, warm_up: bool = False
) -> FastAPI:
    """Build the app. Pass ``desk`` to serve components opened elsewhere (tests share one
    loaded model that way); otherwise they are built from ``settings`` at startup.
    ``warm_up`` starts the answer pipeline (and a local LLM server) in the background at
    startup instead of on the first question."""
    settings = settings or (desk.settings if desk is not None else Settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = desk is None
        app.state.desk = desk or await run_in_threadpool(Newsdesk.open, settings)
        flusher = asyncio.create_task(_flush_periodically(app.state.desk))
        if warm_up:
            threading.Thread(target=app.state.desk.answerer, daemon=True).start()
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            if owned:
                await run_in_threadpool(app.state.desk.close)
            else:
                await run_in_threadpool(app.state.desk.indexes.flush)

    app = FastAPI(
        title="newsdesk",
        version=__version__,
        summary="Question answering and summaries over news articles, every claim cited.",
        lifespan=lifespan,
        # Every route needs a key when keys are configured, unless auth.PUBLIC_PATHS lists it:
        # new routes are protected by default.
        dependencies=[Depends(require_principal)],
        # FastAPI's own docs pages load Swagger UI and ReDoc from a CDN: web_security serves
        # Swagger UI from local files instead, and no ReDoc.
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    install_openai_error_handlers(app)
    app.include_router(articles.router)
    app.include_router(search.router)
    app.include_router(ask.router)
    app.include_router(summaries.router)
    app.include_router(timeline.router)
    app.include_router(health.router)
    app.include_router(chat_router)
    app.include_router(metrics_router)
    app.include_router(keys.router)
    app.include_router(reindex.router)
    install_page(app)
    install_limits(app, settings)  # innermost: body size and rate limits, after auth
    install_auth(app, settings)  # inside web security, outside size and rate limits
    install_open_metrics(app, settings)  # outside auth: /metrics without a key, if open
    install_web_security(app, settings)
    install_observability(app)  # outermost: request ids, access lines, HTTP metrics
    return app


async def _flush_periodically(desk: Newsdesk) -> None:
    """Write changed derived indexes to disk now and then. SQLite already holds every
    acknowledged write; this only shortens the rebuild after a crash."""
    interval = desk.settings.index_flush_seconds
    while True:
        await asyncio.sleep(max(min(interval, 5.0), 0.5))
        try:
            await run_in_threadpool(desk.indexes.flush_if_due, interval)
        except Exception:
            log.exception("flushing derived indexes failed; will retry")

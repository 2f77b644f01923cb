"""The chat page: `/` and its static assets, shipped inside the package (no CDN, no build)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def install_page(app: FastAPI) -> None:
    """Serve the page at `/` and its assets under `/static`; neither is part of the API, so
    both stay out of the OpenAPI schema."""

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        # no-cache: a browser revalidates, so an upgraded service never runs a stale page.
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

"""FastAPI dependencies: the components built at startup, handed to routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from newsdesk.container import Newsdesk
from newsdesk.settings import Settings


def get_desk(request: Request) -> Newsdesk:
    return request.app.state.desk


def get_settings(request: Request) -> Settings:
    return request.app.state.desk.settings


DeskDep = Annotated[Newsdesk, Depends(get_desk)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

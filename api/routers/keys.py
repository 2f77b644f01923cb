"""/keys: API keys for admins (create, list, revoke; the HTTP twin of `newsdesk keys`), and
/whoami: the caller's key name and role (the chat page hides what a `read` key cannot do)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from newsdesk.api.auth import AdminDep, Keys, PrincipalDep
from newsdesk.api.problems import PROBLEM_RESPONSES, problem_doc
from newsdesk.stores.keys import KeyStore, Role, StoredKey

router = APIRouter(tags=["keys"], responses=PROBLEM_RESPONSES)


def _key_store(request: Request) -> KeyStore:
    keys: Keys = request.app.state.keys
    return keys.store


KeyStoreDep = Annotated[KeyStore, Depends(_key_store)]


class WhoAmI(BaseModel):
    name: str = Field(description="The key's name (`anonymous` when no keys are configured).")
    role: Role = Field(
        description="`read` (search, ask, summaries, chat, article reads) or "
        "`admin` (also ingest, upload, delete and keys)."
    )
    authenticated: bool = Field(description="Whether a key was checked (false: keys are off).")


class KeyInfo(BaseModel):
    """A stored key as listed: never the key or its hash."""

    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: StoredKey) -> KeyInfo:
        return cls(
            name=key.name, role=key.role, created_at=key.created_at, revoked_at=key.revoked_at
        )


class NewKey(KeyInfo):
    key: str = Field(description="The key itself: shown this once, only its hash is stored.")


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str | None = Field(
        default=None,
        description="Unique; 1 to 64 letters, digits, '.', '_' or '-'. Generated when left out.",
    )


@router.get("/whoami", response_model=WhoAmI, summary="The caller's key name and role")
def whoami(principal: PrincipalDep) -> WhoAmI:
    return WhoAmI(name=principal.name, role=principal.role, authenticated=principal.authenticated)


@router.post(
    "/keys",
    response_model=NewKey,
    status_code=201,
    summary="Create a key (admin)",
    responses={
        409: problem_doc("A key of that name, or that key, is already stored"),
    },
)
def create_key(principal: AdminDep, store: KeyStoreDep, body: KeyRequest) -> NewKey:
    # With no keys yet, every caller counts as admin; letting one of them mint the first key
    # over HTTP would lock everyone else out. The first key is made on the machine instead.
    if not principal.authenticated:
        raise HTTPException(
            status_code=403,
            detail="Keys are off: create the first key with `newsdesk keys create` on the "
            "service's machine; over HTTP, only an admin key may create keys.",
        )
    stored, key = store.create(body.role, body.name)
    return NewKey(**KeyInfo.of(stored).model_dump(), key=key)


@router.get("/keys", response_model=list[KeyInfo], summary="List keys (admin)")
def list_keys(_: AdminDep, store: KeyStoreDep) -> list[KeyInfo]:
    return [KeyInfo.of(key) for key in store.list()]


@router.delete("/keys/{name}", status_code=204, summary="Revoke a key (admin)")
def revoke_key(_: AdminDep, store: KeyStoreDep, name: str) -> Response:
    store.revoke(name)
    return Response(status_code=204)

"""Errors the core raises on purpose. The HTTP layer turns each into an RFC 9457 problem
response and the CLI into a message with a non-zero exit; the core never knows about either."""

from __future__ import annotations

from typing import Any


class NewsdeskError(Exception):
    """Base class: something the caller can be told about in plain words."""

    status = 500
    title = "Internal error"
    slug = "internal-error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def extensions(self) -> dict[str, Any]:
        """Extra members for the problem document (RFC 9457 allows them)."""
        return {}


class InvalidInput(NewsdeskError):
    status = 422
    title = "Invalid input"
    slug = "invalid-input"


class NotFound(NewsdeskError):
    status = 404
    title = "Not found"
    slug = "not-found"


class PayloadTooLarge(NewsdeskError):
    status = 413
    title = "Payload too large"
    slug = "payload-too-large"


class ArticlesRejected(InvalidInput):
    """Nothing in an ingest request could be accepted; says why for each article."""

    slug = "articles-rejected"
    title = "No article could be ingested"

    def __init__(self, rejected: list[Any]) -> None:
        reasons = "; ".join(f"{r.id or r.origin or 'article'}: {r.reason}" for r in rejected[:5])
        more = f" (and {len(rejected) - 5} more)" if len(rejected) > 5 else ""
        super().__init__(f"{len(rejected)} rejected: {reasons}{more}")
        self.rejected = rejected

    def extensions(self) -> dict[str, Any]:
        return {"rejected": [r.model_dump() for r in self.rejected]}


class DataDirectoryInUse(NewsdeskError):
    """Another open collection (in this process or another) holds the data directory: one
    process per data directory, so that SQLite and the index snapshots tell one truth."""

    status = 409
    title = "Data directory in use"
    slug = "data-directory-in-use"


class DatabaseUnavailable(NewsdeskError):
    """The configured database (NEWSDESK_DATABASE_URL) cannot be reached or used."""

    status = 503
    title = "Database unavailable"
    slug = "database-unavailable"


class VectorStoreUnavailable(NewsdeskError):
    """The configured vector store cannot be used: its client is not installed, or the
    store cannot be reached or set up (``vector_store=milvus``)."""

    status = 503
    title = "Vector store unavailable"
    slug = "vector-store-unavailable"


class Unavailable(NewsdeskError):
    """Something the request needs outside the service (a cluster, an optional package) is
    missing or cannot be reached."""

    status = 503
    title = "Unavailable"
    slug = "unavailable"

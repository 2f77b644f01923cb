"""Errors the core raises on purpose. The HTTP layer turns each into an RFC 9457 problem
response and the CLI into a message with a non-zero exit; the core never knows about either."""

from __future__ import annotations


class NewsdeskError(Exception):
    """Base class: something the caller can be told about in plain words."""

    status = 500
    title = "Internal error"
    slug = "internal-error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


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

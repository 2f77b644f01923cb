"""RFC 9457 problem details: every error the API returns is ``application/problem+json``
with ``type``, ``title``, ``status`` and ``detail`` (plus ``errors`` for invalid fields)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from newsdesk.errors import NewsdeskError
from newsdesk.logs import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    type: str = Field(default="about:blank", description="URI naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Field-level errors, for invalid requests."
    )
    rejected: list[dict[str, Any]] | None = Field(
        default=None, description="Articles refused by an ingest request, with reasons."
    )
    request_id: str | None = Field(
        default_factory=current_request_id,
        description="The request's id (also in the X-Request-ID header and the service's log).",
    )


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _problem_type(slug: str) -> str:
    return f"urn:newsdesk:problem:{slug}"


def problem_for(exc: NewsdeskError, instance: str | None = None) -> Problem:
    return Problem(
        type=_problem_type(exc.slug),
        title=exc.title,
        status=exc.status,
        detail=exc.detail,
        instance=instance,
        **exc.extensions(),
    )


def problem_response_for(request: Request, exc: Exception) -> JSONResponse:
    """The problem document for an exception the API turns into an error response."""
    instance = request.url.path
    if isinstance(exc, NewsdeskError):
        return problem_response(problem_for(exc, instance))
    if isinstance(exc, RequestValidationError):
        return problem_response(_validation_problem(exc, instance))
    if isinstance(exc, StarletteHTTPException):
        response = problem_response(
            Problem(
                title=HTTPStatus(exc.status_code).phrase,
                status=exc.status_code,
                detail=str(exc.detail) if exc.detail else None,
                instance=instance,
            )
        )
        # WWW-Authenticate (401) and Allow (405) belong on the response.
        response.headers.update(exc.headers or {})
        return response
    raise TypeError(f"no problem document for {type(exc).__name__}")


def _validation_problem(exc: RequestValidationError, instance: str) -> Problem:
    errors = [
        {"location": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors()
    ]
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
    return Problem(
        type=_problem_type("invalid-request"),
        title="Invalid request",
        status=422,
        detail=detail,
        instance=instance,
        errors=errors,
    )


async def _problem_handler(request: Request, exc: Exception) -> Response:
    return problem_response_for(request, exc)


HANDLED_ERRORS: tuple[type[Exception], ...] = (
    NewsdeskError,
    RequestValidationError,
    StarletteHTTPException,
)


def install_problem_handlers(app: FastAPI) -> None:
    for error in HANDLED_ERRORS:
        app.add_exception_handler(error, _problem_handler)


# For the OpenAPI schema: the error responses every API route may give, so that clients (and
# the fuzz test's status-code check, tests/test_fuzz_api.py) know all of them.
def problem_doc(description: str) -> dict[str, Any]:
    """An error response for a route's OpenAPI `responses`: a problem document."""
    return {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": description}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: problem_doc(text)
    for status, text in {
        400: "Malformed request: a body that cannot be decoded or parsed, an unknown Host",
        401: "No API key, or an unknown one (when keys are configured)",
        403: "The key's role may not do this (a `read` key on an admin route)",
        404: "No such resource",
        413: "Request too large",
        422: "Invalid request",
        429: "Too many requests (when a rate limit is set); see `Retry-After`",
    }.items()
}

"""Errors on the OpenAI-compatible routes (/v1/…) take OpenAI's shape,
``{"error": {"message", "type", "param", "code"}}``, so OpenAI clients raise their usual
exceptions; every other route keeps RFC 9457 problems (newsdesk.api.problems).

One handler chooses by path, so one app serves both conventions."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from newsdesk.api.openai_schemas import OpenAIErrorBody, OpenAIErrorResponse
from newsdesk.api.problems import HANDLED_ERRORS, Problem, problem_response, problem_response_for
from newsdesk.errors import NewsdeskError

OPENAI_PREFIX = "/v1"


class OpenAIRequestError(Exception):
    """A request the OpenAI-compatible routes refuse, with OpenAI's error fields."""

    def __init__(
        self, message: str, *, status: int = 400, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = OpenAIErrorBody(
            message=message, type=error_type(status), param=param, code=code
        )


def error_type(status: int) -> str:
    # As OpenAI does: a missing or wrong key is an invalid request with code invalid_api_key.
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def error_json(body: OpenAIErrorBody) -> dict[str, Any]:
    return OpenAIErrorResponse(error=body).model_dump()


def error_response(
    status: int, body: OpenAIErrorBody, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_json(body), status_code=status, headers=headers)


def from_newsdesk_error(exc: NewsdeskError) -> tuple[int, OpenAIErrorBody]:
    # OpenAI answers every invalid parameter with 400; clients map 422 to another exception.
    status = 400 if exc.status == 422 else exc.status
    return status, OpenAIErrorBody(message=exc.detail, type=error_type(status), code=exc.slug)


def _from_validation(exc: RequestValidationError) -> tuple[int, OpenAIErrorBody]:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    location = [str(part) for part in first["loc"] if part != "body"]
    param = ".".join(location) or None
    message = f"{param}: {first['msg']}" if param else str(first["msg"])
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problems)"
    return 400, OpenAIErrorBody(
        message=message, type="invalid_request_error", param=param, code="invalid_value"
    )


def _from_http(exc: StarletteHTTPException, request: Request) -> tuple[int, OpenAIErrorBody]:
    status = exc.status_code
    if status == 404 and exc.detail == "Not Found":
        message = f"Invalid URL ({request.method} {request.url.path})"
    else:
        message = str(exc.detail)
    code = "invalid_api_key" if status == 401 else None
    return status, OpenAIErrorBody(message=message, type=error_type(status), code=code)


def is_openai_path(path: str) -> bool:
    return path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/")


def _is_openai_route(request: Request) -> bool:
    return is_openai_path(request.url.path)


def refusal_response(
    path: str,
    status: int,
    *,
    slug: str,
    title: str,
    detail: str,
    openai_code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error in the route's own convention, for middleware that answers before FastAPI's
    exception handlers run: an OpenAI error under /v1, an RFC 9457 problem elsewhere."""
    response: Response
    if is_openai_path(path):
        body = OpenAIErrorBody(message=detail, type=error_type(status), code=openai_code)
        response = error_response(status, body)
    else:
        response = problem_response(
            Problem(
                type=f"urn:newsdesk:problem:{slug}",
                title=title,
                status=status,
                detail=detail,
                instance=path,
            )
        )
    response.headers.update(headers or {})
    return response


async def _error_handler(request: Request, exc: Exception) -> Response:
    if isinstance(exc, OpenAIRequestError):
        return error_response(exc.status, exc.body)
    if not _is_openai_route(request):
        return problem_response_for(request, exc)
    if isinstance(exc, RequestValidationError):
        return error_response(*_from_validation(exc))
    if isinstance(exc, StarletteHTTPException):
        return error_response(*_from_http(exc, request), headers=dict(exc.headers or {}))
    if isinstance(exc, NewsdeskError):
        return error_response(*from_newsdesk_error(exc))
    raise TypeError(f"no error response for {type(exc).__name__}")


def install_openai_error_handlers(app: FastAPI) -> None:
    """OpenAI-shaped errors on /v1, problem documents everywhere else (replaces the handlers
    that install_problem_handlers set)."""
    for error in (*HANDLED_ERRORS, OpenAIRequestError):
        app.add_exception_handler(error, _error_handler)

"""The service's logs: one JSON object a line (or plain text), each line made while serving a
request carrying that request's id.

The id lives in a :class:`~contextvars.ContextVar` that the HTTP middleware sets
(``api/observability.py``). Everything the request runs inherits it without passing it along:
the tasks it starts, and the functions Starlette runs in its thread pool (``run_in_threadpool``
copies the context into the worker thread). A logging filter copies it onto every record.

What never goes into a log line: keys, article text, questions. The service's own messages
hold ids, counts and error kinds; access lines hold the path without its query string; and
libraries that log request bodies at DEBUG (``openai``, ``sse_starlette``) stay at INFO
whatever ``NEWSDESK_LOG_LEVEL`` says — only ``newsdesk``'s own loggers go down to DEBUG."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from newsdesk.settings import Settings

REQUEST_ID: ContextVar[str | None] = ContextVar("newsdesk_request_id", default=None)

# Record attributes that are not fields of a line: logging's own, plus uvicorn's copy of its
# message with terminal colour codes.
_NOT_FIELDS = [*RESERVED_ATTRS, "color_message"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return REQUEST_ID.get()


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record the handler writes (``None`` outside a
    request: start-up, the index flusher, the LLM warm-up thread)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def json_formatter() -> logging.Formatter:
    """``{"time", "level", "logger", "message", "request_id", ...extra fields}``; an
    exception's traceback goes in ``exc_info``."""
    return JsonFormatter(
        ["levelname", "name", "message", "request_id"],
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        reserved_attrs=_NOT_FIELDS,
        json_ensure_ascii=False,
    )


def configure_logging(settings: Settings) -> None:
    """Send every logger's records to stderr, one line each, in ``NEWSDESK_LOG_FORMAT`` from
    ``NEWSDESK_LOG_LEVEL``. Replaces the root logger's handlers, so it may be called again."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        json_formatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    wanted = logging.getLevelName(settings.log_level.upper())
    # Libraries never below INFO: at DEBUG some log whole request and response bodies
    # (openai its request options with the prompt, sse_starlette every event it sends).
    root.setLevel(max(wanted, logging.INFO))
    logging.getLogger("newsdesk").setLevel(wanted)
    # Python's warnings (a library's deprecation notes) as log lines too, not bare stderr text.
    logging.captureWarnings(True)

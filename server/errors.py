"""One error shape for every failure: {"error": {"code": stable_code, "message": text}}.

`code` is stable (the browser translates it); `message` is plain English for tooling.
No handler echoes request data: no body, header, address or exception text goes back
to the client or into a log line.
"""

import logging
import os
import traceback
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crypto.errors import ProtocolError

from .faults import classify

log = logging.getLogger("quietline.server")

# Protocol codes whose HTTP status is not the default 400.
PROTOCOL_STATUS = {"too_large": 413}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "bad_request",
}


class ApiError(Exception):
    """A refusal the API reports to the caller; nothing has been stored."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def from_protocol(cls, exc: ProtocolError, *, code: str | None = None) -> "ApiError":
        status = PROTOCOL_STATUS.get(exc.code, 400)
        return cls(status, code or exc.code, exc.message)


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.code, exc.message, headers)


async def _protocol_error(request: Request, exc: ProtocolError) -> JSONResponse:
    api = ApiError.from_protocol(exc)
    return error_response(api.status, api.code, api.message)


def _known_names() -> frozenset[str]:
    from pydantic import BaseModel

    from . import schemas

    names = {"body", "path", "query", "header", "upload_id", "index"}
    for value in vars(schemas).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            names.update(value.model_fields)
    return frozenset(names)


_KNOWN = _known_names()


def _where(loc) -> str:
    # Only our own field names and list positions: a client-chosen key is request data.
    return ".".join(str(part) if isinstance(part, int) or part in _KNOWN else "(unexpected field)" for part in loc)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Only where and what kind of problem: pydantic's `input` would echo the request.
    problems = []
    for error in exc.errors()[:5]:
        problems.append(f"{_where(error.get('loc', ()))}: {error.get('msg', 'invalid')}")
    return error_response(422, "bad_request", "request is not valid: " + "; ".join(problems))


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "http_error")
    messages = {
        404: "no such resource",
        405: "method not allowed on this resource",
        413: "request body is too large",
    }
    message = messages.get(exc.status_code, "request refused")
    return error_response(exc.status_code, code, message, getattr(exc, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ProtocolError, _protocol_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


_OURS = tuple(str(Path(__file__).resolve().parent.parent / part) + os.sep for part in ("server", "crypto"))


def scrubbed_location(exc: BaseException) -> str:
    """Exception type, the innermost frame's file and line and, when that is in a library,
    the innermost of our own frames: never its message, which could carry request data
    (SQL parameters, identifiers, paths)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    where = f" at {frames[-1].filename}:{frames[-1].lineno}"
    ours = next((f for f in reversed(frames) if f.filename.startswith(_OURS)), None)
    if ours is not None and ours is not frames[-1]:
        where += f" (from {ours.filename}:{ours.lineno})"
    return f"{type(exc).__name__}{where}"


class CatchAllMiddleware:
    """Turns any unexpected exception into a bare 500 `internal_error` (or, for a full disk
    or an unavailable database, 507 `storage_full` or 503 `unavailable`: server/faults.py)
    and logs only its type and location. Unlike Starlette's ServerErrorMiddleware it does
    not re-raise, so the server's own traceback logging never sees request details."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            fault = classify(exc)
            if fault is None:
                log.error("internal error: %s", scrubbed_location(exc))
                status, code, message = 500, "internal_error", "internal server error"
            else:  # a full disk or an unavailable database: the server's condition, not a bug
                log.warning("%s (%s): %s", fault.code, fault.reason, scrubbed_location(exc))
                status, code, message = fault.status, fault.code, fault.message
            if started:
                return  # the response is cut short; nothing more can be said
            response = error_response(status, code, message)
            await response(scope, receive, send)

"""Request body caps.

JSON endpoints: the whole body is read here, up to a cap, before the route sees it (the
route would buffer it anyway); a larger body is refused with 413 `too_large` without
reading further. Streaming endpoints (chunk uploads, outbound bundles) enforce their own
caps while they stream, so they are passed through untouched.
"""

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import error_response

STREAMING_ROUTES = (
    ("PUT", re.compile(r"^/api/v1/uploads/[^/]+/chunks/[^/]+$")),
    ("POST", re.compile(r"^/api/v1/desk/outbound$")),
)


def is_streaming(scope: Scope) -> bool:
    return any(scope["method"] == method and pattern.match(scope["path"]) for method, pattern in STREAMING_ROUTES)


def declared_length(scope: Scope) -> int | None:
    """The Content-Length header, None if absent; -1 if malformed."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return -1
            return length if length >= 0 else -1
    return None


class JsonBodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_streaming(scope):
            await self.app(scope, receive, send)
            return
        length = declared_length(scope)
        if length == -1:
            await error_response(400, "bad_request", "Content-Length is malformed")(scope, receive, send)
            return
        if length is not None and length > self.max_bytes:
            await _too_large(scope, receive, send)
            return

        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await _too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    await error_response(413, "too_large", "request body is too large")(scope, receive, send)

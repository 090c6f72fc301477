"""Request-body limits for the routes that read a whole body into memory (SPARQL queries and updates, inference).

A request whose ``Content-Length`` is over the limit is answered 413 at once, before its body is read; a chunked
body is counted as it arrives and refused once it passes the limit. Registration uploads have their own, larger
limit (:mod:`fairkg.api.registration`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fairkg.api.problems import PROBLEM_BASE, ProblemError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_INFER = re.compile(r"^/v2/models/[^/]+(/versions/[^/]+)?/infer$")


def _too_large(limit: int, what: str) -> ProblemError:
    detail = f"the {what} body is larger than this service accepts ({limit} bytes): send less, or in several requests"
    # `error` is what tritonclient reads on /v2 (Open Inference Protocol); it does no harm elsewhere
    return ProblemError(413, detail, title="Request body too large", type=PROBLEM_BASE + "body-too-large",
                        error=detail)


class BodyLimitMiddleware:
    """Cap the body of ``POST /sparql`` at ``query_bytes`` and of ``POST /v2/models/{name}/infer`` at
    ``infer_bytes`` (pure ASGI, so the check runs before anything reads the body)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], *, query_bytes: int,
                 infer_bytes: int) -> None:
        self.app = app
        self.query_bytes = query_bytes
        self.infer_bytes = infer_bytes

    def _limit(self, scope: Scope) -> tuple[int, str] | None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path = scope["path"]
        if path == "/sparql":
            return self.query_bytes, "SPARQL request"
        if _INFER.match(path):
            return self.infer_bytes, "inference request"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._limit(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        limit, what = found
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = _too_large(limit, what).response(scope["path"])
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # raised inside the route's body read: answered by the problem handler
                    raise _too_large(limit, what)
            return message

        await self.app(scope, counted, send)

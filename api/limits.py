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

#: the Open Inference Protocol's infer endpoints; a path segment is what Starlette's ``{name}`` matches
_INFER = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")


def route_path(scope: Scope) -> str:
    """The request's path as the app's routes see it: without the ``root_path`` it is served under (what
    Starlette's router strips before matching)."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] == "/":
        return path[len(root):]
    return path


def infer_path(scope: Scope) -> tuple[str, str | None] | None:
    """``(name, version)`` when the request's path is ``/v2/models/{name}[/versions/{version}]/infer``, else None.

    >>> infer_path({"path": "/v2/models/abc/versions/2/infer"}), infer_path({"path": "/v2/models/abc/ready"})
    (('abc', '2'), None)
    """
    found = _INFER.fullmatch(route_path(scope))
    return (found[1], found[2]) if found is not None else None


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
        path = route_path(scope)
        if path == "/sparql":
            return self.query_bytes, "SPARQL request"
        if infer_path(scope) is not None:
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

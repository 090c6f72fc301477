"""Errors as RFC 9457 problem documents (https://www.rfc-editor.org/rfc/rfc9457), for every route.

Routes raise :class:`ProblemError` (or let a ``fairkg.kg`` error through); :func:`install_problem_handlers` turns
those, FastAPI's request validation errors and Starlette's HTTP exceptions (404 for an unknown path, 405 ...) into
``application/problem+json`` answers, so a client only ever has to read one error format.
"""

from __future__ import annotations

import http
import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fairkg.kg.errors import (
    FairkgError,
    IdentifierError,
    NotFoundError,
    QuerySyntaxError,
    QueryTimeoutError,
)

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Problem types fairkg defines; RFC 9457 §3.1.1 asks for a URI, and "about:blank" for plain HTTP errors.
PROBLEM_BASE = "https://w3id.org/fairkg/problems/"


class ProblemError(Exception):
    """An error answered as a problem document: ``status`` and ``title`` (short, per type), ``detail`` (this
    occurrence, what to do about it), ``type`` (a URI naming the kind of problem), extension members in ``extra`` and
    HTTP ``headers`` to send with it (``Allow``, ``WWW-Authenticate``, ``Retry-After`` ...)."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, type: str = "about:blank",
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        # RFC 9457 §4.2.1: with "about:blank" the title SHOULD be the HTTP status phrase.
        self.title = title or _phrase(status)
        self.type = type
        self.headers = dict(headers or {})
        self.extra = extra

    def document(self, instance: str | None = None) -> dict[str, Any]:
        """The problem's JSON members (RFC 9457 §3.1); extension members never shadow the standard ones."""
        doc: dict[str, Any] = {k: v for k, v in self.extra.items() if k not in _STANDARD_MEMBERS}
        doc.update(type=self.type, title=self.title, status=self.status, detail=self.detail)
        if instance:
            doc["instance"] = instance
        return doc

    def response(self, instance: str | None = None) -> JSONResponse:
        """The problem as an HTTP response."""
        return JSONResponse(jsonable_encoder(self.document(instance)), status_code=self.status,
                            headers=self.headers, media_type=PROBLEM_MEDIA_TYPE)


_STANDARD_MEMBERS = {"type", "title", "status", "detail", "instance"}


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_from_error(exc: FairkgError, *, timeout: float | None = None,
                       headers: Mapping[str, str] | None = None) -> ProblemError:
    """The problem for an error of ``fairkg.kg``; ``headers`` are added (CORS on a read, for instance)."""
    extra_headers = dict(headers or {})
    if isinstance(exc, QuerySyntaxError):
        # SPARQL 1.1 Protocol §2.1.7 / §2.2.5: 400 for a string that is not legal SPARQL.
        return ProblemError(400, f"the SPARQL request does not parse: {exc}", title="Malformed SPARQL",
                            type=PROBLEM_BASE + "sparql-syntax", headers=extra_headers)
    if isinstance(exc, QueryTimeoutError):
        # SPARQL 1.1 Protocol §2.1.7 names 500 for a query the service fails or refuses to execute and allows "other
        # 4XX or 5XX HTTP response codes for other failure conditions". A deadline is the service's failure, not the
        # client's (the query is legal), so 5xx; of those, 503 says the service cannot serve this *now*: queries
        # share a bounded pool of workers, so the deadline can also pass while a query waits behind abandoned
        # runaways (pyoxigraph cannot stop them), which is exactly 503's "temporarily overloaded". Retry-After is one
        # deadline: the time after which the workers an abandoned query may hold are the likeliest to be free. The
        # detail says that the *same* query will most likely time out again.
        seconds = timeout
        if seconds is not None:
            extra_headers.setdefault("Retry-After", str(max(1, math.ceil(seconds))))
        return ProblemError(503, f"{exc}. The query was abandoned; the same query will most likely time out again: "
                            "make it more selective or add a LIMIT.", title="Query timed out",
                            type=PROBLEM_BASE + "query-timeout", headers=extra_headers, timeout=seconds)
    if isinstance(exc, NotFoundError):
        return ProblemError(404, str(exc), type=PROBLEM_BASE + "not-found", title="Not found", headers=extra_headers)
    if isinstance(exc, IdentifierError):
        return ProblemError(400, str(exc), type=PROBLEM_BASE + "bad-identifier", title="Not an identifier",
                            headers=extra_headers)
    # Anything else from the graph (I/O, a locked store, a refused registration...) is the service failing.
    log.error("fairkg error answered as 500", exc_info=exc)
    return ProblemError(500, f"{type(exc).__name__}: {exc}", type=PROBLEM_BASE + "internal", title="Internal error",
                        headers=extra_headers)


def _instance(request: Request) -> str:
    return request.url.path


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return exc.response(_instance(request))


async def _on_fairkg_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FairkgError)
    timeout = getattr(getattr(request.app.state, "settings", None), "query_timeout", None)
    return problem_from_error(exc, timeout=timeout).response(_instance(request))


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
    problem = ProblemError(exc.status_code, detail, headers=exc.headers)
    return problem.response(_instance(request))


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = jsonable_encoder(exc.errors())
    where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors)
    problem = ProblemError(422, f"the request is not valid: {where}", type=PROBLEM_BASE + "invalid-request",
                           title="Invalid request", errors=errors)
    return problem.response(_instance(request))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette's ServerErrorMiddleware calls this for any uncaught exception (and logs/re-raises it afterwards).
    problem = ProblemError(500, "the service failed unexpectedly; the error is in its log", title="Internal error",
                           type=PROBLEM_BASE + "internal")
    return problem.response(_instance(request))


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error ``app`` answers a problem document."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(FairkgError, _on_fairkg_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)


__all__ = ["PROBLEM_BASE", "PROBLEM_MEDIA_TYPE", "ProblemError", "install_problem_handlers", "problem_from_error"]

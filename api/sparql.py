"""``/sparql``: the SPARQL 1.1 Protocol (https://www.w3.org/TR/sparql11-protocol/) over the graph store.

* query (§2.1) by GET, by POST ``application/x-www-form-urlencoded`` and by POST ``application/sparql-query``, with
  ``default-graph-uri`` / ``named-graph-uri`` (§2.1.4); without them the default graph is the union of all named
  graphs (DESIGN.md, "The store"). Results by ``Accept`` (§2.1.5); see :mod:`fairkg.api.sparql_results`.
* update (§2.2) by POST form or ``application/sparql-update``, only with the admin bearer token. ``using-graph-uri``
  and ``using-named-graph-uri`` are refused with 400: the store has no way to pass them (the Protocol lets a service
  refuse a client-chosen dataset, §2.1.4).
* a GET without a query answers the SPARQL 1.1 Service Description (https://www.w3.org/TR/sparql11-service-description/).
* every query has the deadline ``settings.query_timeout``; a query past it is answered 503 (see
  :func:`fairkg.api.problems.problem_from_error` for why) and the service keeps serving others: the store call runs
  in a worker thread, never on the event loop. The embedded store's own workers are awaited directly (one thread hop
  per query, the answer serialised there too); other stores are called from a worker thread of anyio's.
* at most :data:`MAX_RESULT_ROWS` rows are returned; a SELECT cut there carries ``X-Fairkg-Truncated: true``.
* CORS: reads (queries, the description, preflight) carry ``Access-Control-Allow-Origin: *``; updates do not, and the
  preflight does not allow ``Authorization``, so no other site's page can send the admin token.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF

from fairkg.api.deps import get_settings, get_store, require_admin
from fairkg.api.problems import PROBLEM_BASE, ProblemError, problem_from_error
from fairkg.api.sparql_results import (
    ASK_FORMATS,
    GRAPH_FORMATS,
    SELECT_FORMATS,
    Format,
    negotiate,
    write_ask,
    write_graph,
    write_select,
)
from fairkg.kg.errors import FairkgError, QueryTimeoutError
from fairkg.kg.settings import Settings
from fairkg.kg.store.base import QueryResult, Store


class _RequestOnlyRoute(APIRoute):
    """A route whose endpoint is called with the request and nothing else, and returns its Response itself.

    The SPARQL routes read every parameter from the request (the Protocol lets them come from the URL, a form or the
    body, §2.1), so FastAPI's parameter solving and response handling buy them nothing and cost ~0.1 ms a request,
    which an identifier lookup (~0.3 ms of query) notices. Documentation (OpenAPI) and exception handling are those
    of any route. Route dependencies would not run, so none may be given.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        if self.dependencies:
            raise ValueError(f"{self.path}: a request-only route runs no dependencies")
        return self.endpoint


router = APIRouter(tags=["SPARQL"], route_class=_RequestOnlyRoute)

#: The most rows a SELECT returns; a result cut here carries the header :data:`TRUNCATED_HEADER`.
MAX_RESULT_ROWS = 10000
#: ``X-Fairkg-Truncated: true`` on a SELECT answer that stopped at MAX_RESULT_ROWS: add LIMIT/OFFSET to page.
TRUNCATED_HEADER = "X-Fairkg-Truncated"
#: Seconds the route waits past the store's own deadline before giving up on a store that ignores it.
DEADLINE_GRACE = 1.0

ALLOW = "GET, HEAD, POST, OPTIONS"
CORS_READ = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": TRUNCATED_HEADER}
FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
ENTAILMENT = Namespace("http://www.w3.org/ns/entailment/")
_ALL_FORMATS = (*SELECT_FORMATS, *GRAPH_FORMATS)
T = TypeVar("T")

_PARAMS = [{"name": name, "in": "query", "required": False, "description": text,
            "schema": {"type": "array", "items": {"type": "string"}} if many else {"type": "string"}}
           for name, many, text in [
               ("query", False, "The SPARQL 1.1 query (§2.1.1). Without it, the service description."),
               ("default-graph-uri", True, "A graph of the default graph (§2.1.4); repeatable."),
               ("named-graph-uri", True, "A named graph of the dataset (§2.1.4); repeatable.")]]
_BODIES = {FORM: {"schema": {"type": "object", "properties": {"query": {"type": "string"},
                                                              "update": {"type": "string"}}}},
           SPARQL_QUERY: {"schema": {"type": "string"}}, SPARQL_UPDATE: {"schema": {"type": "string"}}}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The result, in the format asked for by Accept.",
          "content": {f.media_type: {} for f in (*SELECT_FORMATS, *GRAPH_FORMATS)}},
    400: {"description": "Malformed SPARQL or protocol request (problem document)."},
    406: {"description": "No acceptable result format (problem document)."},
    503: {"description": "The query ran past its deadline (problem document)."},
}


def _bad_request(detail: str, *, read: bool = True, status: int = 400, **extra: Any) -> ProblemError:
    return ProblemError(status, detail, type=PROBLEM_BASE + "sparql-protocol", title="Bad SPARQL protocol request",
                        headers=CORS_READ if read else None, **extra)


@router.get("/sparql", openapi_extra={"parameters": _PARAMS}, response_class=Response, responses=_RESPONSES,
            summary="SPARQL query by GET, or the service description")
async def sparql_get(request: Request) -> Response:
    """Query via GET (§2.1.1); without ``query``, the service description in Turtle (or another RDF syntax by
    ``Accept``). Answers carry ``X-Fairkg-Truncated: true`` when a SELECT stopped at 10000 rows."""
    store, settings = get_store(request), get_settings(request)  # read, not injected: see _RequestOnlyRoute
    params = list(request.query_params.multi_items())
    if _values(params, "update"):
        raise _bad_request("the update operation must be sent by POST (SPARQL 1.1 Protocol §2.2)")
    if not _values(params, "query"):
        return _service_description(request)
    return await _query(params, request, store, settings)


@router.post("/sparql", openapi_extra={"requestBody": {"content": _BODIES, "required": True}},
             response_class=Response, responses={**_RESPONSES, 204: {"description": "The update was applied."}},
             summary="SPARQL query or update by POST")
async def sparql_post(request: Request) -> Response:
    """Query (§2.1.2, §2.1.3) or update (§2.2.1, §2.2.2, admin token only) by POST: a form with ``query`` or
    ``update``, or the request itself as ``application/sparql-query`` / ``application/sparql-update``."""
    store, settings = get_store(request), get_settings(request)  # read, not injected: see _RequestOnlyRoute
    media, charset = _content_type(request.headers.get("content-type"))
    url_params = list(request.query_params.multi_items())
    body = await request.body()
    if media == FORM:
        try:
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise _bad_request(f"the form is not UTF-8: {exc}") from exc
        params = url_params + form
    elif media in (SPARQL_QUERY, SPARQL_UPDATE):
        # §2.1.3 / §2.2.2: the body is the unencoded request, and "UTF-8 is the only valid charset here".
        if charset not in (None, "utf-8", "utf8"):
            raise _bad_request(f"{media} must be UTF-8, not {charset}", status=415)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _bad_request(f"the {media} body is not UTF-8: {exc}") from exc
        params = url_params + [("query" if media == SPARQL_QUERY else "update", text)]
    else:
        raise _bad_request(f"unsupported Content-Type {media or '(none)'!r}: send {FORM}, {SPARQL_QUERY} or "
                           f"{SPARQL_UPDATE}", status=415, accepted=[FORM, SPARQL_QUERY, SPARQL_UPDATE])

    queries, updates = _values(params, "query"), _values(params, "update")
    if queries and updates:
        raise _bad_request("a request carries either a query or an update, not both (§2.1, §2.2)")
    if updates:
        return await _update(params, request, store)
    if not queries:
        raise _bad_request("no query or update given: send the `query` or `update` parameter (§2.1, §2.2)")
    return await _query(params, request, store, settings)


# Routes are tried in the order they are added, each costing ~30 us: GET and POST (the queries) come first, HEAD after.
router.add_api_route("/sparql", sparql_get, methods=["HEAD"], include_in_schema=False)


@router.options("/sparql", summary="CORS preflight", status_code=204)
async def sparql_options(request: Request) -> Response:
    """CORS preflight (https://fetch.spec.whatwg.org/#http-cors-protocol): reads from any origin. ``Authorization``
    is deliberately not an allowed header, so a browser never sends the admin token cross-origin."""
    return Response(status_code=204, headers={
        **CORS_READ, "Allow": ALLOW, "Access-Control-Allow-Methods": "GET, HEAD, POST",
        "Access-Control-Allow-Headers": "Accept, Content-Type", "Access-Control-Max-Age": "86400"})


@router.api_route("/sparql", methods=["PUT", "DELETE", "PATCH"], include_in_schema=False)
async def sparql_other_method(request: Request) -> Response:
    # §2.1 and §2.2: queries are GET or POST, updates POST only (the W3C test `bad_query_method` sends PUT).
    raise ProblemError(405, f"{request.method} is not a SPARQL Protocol operation: query by GET or POST, update by "
                       "POST", headers={"Allow": ALLOW})


# -- query ---------------------------------------------------------------------------------------------------------
async def _query(params: list[tuple[str, str]], request: Request, store: Store, settings: Settings) -> Response:
    queries = _values(params, "query")
    if len(queries) != 1:
        raise _bad_request(f"exactly one `query` parameter is allowed, {len(queries)} were given (§2.1)")
    accept = request.headers.get("accept")
    if negotiate(accept, _ALL_FORMATS) is None:  # refuse before spending a query on an answer nobody can read
        raise _not_acceptable(accept, _ALL_FORMATS)
    default_graphs = _values(params, "default-graph-uri") or None
    named_graphs = _values(params, "named-graph-uri") or None
    timeout = settings.query_timeout
    try:
        body, fmt, truncated = await _run_query(store, queries[0], lambda result: _serialise(result, accept),
                                                timeout=timeout, default_graph_uris=default_graphs,
                                                named_graph_uris=named_graphs)
    except TimeoutError as exc:  # also QueryTimeoutError from the store itself
        error = exc if isinstance(exc, QueryTimeoutError) else QueryTimeoutError(
            f"query exceeded its {timeout:g} s deadline")
        raise problem_from_error(error, timeout=timeout, headers=CORS_READ) from exc
    except FairkgError as exc:
        raise problem_from_error(exc, timeout=timeout, headers=CORS_READ) from exc
    headers = {**CORS_READ, "Vary": "Accept"}
    if truncated:
        headers[TRUNCATED_HEADER] = "true"
    return Response(body, media_type=fmt.content_type, headers=headers)


def _serialise(result: QueryResult, accept: str | None) -> tuple[bytes, Format, bool]:
    offered = {"select": SELECT_FORMATS, "ask": ASK_FORMATS}.get(result.kind, GRAPH_FORMATS)
    fmt = negotiate(accept, offered)
    if fmt is None:
        raise _not_acceptable(accept, offered)
    if result.kind == "select":
        assert result.select is not None
        return write_select(result.select, fmt.writer), fmt, result.select.truncated
    if result.kind == "ask":
        return write_ask(bool(result.boolean), fmt.writer), fmt, False
    return write_graph(result.graph if result.graph is not None else Graph(), fmt.writer), fmt, False


def _not_acceptable(accept: str | None, offered: tuple[Format, ...]) -> ProblemError:
    available = list(dict.fromkeys(f.media_type for f in offered))
    return ProblemError(406, f"none of the formats in Accept: {accept!r} is available for this result; available: "
                        f"{', '.join(available)}", type=PROBLEM_BASE + "not-acceptable", headers=CORS_READ,
                        available=available)


async def _run_query(store: Store, sparql: str, then: Callable[[QueryResult], T], *, timeout: float,
                     default_graph_uris: list[str] | None, named_graph_uris: list[str] | None) -> T:
    """``then(store.query(sparql))`` off the event loop, within the deadline ``timeout``: awaited directly from a
    store with workers of its own (one thread hop), else in a worker thread that waits for the store."""
    options: dict[str, Any] = {"timeout": timeout, "limit": MAX_RESULT_ROWS, "public": True,
                               "default_graph_uris": default_graph_uris, "named_graph_uris": named_graph_uris}
    query_async = getattr(store, "query_async", None)  # an AsyncQueryStore (isinstance on a Protocol: ~10 us)
    if query_async is not None:  # the writers of fairkg.api.sparql_results read the store's own terms
        return await query_async(sparql, then, native_terms=True, **options)
    return await _in_thread(lambda: then(store.query(sparql, **options)), deadline=timeout + DEADLINE_GRACE)


async def _in_thread(fn: Callable[[], T], *, deadline: float) -> T:
    """``fn()`` in a worker thread, so the event loop keeps serving; after ``deadline`` seconds the caller gets
    TimeoutError and the thread is abandoned (it cannot be stopped; its result is dropped)."""
    with anyio.fail_after(deadline):
        return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)


# -- update --------------------------------------------------------------------------------------------------------
async def _update(params: list[tuple[str, str]], request: Request, store: Store) -> Response:
    require_admin(request)  # before anything else: an unauthorised client learns nothing about its update
    updates = _values(params, "update")
    if len(updates) != 1:
        raise _bad_request(f"exactly one `update` parameter is allowed, {len(updates)} were given (§2.2)", read=False)
    if _values(params, "using-graph-uri") or _values(params, "using-named-graph-uri"):
        raise _bad_request("using-graph-uri / using-named-graph-uri are not supported by this service: write USING "
                           "or WITH in the update instead", read=False)
    try:
        # No deadline: an update cannot be stopped either, and answering "failed" for one that then commits would
        # be worse than waiting. Updates are admin-only.
        await anyio.to_thread.run_sync(store.update, updates[0])
    except FairkgError as exc:
        raise problem_from_error(exc) from exc
    return Response(status_code=204)


# -- service description -------------------------------------------------------------------------------------------
def _service_description(request: Request) -> Response:
    """SPARQL 1.1 Service Description §3: an sd:Service for this endpoint, in the RDF syntax asked for."""
    accept = request.headers.get("accept")
    fmt = negotiate(accept, GRAPH_FORMATS)
    if fmt is None:
        raise _not_acceptable(accept, GRAPH_FORMATS)
    graph = Graph()
    graph.bind("sd", SD)
    graph.bind("formats", FORMATS)
    graph.bind("ent", ENTAILMENT)
    service, dataset, default_graph = BNode(), BNode(), BNode()
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, URIRef(str(request.url.replace(query="", fragment="")))))
    graph.add((service, DCTERMS.title, Literal("fairkg SPARQL endpoint")))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Update))  # with an admin bearer token (RFC 6750)
    for name in ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV", "Turtle",
                 "N-Triples", "JSON-LD", "RDF_XML"):
        graph.add((service, SD.resultFormat, FORMATS[name]))
    # The default graph is the union of all named graphs (DESIGN.md, "The store").
    graph.add((service, SD.feature, SD.UnionDefaultGraph))
    graph.add((service, SD.defaultEntailmentRegime, ENTAILMENT.Simple))
    graph.add((service, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, SD.defaultGraph, default_graph))
    graph.add((default_graph, RDF.type, SD.Graph))
    return Response(write_graph(graph, fmt.writer), media_type=fmt.content_type,
                    headers={**CORS_READ, "Vary": "Accept"})


# -- helpers -------------------------------------------------------------------------------------------------------
def _values(params: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in params if key == name]


def _content_type(header: str | None) -> tuple[str | None, str | None]:
    """The media type and charset of a Content-Type header, lower-cased."""
    if not header:
        return None, None
    media, *params = header.split(";")
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower() or None, charset


__all__ = ["MAX_RESULT_ROWS", "TRUNCATED_HEADER", "router"]

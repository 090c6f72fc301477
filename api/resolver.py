"""The resolver: identifiers to the resource's page, and the page in every representation (DESIGN.md, "The
service"; "Identifiers and addresses").

* ``/doi/{prefix}/{suffix}``, ``/ark:/{naan}/{name}`` (and ``/ark:{naan}/{name}``), ``/minid:{id}``,
  ``/resolve?id=ANY`` answer **303 See Other** to the resource's page ``/id/{uuid}``: the identifier names the
  thing (a model), the page describes it. An identifier nothing carries is a 404 problem, one that does not parse
  a 400 problem (RFC 9457).
* ``/id/{uuid}`` (and ``/models/{key}`` for a model) is the page: HTML, Turtle, JSON-LD, RDF/XML, N-Triples,
  JSON ``{iri, key, identifiers}``, DataCite JSON/XML, schema.org JSON-LD, by ``Accept`` or ``?format=``
  (:mod:`fairkg.api.negotiation`), with FAIR Signposting ``Link`` headers (:mod:`fairkg.api.signposting`).
* ``/id/{uuid}/{file}`` serves one representation by name (``datacite.xml``, ``record.ttl``, ``CITATION.cff``,
  ``ro-crate.zip`` …): these are the targets of the ``describedby`` links.

The service answers for IRIs ``{base_iri}/id/{uuid}`` whatever host and port it is reached on; every link it
writes to itself is relative. A withdrawn record still resolves in every format, marked withdrawn (FAIR A2); its
crate holds the metadata only.
"""

from __future__ import annotations

import html
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from rdflib import URIRef

from fairkg.api.deps import SettingsDep, StoreDep
from fairkg.api.negotiation import BY_NAME, Representation, available, by_filename, choose, not_acceptable
from fairkg.api.problems import PROBLEM_BASE, ProblemError, problem_from_error
from fairkg.api.signposting import Link, describes_link, link_header, record_links, resource_links
from fairkg.api.sparql_results import write_graph
from fairkg.kg.describe import record_graph, resolved
from fairkg.kg.errors import FairkgError, NotFoundError
from fairkg.kg.exports import (
    Record,
    citation_cff,
    datacite_document,
    datacite_xml_from,
    read_record,
    ro_crate,
    schema_org,
    schema_org_document,
)
from fairkg.kg.identifiers import Identifier, key_of, lookup, parse_identifier, resource_iri
from fairkg.kg.settings import Settings
from fairkg.kg.store.base import Store

router = APIRouter(tags=["Resolver"])

#: Browser-based FAIR tools must be able to read the links and follow the redirect.
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Link, Location, Content-Disposition"}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_GRAPH_WRITERS = {"turtle": "turtle", "jsonld": "json-ld", "rdfxml": "xml", "ntriples": "nt"}
#: ``?format=``: a representation by name, for clients that cannot set Accept (a link in a page, a shell).
FormatParam = Annotated[str | None, Query(description="html, turtle, jsonld, rdfxml, ntriples, json, datacite-json, "
                                          "datacite-xml, schemaorg, cff or ro-crate; overrides Accept")]
T = TypeVar("T")


# -- identifiers to the page (303) ---------------------------------------------------------------------------------
@router.get("/doi/{prefix}/{suffix:path}", status_code=303, summary="Resolve a DOI")
async def resolve_doi(prefix: str, suffix: str, request: Request, store: StoreDep, settings: SettingsDep,
                      format: FormatParam = None) -> Response:
    return await _redirect(f"{prefix}/{suffix}", request, store, settings, format, scheme="doi")


@router.get("/ark:/{naan}/{name:path}", status_code=303, summary="Resolve an ARK")
@router.get("/ark:{naan}/{name:path}", status_code=303, include_in_schema=False)
async def resolve_ark(naan: str, name: str, request: Request, store: StoreDep, settings: SettingsDep,
                      format: FormatParam = None) -> Response:
    return await _redirect(f"ark:/{naan}/{name}", request, store, settings, format, scheme="ark")


@router.get("/minid:{ident:path}", status_code=303, summary="Resolve a minid")
async def resolve_minid(ident: str, request: Request, store: StoreDep, settings: SettingsDep,
                        format: FormatParam = None) -> Response:
    return await _redirect(f"minid:{ident}", request, store, settings, format, scheme="minid")


@router.get("/resolve", status_code=303, summary="Resolve any identifier")
async def resolve_any(request: Request, store: StoreDep, settings: SettingsDep, id: str | None = None,
                      format: FormatParam = None) -> Response:
    """``id``: a DOI (bare, ``doi:`` or ``https://doi.org/``), an ARK, a minid, a UUID or a resource IRI."""
    if not id or not id.strip():
        raise ProblemError(400, "give the identifier to resolve: /resolve?id=10.5072/…", title="Not an identifier",
                           type=PROBLEM_BASE + "bad-identifier", headers=CORS)
    return await _redirect(id, request, store, settings, format)


async def _redirect(text: str, request: Request, store: Store, settings: Settings, format: str | None, *,
                    scheme: str | None = None) -> Response:
    def find() -> URIRef:
        ident = parse_identifier(text, base_iri=settings.base_iri)
        if scheme and ident.scheme != scheme:
            raise ProblemError(400, f"{text!r} is not a {scheme} identifier", title="Not an identifier",
                               type=PROBLEM_BASE + "bad-identifier", headers=CORS)
        return lookup(store, ident, base_iri=settings.base_iri)

    iri = await _in_thread(find)
    location = _page_or_iri(str(iri), request, settings)
    if format and location.startswith("/"):
        location += "?" + urlencode({"format": format})
    return Response(status_code=303, headers={"Location": location, **CORS})


def _page_or_iri(iri: str, request: Request, settings: Settings) -> str:
    """The page path of a resource of this registry, or the IRI itself for one outside it (an ORCID)."""
    if iri.startswith(settings.base_iri + "/id/"):
        return f"{_root(request)}/id/{key_of(iri)}"
    return iri


# -- the page: negotiation -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Target:
    """The resource a page is about: its IRI and key, and its record when it is a registered model or dataset."""

    iri: URIRef
    key: str
    record: Record | None


@router.get("/id/{uuid}", summary="A resource's page, by content negotiation")
@router.head("/id/{uuid}", include_in_schema=False)
async def resource(uuid: str, request: Request, store: StoreDep, settings: SettingsDep,
                   format: FormatParam = None) -> Response:
    """The resource ``{base_iri}/id/{uuid}`` in the representation asked for by ``Accept`` or ``format``."""
    target = await _in_thread(lambda: _target(store, settings, uuid))
    return await _page(target, request, store, settings, format)


@router.get("/models/{key}", summary="A model's page, by content negotiation")
@router.head("/models/{key}", include_in_schema=False)
async def model(key: str, request: Request, store: StoreDep, settings: SettingsDep,
                format: FormatParam = None) -> Response:
    """The same page as ``/id/{key}``, for a registered model."""
    target = await _in_thread(lambda: _target(store, settings, key))
    if target.record is None or target.record.kind != "model":
        raise ProblemError(404, f"{key} is not a registered model; /id/{key} describes it", title="Not found",
                           type=PROBLEM_BASE + "not-found", headers=CORS)
    return await _page(target, request, store, settings, format)


@router.get("/id/{uuid}/{filename}", summary="One representation of a resource")
@router.head("/id/{uuid}/{filename}", include_in_schema=False)
async def resource_file(uuid: str, filename: str, request: Request, store: StoreDep,
                        settings: SettingsDep) -> Response:
    """``datacite.xml``, ``datacite.json``, ``record.ttl``, ``record.jsonld``, ``record.rdf``, ``record.nt``,
    ``resolved.json``, ``schemaorg.jsonld``, ``CITATION.cff`` or ``ro-crate.zip`` of the resource."""
    rep = by_filename(filename)
    if rep is None or rep.name == "html":
        raise ProblemError(404, f"no file {filename!r} under /id/{uuid}; the page links its metadata records "
                           "(rel=describedby)", title="Not found", type=PROBLEM_BASE + "not-found", headers=CORS)
    target = await _in_thread(lambda: _target(store, settings, uuid))
    offered = available(is_record=target.record is not None)
    if rep not in offered:
        problem = not_acceptable(filename, offered)
        problem.headers.update(CORS)
        raise problem
    response = await _represent(rep, target, request, store, settings)
    page = f"{_root(request)}/id/{target.key}"
    _add_links(response, [describes_link(page)])
    return response


async def _page(target: _Target, request: Request, store: Store, settings: Settings,
                format: str | None) -> Response:
    offered = available(is_record=target.record is not None)
    try:
        rep = choose(request.headers.get("accept"), format, offered)
    except ProblemError as exc:
        exc.headers.update(CORS)
        raise
    response = await _represent(rep, target, request, store, settings)
    page = f"{_root(request)}/id/{target.key}"
    if target.record is not None:
        links = record_links(target.record, page=page, base_iri=settings.base_iri, root_path=_root(request))
    else:
        links = resource_links(str(target.iri), page=page)
    _add_links(response, links)
    response.headers["Vary"] = "Accept"
    return response


def _target(store: Store, settings: Settings, uuid: str) -> _Target:
    if not _UUID.match(uuid):
        raise ProblemError(400, f"{uuid!r} is not a UUID: resource pages are /id/<uuid>", title="Not an identifier",
                           type=PROBLEM_BASE + "bad-identifier", headers=CORS)
    key = uuid.lower()
    iri = resource_iri(settings.base_iri, key)
    try:
        return _Target(iri, key, read_record(store, iri))
    except NotFoundError:
        pass
    # Not a record: any other resource the graph describes (a distribution, a run, a person without ORCID...).
    lookup(store, Identifier("uuid", key), base_iri=settings.base_iri)
    return _Target(iri, key, None)


# -- representations -----------------------------------------------------------------------------------------------
async def _represent(rep: Representation, target: _Target, request: Request, store: Store,
                     settings: Settings) -> Response:
    if rep.name == "html":
        return await _html(target, request, store, settings)
    if rep.name == "ro-crate":
        return await _crate(target, request, store, settings)
    return await _in_thread(lambda: _document(rep, target, store))


def _document(rep: Representation, target: _Target, store: Store) -> Response:
    """Every representation that is one document built from the graph (all but HTML and the crate)."""
    record, headers = target.record, dict(CORS)
    if rep.name in _GRAPH_WRITERS:
        # The whole record (its named graph and the shared resources it names), or the triples about any other
        # resource; it already carries fkg:withdrawn for a withdrawn record.
        body = write_graph(record_graph(store, target.iri), _GRAPH_WRITERS[rep.name])
        return Response(body, media_type=rep.content_type, headers=headers)
    if rep.name == "json":
        data: dict[str, Any] = resolved(store, target.iri).as_dict()
        data["withdrawn"] = bool(record and record.withdrawn)
        if record and record.withdrawn:
            data["withdrawalReason"] = record.withdrawal_reason
            data["withdrawnAt"] = record.withdrawn_at
        return JSONResponse(data, media_type=rep.content_type, headers=headers)
    if rep.name == "schemaorg":
        doc = schema_org_document(record) if record else schema_org(store, target.iri)
        return JSONResponse(doc, media_type=rep.content_type, headers=headers)
    assert record is not None, f"{rep.name} is offered for records only"
    if rep.name == "datacite-json":
        return JSONResponse(datacite_document(record), media_type=rep.content_type, headers=headers)
    if rep.name == "datacite-xml":
        return Response(datacite_xml_from(datacite_document(record)), media_type=rep.content_type, headers=headers)
    if rep.name == "cff":
        headers["Content-Disposition"] = 'inline; filename="CITATION.cff"'
        return Response(citation_cff(store, target.iri), media_type=rep.content_type, headers=headers)
    raise AssertionError(f"no writer for {rep.name}")


async def _html(target: _Target, request: Request, store: Store, settings: Settings) -> Response:
    """The page by :func:`fairkg.api.pages.resource_page` (sync or async), or a minimal page of our own while that
    module is absent."""
    try:
        from fairkg.api.pages import resource_page
    except ImportError:
        return await _in_thread(lambda: _minimal_page(target, store))
    result = await _in_thread(lambda: resource_page(request, store, settings, target.iri))
    if inspect.isawaitable(result):
        result = await result
    assert isinstance(result, Response)
    result.headers.update(CORS)
    return result


def _minimal_page(target: _Target, store: Store) -> Response:
    title = target.record.title if target.record else (resolved(store, target.iri).title or str(target.iri))
    withdrawn = ""
    if target.record and target.record.withdrawn:
        withdrawn = f"<p><strong>Withdrawn</strong>: {html.escape(target.record.withdrawal_reason or '')}</p>"
    body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f"<body><h1>{html.escape(title)}</h1>{withdrawn}<p>{html.escape(str(target.iri))}</p>"
            f'<p><a href="?format=turtle">Turtle</a> · <a href="?format=jsonld">JSON-LD</a></p></body></html>')
    return Response(body, media_type=BY_NAME["html"].content_type, headers=dict(CORS))


async def _crate(target: _Target, request: Request, store: Store, settings: Settings) -> Response:
    record = target.record
    assert record is not None
    if not record.withdrawn:  # a withdrawn record's crate is metadata only, open to all like any metadata
        await _in_thread(lambda: _ensure_artifact_access(request, str(target.iri)))
    crate = await _in_thread(lambda: ro_crate(store, target.iri, home=settings.home))
    headers = {**CORS, "Content-Disposition": f'attachment; filename="{crate.filename}"'}
    return StreamingResponse(crate.chunks(), media_type=BY_NAME["ro-crate"].content_type, headers=headers)


def _ensure_artifact_access(request: Request, iri: str) -> None:
    """The artifacts of a restricted record need a token: the auth module decides (401/403 problems)."""
    try:
        from fairkg.api.auth import ensure_artifact_access
    except ImportError:  # a service built without auth has no restricted access to enforce
        return
    ensure_artifact_access(request, iri)


# -- helpers -------------------------------------------------------------------------------------------------------
def _root(request: Request) -> str:
    """The path the app is mounted under ('' at the root), so relative links work behind a prefix."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _add_links(response: Response, links: list[Link]) -> None:
    if links:
        response.headers.append("Link", link_header(links))


async def _in_thread(fn: Callable[[], T]) -> T:
    """``fn()`` in a worker thread (store calls block), with fairkg errors answered as problem documents."""
    try:
        return await anyio.to_thread.run_sync(fn)
    except FairkgError as exc:
        raise problem_from_error(exc, headers=CORS) from exc


__all__ = ["router"]

"""Linked-data browsing in HTML (Jinja2): the home page, a page for every resource, search, the catalogue and a
query page. Every page reads without JavaScript; every IRI is a link, and IRIs under the service's base IRI link
relatively (``/id/...``), so pages work on whatever host and port the service runs.

:func:`resource_page` renders any resource; the resolver calls it for ``text/html``. Models and datasets get a
landing section (identifiers, how to cite and run, distributions, provenance, evaluations) and embed schema.org
JSON-LD for harvesters (FAIR F4, https://schema.org/docs/gs.html#schemaorg_jsonld).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from rdflib import URIRef

from fairkg.api._page_views import (
    EXAMPLE_QUERIES,
    Linker,
    dataset_view,
    model_view,
    resource_view,
    result_table,
)
from fairkg.api.deps import SettingsDep, StoreDep
from fairkg.api.problems import PROBLEM_BASE, ProblemError, problem_from_error
from fairkg.api.sparql import MAX_RESULT_ROWS
from fairkg.api.sparql_results import GRAPH_FORMATS, Format, negotiate, write_graph, write_select
from fairkg.kg.catalog import catalog_entries, catalog_graph, catalog_iri, registry_summary
from fairkg.kg.errors import FairkgError, NotFoundError
from fairkg.kg.search import FACETS, search
from fairkg.kg.settings import Settings
from fairkg.kg.store.base import QueryResult, Store

router = APIRouter(tags=["browsing"])

#: Rows the query page shows; the downloads give up to the SPARQL endpoint's cap.
MAX_SHOWN_ROWS = 1000
HTML = Format("text/html", "html", "text/html; charset=utf-8")
JSON = Format("application/json", "json", "application/json")
#: Downloads of the query page: extension -> (result kind, writer, media type).
DOWNLOADS = {
    "csv": ("select", "csv", "text/csv; charset=utf-8"),
    "tsv": ("select", "tsv", "text/tab-separated-values; charset=utf-8"),
    "json": ("select", "json", "application/sparql-results+json"),
    "xml": ("select", "xml", "application/sparql-results+xml; charset=utf-8"),
    "ttl": ("graph", "turtle", "text/turtle; charset=utf-8"),
    "nt": ("graph", "nt", "application/n-triples"),
    "jsonld": ("graph", "json-ld", "application/ld+json"),
}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       trim_blocks=True, lstrip_blocks=True)


def render(template: str, *, status_code: int = 200, headers: dict[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` (autoescaped) as an HTML response."""
    html = _environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


# -- resource pages ------------------------------------------------------------------------------------------------
def resource_page(request: Request, store: Store, settings: Settings, iri: URIRef) -> HTMLResponse:
    """The HTML page of any resource: its types, properties and incoming links, plus a landing section for models
    (identifiers, citation, distributions, how to run it, provenance, evaluations) and datasets (files, splits,
    licence, the models trained on it). A resource the graph says nothing about gets a 404 page."""
    linker = Linker(settings.base_iri, iri)
    view = resource_view(store, iri, linker, timeout=settings.query_timeout)
    if view is None:
        return render("error.html", status_code=404, title="Not found",
                      message=f"This registry holds nothing about {iri}.")
    model = dataset = jsonld = fair = None
    if view.is_model:
        model = model_view(store, iri, view, linker, origin=str(request.base_url).rstrip("/"))
        fair = _fair_badges(store, iri)
    if view.is_dataset:
        dataset = dataset_view(store, iri, view, linker)
    if view.is_model or view.is_dataset:
        jsonld = _schema_org(store, iri)
    return render("resource.html", view=view, model=model, dataset=dataset, jsonld=jsonld, fair=fair,
                  describe_href="/sparql?" + urlencode({"query": f"DESCRIBE <{iri}>"}))


def _fair_badges(store: Store, iri: URIRef) -> dict[str, Any] | None:
    """The model's stored FAIR verdict as badges (fairkg.api.fair_routes.fair_badges), None if that module is absent."""
    try:
        from fairkg.api.fair_routes import fair_badges
    except ImportError:
        return None
    return fair_badges(store, str(iri))


def _schema_org(store: Store, iri: URIRef) -> dict[str, Any] | None:
    """schema.org JSON-LD from the exports module, which may not be installed yet (then nothing is embedded)."""
    try:
        from fairkg.kg.exports.schemaorg import schema_org
    except ImportError:
        return None
    try:
        data = schema_org(store, iri)
    except NotFoundError:  # typed as a model or dataset, but not a registered record of its own
        return None
    return data or None


# -- home ----------------------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse, summary="Home page")
def home(store: StoreDep, settings: SettingsDep) -> HTMLResponse:
    """What the registry holds, the latest models and datasets, a search box and example queries."""
    summary = registry_summary(store, latest=10, timeout=settings.query_timeout)
    linker = Linker(settings.base_iri)
    examples = [(title, "/query?" + urlencode({"query": text})) for title, text in EXAMPLE_QUERIES]
    return render("home.html", summary=summary, href=linker.href, examples=examples)


# -- search --------------------------------------------------------------------------------------------------------
@router.get("/search", summary="Search models and datasets", response_model=None,
            responses={200: {"content": {"text/html": {}, "application/json": {}}}})
def search_page(request: Request, store: StoreDep, settings: SettingsDep, q: str = "",
                licence: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI reads, never mutates
                task: Annotated[list[str], Query()] = [],  # noqa: B006
                framework: Annotated[list[str], Query()] = [],  # noqa: B006
                dataset: Annotated[list[str], Query()] = [],  # noqa: B006
                kind: Annotated[list[str], Query()] = [],  # noqa: B006
                page: Annotated[int, Query(ge=1, le=10000)] = 1,
                size: Annotated[int, Query(ge=1, le=100)] = 20,
                format: Annotated[str | None, Query(pattern="^(html|json)$")] = None) -> Response:
    """Models and datasets whose title, keywords, creators or description contain every word of ``q``, ranked
    (title matches first), with facet counts; filters by facet values. JSON or HTML by ``format`` or ``Accept``."""
    filters = {"kind": kind, "licence": licence, "task": task, "framework": framework, "dataset": dataset}
    results = search(store, q, filters=filters, limit=size, offset=(page - 1) * size, timeout=settings.query_timeout)
    fmt = {"html": HTML, "json": JSON}.get(format or "") or negotiate(request.headers.get("accept"), (HTML, JSON))
    if fmt is JSON:
        data = results.as_dict()
        linker = Linker(settings.base_iri)
        for hit in data["results"]:  # type: ignore[attr-defined]
            hit["page"] = linker.href(hit["iri"])
        return Response(json.dumps(data), media_type="application/json", headers={"Vary": "Accept"})
    if fmt is None:
        raise ProblemError(406, "search answers text/html or application/json", type=PROBLEM_BASE + "not-acceptable")
    return render("search.html", results=results, q=q, filters=filters, facets=FACETS, size=size, page=page,
                  href=Linker(settings.base_iri).href, headers={"Vary": "Accept"},
                  links=_search_links(q, filters, size, page, results.total))


def _search_links(q: str, filters: dict[str, list[str]], size: int, page: int, total: int) -> dict[str, Any]:
    """URLs the search page links to: toggling each facet value, and the previous and next pages."""

    def url(chosen: dict[str, list[str]], to_page: int = 1) -> str:
        params = [("q", q)] + [(name, v) for name in FACETS for v in chosen.get(name, [])]
        if to_page > 1:
            params.append(("page", str(to_page)))
        if size != 20:
            params.append(("size", str(size)))
        return "/search?" + urlencode(params)

    return {
        "toggle": lambda name, value: url({**filters, name: [v for v in filters[name] if v != value]}
                                          if value in filters[name] else {**filters, name: [*filters[name], value]}),
        "previous": url(filters, page - 1) if page > 1 else None,
        "next": url(filters, page + 1) if page * size < total else None,
        "json": url(filters, page) + "&format=json",
    }


# -- catalogue -----------------------------------------------------------------------------------------------------
@router.get("/catalog", summary="The registry as a DCAT catalogue", response_model=None,
            responses={200: {"content": {"text/html": {}, **{f.media_type: {} for f in GRAPH_FORMATS}}}})
def catalog(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """Every registered model and dataset; HTML for people, the ``dcat:Catalog`` in RDF by ``Accept``."""
    fmt = negotiate(request.headers.get("accept"), (HTML, *GRAPH_FORMATS))
    if fmt is None:
        raise ProblemError(406, "the catalogue is served as text/html, " + ", ".join(f.media_type for f in
                           GRAPH_FORMATS), type=PROBLEM_BASE + "not-acceptable")
    if fmt is not HTML:
        return Response(write_graph(catalog_graph(store, settings.base_iri), fmt.writer), media_type=fmt.content_type,
                        headers={"Vary": "Accept"})
    linker = Linker(settings.base_iri)
    return render("catalog.html", entries=catalog_entries(store, timeout=settings.query_timeout), href=linker.href,
                  catalog_href=linker.href(catalog_iri(settings.base_iri)), headers={"Vary": "Accept"})


# -- query page ----------------------------------------------------------------------------------------------------
@router.get("/query", response_class=HTMLResponse, summary="Query page")
def query_page(store: StoreDep, settings: SettingsDep, query: str | None = None) -> HTMLResponse:
    """A form for a SPARQL query; with ``query``, its results as a table (at most 1000 rows shown) and download
    links. A query that does not parse is answered 400 with the parser's message."""
    text = query if query and query.strip() else None
    context: dict[str, Any] = {"query": text or EXAMPLE_QUERIES[0][1], "examples": EXAMPLE_QUERIES, "ran": False}
    if text is None:
        return render("query.html", **context)
    linker = Linker(settings.base_iri)
    try:
        result = store.query(text, timeout=settings.query_timeout, limit=MAX_SHOWN_ROWS, public=True)
    except FairkgError as exc:
        problem = problem_from_error(exc, timeout=settings.query_timeout)
        return render("query.html", status_code=problem.status, error=problem.detail, error_title=problem.title,
                      **context)
    context.update(ran=True, kind=result.kind, table=result_table(result, linker), boolean=result.boolean,
                   downloads=_downloads(text, result))
    return render("query.html", **context)


def _downloads(text: str, result: QueryResult) -> list[tuple[str, str]]:
    kind = "select" if result.kind == "select" else "graph" if result.kind == "graph" else None
    return [(ext.upper(), f"/query.{ext}?" + urlencode({"query": text}))
            for ext, (k, _, _) in DOWNLOADS.items() if k == kind]


@router.get("/query.{ext}", summary="Download query results", response_class=Response,
            responses={200: {"content": {m: {} for _, _, m in DOWNLOADS.values()}}})
def query_download(ext: str, store: StoreDep, settings: SettingsDep, query: str) -> Response:
    """The query page's results as a file: csv, tsv, json or xml for SELECT; ttl, nt or jsonld for CONSTRUCT and
    DESCRIBE (up to the SPARQL endpoint's row cap)."""
    if ext not in DOWNLOADS:
        raise ProblemError(404, f"no download format {ext!r}: use one of {', '.join(DOWNLOADS)}")
    kind, writer, media_type = DOWNLOADS[ext]
    # errors: problem documents
    result = store.query(query, timeout=settings.query_timeout, limit=MAX_RESULT_ROWS, public=True)
    if result.kind == "select" and kind == "select" and result.select is not None:
        body = write_select(result.select, writer)
    elif result.kind == "graph" and kind == "graph" and result.graph is not None:
        body = write_graph(result.graph, writer)
    else:
        offered = [e for e, (k, _, _) in DOWNLOADS.items() if k == ("select" if result.kind == "select" else "graph")]
        raise ProblemError(406, f"{result.kind.upper()} results cannot be written as {ext}: use "
                           f"{', '.join(offered) or 'the SPARQL endpoint /sparql'}",
                           type=PROBLEM_BASE + "not-acceptable")
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="results.{ext}"'})


__all__ = ["EXAMPLE_QUERIES", "MAX_SHOWN_ROWS", "render", "resource_page", "router"]

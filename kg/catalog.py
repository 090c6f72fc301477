"""The registry as a ``dcat:Catalog`` (FAIR F4: the records are indexed in a searchable resource), and a summary of
what it holds for the home page.

The catalogue's own description (title, publisher, its SPARQL service) lives in its own named graph,
``{base_iri}/id/{uuid5("catalog")}``, written by :func:`refresh_catalog`. Each record's listing — the catalogue
``dcat:resource`` (datasets also ``dcat:dataset``) and a ``dcat:CatalogRecord`` saying when it was registered — is
written into the record's own named graph by :func:`catalog_listing` at registration, so registering costs the same
however large the registry grows (rebuilding one catalogue graph per registration made bulk registration quadratic).
A withdrawn record stays listed, since its metadata outlives it (A2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import FOAF

from fairkg.kg.identifiers import key_of, name_uuid, resource_iri
from fairkg.kg.namespaces import DCAT, DCT, PROV, RDF, SCHEMA, SPARQL_PREFIXES, bind_prefixes
from fairkg.kg.ntriples import T, Triples, typed
from fairkg.kg.store.base import Store

CATALOG_TITLE = "fairkg registry"
CATALOG_DESCRIPTION = ("FAIR AI models registered in this fairkg knowledge graph, with the datasets they were trained "
                       "and evaluated on, their training provenance and their distributions.")
SPARQL_PROTOCOL = URIRef("https://www.w3.org/TR/sparql11-protocol/")

_RECORDS = SPARQL_PREFIXES + """
SELECT ?r ?kind (SAMPLE(?t) AS ?title) (SAMPLE(?d) AS ?description) (SAMPLE(?s) AS ?submitted)
       (SAMPLE(?w) AS ?withdrawn) (SAMPLE(?i) AS ?invalidated) WHERE {
  VALUES (?type ?kind) { (mls:Model "model") (mls:Dataset "dataset") }
  ?r a ?type .
  OPTIONAL { ?r dcterms:title ?t } OPTIONAL { ?r dcterms:description ?d } OPTIONAL { ?r dcterms:dateSubmitted ?s }
  OPTIONAL { ?r fkg:withdrawn ?w } OPTIONAL { ?r prov:invalidatedAtTime ?i }
} GROUP BY ?r ?kind ORDER BY DESC(?kind) ?title ?r
"""
_COUNTS = SPARQL_PREFIXES + """
SELECT ?kind (COUNT(DISTINCT ?r) AS ?n) WHERE {
  VALUES (?type ?kind) { (mls:Model "models") (mls:Dataset "datasets") (mls:Run "training runs")
                         (fkg:InferenceRun "inference runs") }
  ?r a ?type .
} GROUP BY ?kind
"""
_LATEST = SPARQL_PREFIXES + """
SELECT ?r (SAMPLE(?t) AS ?title) (SAMPLE(?s) AS ?submitted) (SAMPLE(?w) AS ?withdrawn) WHERE {
  ?r a ?type .
  OPTIONAL { ?r dcterms:title ?t } OPTIONAL { ?r dcterms:dateSubmitted ?s } OPTIONAL { ?r fkg:withdrawn ?w }
} GROUP BY ?r ORDER BY DESC(?submitted) ?title LIMIT ?limit
"""


@dataclass(frozen=True)
class CatalogEntry:
    """One registered model or dataset as the catalogue lists it."""

    iri: str
    kind: str  # "model" | "dataset"
    title: str | None
    submitted: str | None = None
    withdrawn: bool = False


@dataclass(frozen=True)
class RegistrySummary:
    """What the registry holds: counts per kind (models, datasets, training runs, inference runs) and the most
    recently registered models and datasets."""

    counts: dict[str, int]
    latest_models: list[CatalogEntry] = field(default_factory=list)
    latest_datasets: list[CatalogEntry] = field(default_factory=list)


def catalog_iri(base_iri: str) -> URIRef:
    """The catalogue's IRI, which is also the name of its graph.

    >>> str(catalog_iri("http://localhost:8000")).startswith("http://localhost:8000/id/")
    True
    """
    return resource_iri(base_iri, name_uuid("catalog"))


def catalog_entries(store: Store, *, timeout: float | None = None) -> list[CatalogEntry]:
    """Every registered model and dataset, models first, by title.

    >>> from fairkg.kg.store import open_store
    >>> catalog_entries(open_store("oxigraph:"))
    []
    """
    entries = []
    for row in store.query(_RECORDS, timeout=timeout).bindings():
        entries.append(CatalogEntry(str(row["r"]), str(row["kind"]), _text(row, "title"), _text(row, "submitted"),
                                    _true(row, "withdrawn")))
    return entries


def catalog_description(base_iri: str, *, publisher: str = "fairkg") -> Graph:
    """The catalogue's own description: title, publisher and its SPARQL service (not the records it lists).

    >>> graph = catalog_description("http://localhost:8000")
    >>> str(graph.value(catalog_iri("http://localhost:8000"), DCT.title))
    'fairkg registry'
    """
    graph = bind_prefixes(Graph())
    graph.bind("foaf", FOAF)
    base = base_iri.rstrip("/")
    catalog = catalog_iri(base)
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, RDF.type, PROV.Entity))
    graph.add((catalog, DCT.title, Literal(CATALOG_TITLE)))
    graph.add((catalog, DCT.description, Literal(CATALOG_DESCRIPTION)))
    agent = resource_iri(base, name_uuid(f"organization:{publisher}"))
    graph.add((catalog, DCT.publisher, agent))
    graph.add((agent, RDF.type, SCHEMA.Organization))
    graph.add((agent, RDF.type, PROV.Agent))
    graph.add((agent, SCHEMA.name, Literal(publisher)))
    service = URIRef(f"{catalog}#sparql")
    graph.add((catalog, DCAT.service, service))
    graph.add((service, RDF.type, DCAT.DataService))
    graph.add((service, DCT.title, Literal("SPARQL 1.1 endpoint over the whole registry")))
    graph.add((service, DCAT.endpointURL, URIRef(f"{base}/sparql")))
    graph.add((service, DCT.conformsTo, SPARQL_PROTOCOL))
    graph.add((service, DCAT.servesDataset, catalog))
    return graph


def catalog_listing(graph: Triples, resource: str, *, base_iri: str, kind: str, registered: str) -> None:
    """Add to a record's own ``graph`` (N-Triples terms, as :mod:`fairkg.kg.records` builds it) the triples that
    list ``resource`` (an IRI term ``<...>``) in the catalogue.

    >>> g = Triples()
    >>> catalog_listing(g, "<http://localhost:8000/id/x>", base_iri="http://localhost:8000", kind="model",
    ...                 registered="2026-01-01T00:00:00+00:00")
    >>> len(g)
    5
    """
    catalog = f"<{catalog_iri(base_iri)}>"
    graph.add(catalog, T.dcat.resource, resource)
    if kind == "dataset":
        graph.add(catalog, T.dcat.dataset, resource)
    record = f"{resource[:-1]}#catalog-record>"
    graph.add(catalog, T.dcat.record, record)
    graph.add(record, T.rdf.type, T.dcat.CatalogRecord)
    graph.add(record, T.foaf.primaryTopic, resource)
    graph.add(record, T.dcterms.issued, typed(registered, T.xsd.dateTime))


_LISTINGS = SPARQL_PREFIXES + """PREFIX foaf: <http://xmlns.com/foaf/0.1/>
CONSTRUCT { ?catalog dcat:resource ?r . ?catalog dcat:dataset ?d . ?catalog dcat:record ?rec .
            ?rec a dcat:CatalogRecord ; foaf:primaryTopic ?r ; dcterms:issued ?issued ; dcterms:title ?title ;
                 fkg:withdrawn ?withdrawn . }
WHERE { ?catalog dcat:record ?rec . ?rec foaf:primaryTopic ?r . OPTIONAL { ?rec dcterms:issued ?issued }
        OPTIONAL { ?catalog dcat:dataset ?d FILTER(?d = ?r) } OPTIONAL { ?r dcterms:title ?title }
        OPTIONAL { ?r fkg:withdrawn ?withdrawn } }
"""


def build_catalog(store: Store, base_iri: str, *, publisher: str = "fairkg") -> Graph:
    """The whole catalogue as the records stand now: its description and every record's listing (nothing written).

    >>> from fairkg.kg.store import open_store
    >>> graph = build_catalog(open_store("oxigraph:"), "http://localhost:8000")
    >>> str(graph.value(catalog_iri("http://localhost:8000"), DCT.title))
    'fairkg registry'
    """
    graph = catalog_description(base_iri, publisher=publisher)
    listings = store.query(_LISTINGS.replace("?catalog", catalog_iri(base_iri).n3())).graph
    if listings is not None:
        graph += listings
    return graph


def refresh_catalog(store: Store, base_iri: str, *, publisher: str = "fairkg") -> URIRef:
    """Write the catalogue's description graph (constant size; the records list themselves) and return its IRI.

    >>> from fairkg.kg.store import open_store
    >>> store = open_store("oxigraph:")
    >>> refresh_catalog(store, "http://localhost:8000") == catalog_iri("http://localhost:8000")
    True
    """
    catalog = catalog_iri(base_iri)
    description = catalog_description(base_iri, publisher=publisher)
    if len(store.get_graph(str(catalog))) != len(description):
        store.replace_graph(str(catalog), description)
    return catalog


def catalog_graph(store: Store, base_iri: str) -> Graph:
    """The whole catalogue: its description and every record's listing.

    >>> from fairkg.kg.store import open_store
    >>> len(catalog_graph(open_store("oxigraph:"), "http://localhost:8000")) > 0
    True
    """
    return build_catalog(store, base_iri)


def registry_summary(store: Store, *, latest: int = 10, timeout: float | None = None) -> RegistrySummary:
    """Counts of models, datasets, training and inference runs, and the ``latest`` models and datasets registered.

    >>> from fairkg.kg.store import open_store
    >>> registry_summary(open_store("oxigraph:")).counts["models"]
    0
    """
    counts = dict.fromkeys(("models", "datasets", "training runs", "inference runs"), 0)
    for row in store.query(_COUNTS, timeout=timeout).bindings():
        counts[str(row["kind"])] = int(row["n"])  # type: ignore[call-overload]
    newest: dict[str, list[CatalogEntry]] = {}
    for kind, cls in (("model", "mls:Model"), ("dataset", "mls:Dataset")):
        query = _LATEST.replace("?r a ?type", f"?r a {cls}").replace("?limit", str(max(0, int(latest))))
        newest[kind] = [CatalogEntry(str(row["r"]), kind, _text(row, "title"), _text(row, "submitted"),
                                     _true(row, "withdrawn"))
                        for row in store.query(query, timeout=timeout).bindings()]
    return RegistrySummary(counts, newest["model"], newest["dataset"])


def _key(iri: URIRef) -> str:
    try:
        return key_of(iri)
    except ValueError:  # a resource not minted by fairkg: its uuid5, so the record IRI is still stable
        return name_uuid(str(iri))


def _text(row: dict[str, object], name: str) -> str | None:
    return str(row[name]) if name in row else None


def _true(row: dict[str, object], name: str) -> bool:
    return name in row and str(row[name]).lower() in ("true", "1")


__all__ = [
    "CATALOG_DESCRIPTION", "CATALOG_TITLE", "CatalogEntry", "RegistrySummary", "build_catalog", "catalog_description",
    "catalog_entries", "catalog_listing",
    "catalog_graph", "catalog_iri", "refresh_catalog", "registry_summary",
]

"""The registry as a ``dcat:Catalog`` (FAIR F4: the records are indexed in a searchable resource), and a summary of
what it holds for the home page.

The catalogue lives in its own named graph, ``{base_iri}/id/{uuid5("catalog")}``, rebuilt from the records by
:func:`refresh_catalog` after every registration and withdrawal. Every registered model and dataset is a
``dcat:resource`` of it (datasets also ``dcat:dataset``), and has a ``dcat:CatalogRecord`` saying when it was
registered and whether it was withdrawn: a withdrawn record stays listed, since its metadata outlives it (A2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import FOAF, XSD

from fairkg.kg.identifiers import key_of, name_uuid, resource_iri
from fairkg.kg.namespaces import DCAT, DCT, FKG, PROV, RDF, SCHEMA, SPARQL_PREFIXES, bind_prefixes
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


def build_catalog(store: Store, base_iri: str, *, publisher: str = "fairkg") -> Graph:
    """The catalogue's graph as the records stand now (nothing is written).

    >>> from fairkg.kg.store import open_store
    >>> graph = build_catalog(open_store("oxigraph:"), "http://localhost:8000")
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
    modified: list[str] = []
    for row in store.query(_RECORDS).bindings():
        resource = URIRef(str(row["r"]))
        if resource == catalog:
            continue
        graph.add((catalog, DCAT.resource, resource))
        if str(row["kind"]) == "dataset":
            graph.add((catalog, DCAT.dataset, resource))
        record = URIRef(f"{catalog}#record-{_key(resource)}")
        graph.add((catalog, DCAT.record, record))
        graph.add((record, RDF.type, DCAT.CatalogRecord))
        graph.add((record, FOAF.primaryTopic, resource))
        if title := _text(row, "title"):
            graph.add((record, DCT.title, Literal(title)))
        if submitted := _text(row, "submitted"):
            graph.add((record, DCT.issued, Literal(submitted, datatype=XSD.dateTime)))
            modified.append(submitted)
        if _true(row, "withdrawn"):
            graph.add((record, FKG.withdrawn, Literal(True)))
            if invalidated := _text(row, "invalidated"):
                graph.add((record, DCT.modified, Literal(invalidated, datatype=XSD.dateTime)))
                modified.append(invalidated)
    if modified:  # the newest change to any record, so that an unchanged registry gives an identical graph
        graph.add((catalog, DCT.modified, Literal(max(modified), datatype=XSD.dateTime)))
    return graph


def refresh_catalog(store: Store, base_iri: str, *, publisher: str = "fairkg") -> URIRef:
    """Rebuild the catalogue's named graph from the records (call after every registration or withdrawal) and
    return its IRI.

    >>> from fairkg.kg.store import open_store
    >>> store = open_store("oxigraph:")
    >>> refresh_catalog(store, "http://localhost:8000") == catalog_iri("http://localhost:8000")
    True
    """
    catalog = catalog_iri(base_iri)
    store.replace_graph(str(catalog), build_catalog(store, base_iri, publisher=publisher))
    return catalog


def catalog_graph(store: Store, base_iri: str) -> Graph:
    """The stored catalogue, or one built now if none was stored yet (a registry filled before catalogues existed).

    >>> from fairkg.kg.store import open_store
    >>> len(catalog_graph(open_store("oxigraph:"), "http://localhost:8000")) > 0
    True
    """
    stored = store.get_graph(str(catalog_iri(base_iri)))
    return bind_prefixes(stored) if len(stored) else build_catalog(store, base_iri)


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
    "CATALOG_DESCRIPTION", "CATALOG_TITLE", "CatalogEntry", "RegistrySummary", "build_catalog", "catalog_entries",
    "catalog_graph", "catalog_iri", "refresh_catalog", "registry_summary",
]

"""Reading records back: identifiers of a resource and the provenance of a model, following links to its
training data (what ``fairkg resolve`` and ``fairkg provenance`` print)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Graph, URIRef

from fairkg.kg.identifiers import key_of
from fairkg.kg.namespaces import FKG, SPARQL_PREFIXES, bind_prefixes
from fairkg.kg.store.base import Store


@dataclass(frozen=True)
class ResolvedResource:
    """A resource found for an identifier: ``{"iri", "key", "identifiers"}`` as the resolver answers."""

    iri: str
    key: str
    identifiers: list[dict[str, str]]
    types: list[str]
    title: str | None

    def as_dict(self) -> dict[str, object]:
        return {"iri": self.iri, "key": self.key, "identifiers": self.identifiers, "types": self.types,
                "title": self.title}


_IDENTIFIERS = SPARQL_PREFIXES + """
SELECT ?scheme ?value ?primary WHERE {
  ?m datacite:hasIdentifier ?id . ?id literal:hasLiteralValue ?value ; datacite:usesIdentifierScheme ?scheme .
  BIND(EXISTS { ?id a datacite:PrimaryResourceIdentifier } AS ?primary)
} ORDER BY DESC(?primary) ?value
"""
_TYPES_TITLE = SPARQL_PREFIXES + """
SELECT ?type ?title WHERE { { ?m a ?type } UNION { ?m dcterms:title ?title } }
"""


def bind_subject(query: str, iri: URIRef) -> str:
    """``query`` with its variable ``?m`` bound to ``iri`` (a VALUES clause at the start of its WHERE)."""
    return query.replace("WHERE {", f"WHERE {{ VALUES ?m {{ {iri.n3()} }}", 1)


def resolved(store: Store, iri: URIRef) -> ResolvedResource:
    """The identifiers, types and title of the resource ``iri``."""
    idents = [
        {"scheme": str(row["scheme"]).rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1], "value": str(row["value"])}
        for row in store.query(bind_subject(_IDENTIFIERS, iri)).bindings()
    ]
    types, title = [], None
    for row in store.query(bind_subject(_TYPES_TITLE, iri)).bindings():
        if "type" in row:
            types.append(str(row["type"]))
        if "title" in row:
            title = str(row["title"])
    return ResolvedResource(str(iri), key_of(iri), idents, sorted(set(types)), title)


@dataclass(frozen=True)
class DatasetUse:
    iri: str
    title: str | None
    doi: str | None
    licence: str | None
    files: list[tuple[str, str]]  # (file name, sha256)


@dataclass(frozen=True)
class Provenance:
    """How a model came to be, as recorded in the graph."""

    model: str
    title: str | None
    run: str | None
    started: str | None = None
    ended: str | None = None
    code: str | None = None
    code_version: str | None = None
    commit: str | None = None
    hardware: str | None = None
    gpus: list[str] = field(default_factory=list)
    python: str | None = None
    hyperparameters: list[tuple[str, str]] = field(default_factory=list)
    preprocessing: list[str] = field(default_factory=list)
    epochs: list[tuple[int, str, float]] = field(default_factory=list)
    software: list[tuple[str, str]] = field(default_factory=list)
    datasets: list[DatasetUse] = field(default_factory=list)
    evaluations: list[tuple[str, float, str | None]] = field(default_factory=list)


_RUN = SPARQL_PREFIXES + """
SELECT ?title ?run ?start ?end ?codeName ?codeVersion ?commit ?hw ?python WHERE {
  OPTIONAL { ?m dcterms:title ?title }
  OPTIONAL {
    ?m prov:wasGeneratedBy ?run .
    OPTIONAL { ?run prov:startedAtTime ?start } OPTIONAL { ?run prov:endedAtTime ?end }
    OPTIONAL { ?run mls:executes ?code . ?code schema:name ?codeName .
               OPTIONAL { ?code schema:version ?codeVersion } OPTIONAL { ?code fkg:commit ?commit } }
    OPTIONAL { ?run fkg:executedOn ?node . ?node rdfs:label ?hw }
    OPTIONAL { ?run fkg:softwareEnvironment/fkg:pythonVersion ?python }
  }
} LIMIT 1
"""
_ROWS = {
    "hyperparameters": "SELECT ?a ?b WHERE { ?m prov:wasGeneratedBy/mls:hasInput ?s . ?s a mls:HyperParameterSetting ;"
    " schema:name ?a ; mls:hasValue ?b } ORDER BY ?a",
    "preprocessing": "SELECT ?a WHERE { ?m prov:wasGeneratedBy/fkg:preprocessingStep ?a }",
    "epochs": "SELECT ?a ?b ?c WHERE { ?m prov:wasGeneratedBy/fkg:epochMetric ?e . ?e fkg:epoch ?a ;"
    " fkg:metricName ?b ; mls:hasValue ?c } ORDER BY ?a ?b",
    "software": "SELECT ?a ?b WHERE { ?m prov:wasGeneratedBy/fkg:softwareEnvironment/fkg:package ?p ."
    " ?p schema:name ?a ; schema:softwareVersion ?b } ORDER BY ?a",
    "gpus": "SELECT ?a WHERE { ?m prov:wasGeneratedBy/fkg:executedOn/fkg:gpu/schema:name ?a }",
    "evaluations": "SELECT ?a ?b ?c WHERE { ?e a mls:ModelEvaluation ; prov:wasDerivedFrom ?m ; schema:name ?a ;"
    " mls:hasValue ?b . OPTIONAL { ?e fkg:split ?c } } ORDER BY ?a",
    "datasets": "SELECT DISTINCT ?a ?b ?c ?d WHERE { ?m fair4ml:trainedOn ?a . OPTIONAL { ?a dcterms:title ?b }"
    " OPTIONAL { ?a dcterms:identifier ?c } OPTIONAL { ?a dcterms:license ?d } } ORDER BY ?a",
    "files": "SELECT ?a ?b WHERE { ?m dcat:distribution ?f . ?f schema:name ?a ; spdx:checksum/spdx:checksumValue ?b }"
    " ORDER BY ?a",
}


def _rows(store: Store, name: str, iri: URIRef) -> list[dict[str, object]]:
    return list(store.query(bind_subject(SPARQL_PREFIXES + _ROWS[name], iri)).bindings())


def provenance(store: Store, iri: URIRef) -> Provenance:
    """The recorded provenance of the model ``iri``, following its links to the training datasets."""
    head = next(store.query(bind_subject(_RUN, iri)).bindings(), {})

    def text(name: str) -> str | None:
        return str(head[name]) if name in head else None

    datasets = []
    for row in _rows(store, "datasets", iri):
        ds = URIRef(str(row["a"]))
        files = [(str(f["a"]), str(f["b"])) for f in _rows(store, "files", ds)]
        datasets.append(DatasetUse(str(ds), _opt(row, "b"), _opt(row, "c"), _opt(row, "d"), files))
    return Provenance(
        model=str(iri), title=text("title"), run=text("run"), started=text("start"), ended=text("end"),
        code=text("codeName"), code_version=text("codeVersion"), commit=text("commit"), hardware=text("hw"),
        python=text("python"),
        gpus=[str(r["a"]) for r in _rows(store, "gpus", iri)],
        hyperparameters=[(str(r["a"]), str(r["b"])) for r in _rows(store, "hyperparameters", iri)],
        preprocessing=[str(r["a"]) for r in _rows(store, "preprocessing", iri)],
        epochs=[(int(r["a"]), str(r["b"]), float(r["c"])) for r in _rows(store, "epochs", iri)],  # type: ignore
        software=[(str(r["a"]), str(r["b"])) for r in _rows(store, "software", iri)],
        datasets=datasets,
        evaluations=[(str(r["a"]), float(r["b"]), _opt(r, "c")) for r in _rows(store, "evaluations", iri)],  # type: ignore
    )


def _opt(row: dict[str, object], name: str) -> str | None:
    return str(row[name]) if name in row else None


def record_graph(store: Store, iri: URIRef) -> Graph:
    """A resource's full description: its own named graph (or, for a part of a record, the triples about it), plus
    the descriptions of the shared resources it links to (creators, publisher, licence, software, code, metrics,
    machines), each kept once in a graph of its own. Other records it links to (datasets) are linked, not copied."""
    graph = bind_prefixes(Graph())
    graph += store.get_graph(str(iri))
    if len(graph) == 0:
        graph += store.describe(str(iri))
    candidates = {o for o in graph.objects() if isinstance(o, URIRef) and o != iri}
    if not candidates:
        return graph
    values = " ".join(c.n3() for c in candidates)
    existing = store.query(f"SELECT DISTINCT ?g WHERE {{ VALUES ?g {{ {values} }} GRAPH ?g {{ ?g ?p ?o }} }}")
    for row in existing.bindings():
        linked = store.get_graph(str(row["g"]))
        if (row["g"], FKG.contentHash, None) not in linked:  # a shared resource, not another record
            graph += linked
    return graph

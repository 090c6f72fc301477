"""Evidence for the FAIR assessment: what a probe or a registry query observed about a model, as triples.

Some FAIR principles are about the service, not the record: the identifier resolves over HTTP (A1, F3), the
protocol is open (A1.1), access is controlled where needed (A1.2), metadata outlive the model (A2), the model is
indexed and found by search (F4), it reproduces its reference output (R1), and no other resource carries its
identifier (F1). A probe acts, then records what it saw with :func:`record_observation`; the shapes in
``shapes/`` judge the observations like any other triple, so every verdict comes from SHACL.

Each model's observations live in the named graph ``{model_iri}/evidence``, one ``fkg:Observation`` per probe
(``{model_iri}/evidence#{probe}``): recording a probe again replaces its previous observation::

    <model> fkg:hasObservation <model/evidence#A1.resolves> .
    <model/evidence#A1.resolves> a fkg:Observation , prov:Entity ;
        fkg:probe "A1.resolves" ; fkg:about <model> ; fkg:outcome fkg:Passed ;
        prov:generatedAtTime "2026-11-02T10:00:00+00:00"^^xsd:dateTime ;
        fkg:request "GET http://localhost:8000/doi/10.5072/x" ; fkg:responseStatus 303 ; fkg:detail "..." .

``fkg:NotChecked`` means the probe could not run (no server, no reference input...): the principle is then
reported as "could not be checked", never as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal as TypingLiteral

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

from fairkg.kg.namespaces import FKG, PROV, RDF, SPARQL_PREFIXES, bind_prefixes
from fairkg.kg.store.base import Store

Outcome = TypingLiteral["passed", "failed", "not-checked"]

#: outcome name -> the fkg individual the graph holds
OUTCOMES: dict[str, URIRef] = {"passed": FKG.Passed, "failed": FKG.Failed, "not-checked": FKG.NotChecked}


@dataclass(frozen=True)
class Probe:
    """A check whose observation a shape requires: its name (``{principle}.{what}``), the principle it serves,
    what it does, and whether a failure fails the principle (``required``) or only warns."""

    name: str
    principle: str
    description: str
    required: bool = True


_PROBES = (
    Probe("F1.unique", "F1", "no other resource in the registry carries any of the model's identifiers "
          "(a registry query: registry_evidence)"),
    Probe("F3.metadata-has-identifier", "F3", "the metadata served for the identifier (Turtle, JSON-LD, DataCite "
          "JSON) contain that identifier"),
    Probe("F4.catalogued", "F4", "the registry's dcat:Catalog lists the model (a registry query: registry_evidence)"),
    Probe("F4.search-title", "F4", "the registry's search finds the model by its exact title"),
    Probe("F4.search-keyword", "F4", "the registry's search finds the model by one of its keywords"),
    Probe("F4.jsonld-landing", "F4", "the model's landing page embeds schema.org JSON-LD (what search engines read)"),
    Probe("A1.resolves", "A1", "GET on the identifier answers 303 to the model's page, then 200 with the "
          "representation asked for (HTML, Turtle, JSON-LD, DataCite JSON)"),
    Probe("A1.signposting", "A1", "the landing page sends FAIR Signposting Link headers (cite-as, describedby, "
          "item, license)"),
    Probe("A1.1.open-protocol", "A1.1", "the identifier resolves and the artifacts download over plain HTTP(S), "
          "with no client-specific headers or cookies"),
    Probe("A1.1.openapi", "A1.1", "the service publishes a machine-readable OpenAPI description of its API"),
    Probe("A1.2.restricted-refused", "A1.2", "artifacts and inference of a restricted model are refused without a "
          "token (401 with WWW-Authenticate) and served with one; a public model's are served without one; "
          "metadata are always served"),
    Probe("A2.tombstone-resolves", "A2", "a withdrawn model's identifier still resolves to its metadata (the "
          "tombstone) while its artifacts answer 410 Gone"),
    Probe("R1.reference-reproduces", "R1", "the reference input run through the model reproduces the expected "
          "output within the stated tolerance"),
    Probe("R1.consistent-across-runtimes", "R1", "the reference input gives the same output, within tolerance, "
          "on every available runtime and device", required=False),
)

#: every probe name -> its :class:`Probe`; shapes require an observation with ``fkg:outcome fkg:Passed`` for each
PROBES: dict[str, Probe] = {probe.name: probe for probe in _PROBES}
#: the probes :func:`registry_evidence` answers from store queries; the others act over HTTP or run the model
REGISTRY_PROBES = ("F1.unique", "F4.catalogued")


@dataclass(frozen=True)
class Observation:
    """What one probe observed about one model."""

    model: str
    probe: str
    outcome: Outcome
    observed_at: datetime
    request: str | None = None
    status: int | None = None
    detail: str = ""

    @property
    def iri(self) -> URIRef:
        """``{model}/evidence#{probe}``."""
        return observation_iri(self.model, self.probe)


def evidence_graph_name(model_iri: str) -> str:
    """The named graph holding a model's observations.

    >>> evidence_graph_name("http://localhost:8000/id/abc")
    'http://localhost:8000/id/abc/evidence'
    """
    return f"{str(model_iri).rstrip('/')}/evidence"


def observation_iri(model_iri: str, probe: str) -> URIRef:
    """The IRI of a model's observation for ``probe`` (one per probe, replaced when the probe runs again)."""
    return URIRef(f"{evidence_graph_name(model_iri)}#{probe}")


def observation_graph(observation: Observation) -> Graph:
    """The triples of one observation (what :func:`record_observation` writes)."""
    graph = bind_prefixes(Graph())
    _add_observation(graph, observation)
    return graph


def _add_observation(graph: Graph, observation: Observation) -> None:
    model, node = URIRef(observation.model), observation.iri
    graph.add((model, FKG.hasObservation, node))
    graph.add((node, RDF.type, FKG.Observation))
    graph.add((node, RDF.type, PROV.Entity))
    graph.add((node, FKG.probe, Literal(observation.probe)))
    graph.add((node, FKG.about, model))
    graph.add((node, FKG.outcome, OUTCOMES[observation.outcome]))
    graph.add((node, PROV.generatedAtTime, Literal(observation.observed_at.isoformat(), datatype=XSD.dateTime)))
    if observation.request:
        graph.add((node, FKG.request, Literal(observation.request)))
    if observation.status is not None:
        graph.add((node, FKG.responseStatus, Literal(observation.status, datatype=XSD.integer)))
    if observation.detail:
        graph.add((node, FKG.detail, Literal(observation.detail)))


def record_observation(store: Store, model_iri: str, probe: str, outcome: Outcome, *, request: str | None = None,
                       status: int | None = None, detail: str = "") -> Observation:
    """Record what ``probe`` observed about the model, replacing that probe's previous observation.

    Args:
        probe: one of :data:`PROBES`, e.g. ``"A1.resolves"``.
        outcome: ``"passed"``, ``"failed"`` or ``"not-checked"`` (the probe could not run: say why in ``detail``).
        request: what was asked, as method and URL (``"GET http://.../doi/10.5072/x"``) or a short description.
        status: the HTTP status of the (first) response, if any.
        detail: what was seen, or why it could not be checked; shown in the FAIR report.

    Raises:
        ValueError: an unknown probe or outcome.

    >>> from fairkg.kg.store import open_store
    >>> store = open_store("oxigraph:")
    >>> model = "http://localhost:8000/id/m"
    >>> _ = record_observation(store, model, "A1.resolves", "failed", status=404, detail="not found")
    >>> _ = record_observation(store, model, "A1.resolves", "passed", status=303)
    >>> [o.outcome for o in observations(store, model)]
    ['passed']
    """
    observation = observe(model_iri, probe, outcome, request=request, status=status, detail=detail)
    record_observations(store, [observation])
    return observation


def observe(model_iri: str, probe: str, outcome: Outcome, *, request: str | None = None, status: int | None = None,
            detail: str = "") -> Observation:
    """An :class:`Observation` made now (not written: see :func:`record_observations`).

    Raises:
        ValueError: an unknown probe or outcome.
    """
    if probe not in PROBES:
        raise ValueError(f"unknown probe {probe!r}: expected one of {', '.join(PROBES)} (fairkg.kg.evidence.PROBES)")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}")
    return Observation(str(model_iri), probe, outcome, datetime.now(UTC).replace(microsecond=0), request=request,
                       status=status, detail=detail)


def record_observations(store: Store, observations: list[Observation]) -> None:
    """Write observations, each replacing its model's previous observation of the same probe, in one SPARQL
    update (atomic on the embedded store; one request to a remote one)."""
    if not observations:
        return
    graphs: dict[str, Graph] = {}
    deletes = []
    for observation in observations:
        name = evidence_graph_name(observation.model)
        _add_observation(graphs.setdefault(name, Graph(bind_namespaces="none")), observation)
        deletes.append(f"DELETE WHERE {{ GRAPH <{name}> {{ {observation.iri.n3()} ?p ?o }} }}")
    inserts = "\n".join(f"GRAPH <{name}> {{\n{graph.serialize(format='nt')}}}" for name, graph in graphs.items())
    store.update(" ;\n".join([*deletes, f"INSERT DATA {{\n{inserts}\n}}"]))


def observations(store: Store, model_iri: str) -> list[Observation]:
    """The model's recorded observations, by probe name.

    >>> from fairkg.kg.store import open_store
    >>> observations(open_store("oxigraph:"), "http://localhost:8000/id/m")
    []
    """
    graph = store.get_graph(evidence_graph_name(model_iri))
    return observations_in(graph, model_iri)


def observations_in(graph: Graph, model_iri: str) -> list[Observation]:
    """The observations about ``model_iri`` that ``graph`` holds, by probe name."""
    names = {iri: name for name, iri in OUTCOMES.items()}
    found = []
    for node in graph.objects(URIRef(model_iri), FKG.hasObservation):
        probe, outcome = graph.value(node, FKG.probe), graph.value(node, FKG.outcome)
        if probe is None or outcome not in names:
            continue
        stamp = graph.value(node, PROV.generatedAtTime)
        status = graph.value(node, FKG.responseStatus)
        found.append(Observation(
            str(model_iri), str(probe), names[outcome],  # type: ignore[index]
            datetime.fromisoformat(str(stamp)) if stamp is not None else datetime.min.replace(tzinfo=UTC),
            request=_text(graph.value(node, FKG.request)), status=int(status) if status is not None else None,
            detail=str(graph.value(node, FKG.detail) or "")))
    return sorted(found, key=lambda o: o.probe)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


# -- registry-level evidence ------------------------------------------------------------------------------------

_IDENTIFIERS = SPARQL_PREFIXES + """
SELECT ?model ?value ?primary WHERE {
  VALUES ?model { ?models }
  ?model datacite:hasIdentifier ?id .
  ?id literal:hasLiteralValue ?value .
  BIND (EXISTS { ?id a datacite:PrimaryResourceIdentifier } AS ?primary)
}"""
_OTHER_HOLDERS = SPARQL_PREFIXES + """
SELECT DISTINCT ?model ?value ?other WHERE {
  VALUES (?model ?value) { ?pairs }
  { ?id literal:hasLiteralValue ?value . ?other datacite:hasIdentifier ?id . }  # value first: 50x faster
  UNION
  { ?other dcterms:identifier ?value . }
  FILTER (?other != ?model)
}"""
_ANY_CATALOG = SPARQL_PREFIXES + "ASK { ?catalog a dcat:Catalog }"
_CATALOGUED = SPARQL_PREFIXES + """PREFIX foaf: <http://xmlns.com/foaf/0.1/>
SELECT ?model ?catalog WHERE {
  VALUES ?model { ?models }
  { ?catalog dcat:resource ?model } UNION { ?catalog dcat:dataset ?model }
  UNION { ?record foaf:primaryTopic ?model . ?catalog dcat:record ?record }
  ?catalog a dcat:Catalog .
}"""  # the VALUES bound first: grouping or a path alternative made Oxigraph scan every listing (40x slower)
#: clashes named in an F1.unique observation's detail
_MAX_CLASHES = 20


def registry_evidence(store: Store, model_iri: str, base_iri: str) -> list[Observation]:
    """Record the facts about the whole registry that a shape over one record cannot see, and return them:

    - ``F1.unique``: no other resource carries any of the model's identifiers (its primary identifier first);
    - ``F4.catalogued``: a ``dcat:Catalog`` lists the model (``dcat:resource``, ``dcat:dataset``, or a
      ``dcat:record`` whose ``foaf:primaryTopic`` it is); not checked when the registry has no catalogue.

    >>> from fairkg.kg.store import open_store
    >>> [(o.probe, o.outcome) for o in registry_evidence(open_store("oxigraph:"), "http://x/id/m", "http://x")]
    [('F1.unique', 'failed'), ('F4.catalogued', 'not-checked')]
    """
    found = registry_observations(store, model_iri, base_iri)
    record_observations(store, found)
    return found


def registry_observations(store: Store, model_iri: str, base_iri: str) -> list[Observation]:
    """What :func:`registry_evidence` records, not yet recorded."""
    return registry_observations_many(store, [model_iri], base_iri)


def registry_observations_many(store: Store, models: list[str], base_iri: str) -> list[Observation]:
    """:func:`registry_observations` of each model, in order, from four queries whatever their number."""
    unique = _uniqueness(store, [URIRef(m) for m in models])
    catalogued = _catalogued(store, [URIRef(m) for m in models], base_iri)
    return [observation for model in models for observation in (unique[model], catalogued[model])]


def _uniqueness(store: Store, models: list[URIRef]) -> dict[str, Observation]:
    request = "SPARQL: resources carrying the model's identifiers"
    values: dict[str, set[str]] = {str(m): set() for m in models}
    primary: dict[str, set[str]] = {str(m): set() for m in models}
    query = _IDENTIFIERS.replace("?models", " ".join(m.n3() for m in models))
    for row in store.query(query).bindings():
        values[str(row["model"])].add(str(row["value"]))
        if str(row.get("primary", "")).lower() in ("true", "1"):
            primary[str(row["model"])].add(str(row["value"]))
    pairs = " ".join(f"({URIRef(m).n3()} {Literal(v).n3()})" for m, vs in values.items() for v in sorted(vs))
    clashes: dict[str, list[tuple[str, str]]] = {str(m): [] for m in models}
    if pairs:
        for row in store.query(_OTHER_HOLDERS.replace("?pairs", pairs)).bindings():
            clashes[str(row["model"])].append((str(row["value"]), str(row["other"])))
    found = {}
    for model, held in values.items():
        if not primary[model]:
            found[model] = observe(model, "F1.unique", "failed", request=request,
                                   detail="the model has no primary identifier (datacite:PrimaryResourceIdentifier)")
        elif clashes[model]:
            shared = "; ".join(f"{value} is also held by {other}"
                               for value, other in sorted(clashes[model])[:_MAX_CLASHES])
            found[model] = observe(model, "F1.unique", "failed", request=request,
                                   detail=f"identifiers not unique in this registry: {shared}")
        else:
            found[model] = observe(model, "F1.unique", "passed", request=request,
                                   detail=f"no other resource carries {', '.join(sorted(held))}")
    return found


def _catalogued(store: Store, models: list[URIRef], base_iri: str) -> dict[str, Observation]:
    request = f"SPARQL: dcat:Catalog of {base_iri} listing the model"
    if not store.query(_ANY_CATALOG).boolean:
        return {str(m): observe(str(m), "F4.catalogued", "not-checked", request=request,
                                detail="this registry has no dcat:Catalog yet (fairkg.kg.catalog.refresh_catalog "
                                "builds it)") for m in models}
    query = _CATALOGUED.replace("?models", " ".join(m.n3() for m in models))
    listed: dict[str, str] = {}
    for row in store.query(query).bindings():
        model, catalog = str(row["model"]), str(row["catalog"])
        listed[model] = min(catalog, listed.get(model, catalog))
    return {str(m): observe(str(m), "F4.catalogued", "passed", request=request, detail=f"listed in {listed[str(m)]}")
            if str(m) in listed else
            observe(str(m), "F4.catalogued", "failed", request=request,
                    detail="the registry's catalogue does not list the model: refresh it "
                    "(fairkg.kg.catalog.refresh_catalog) after registering") for m in models}


__all__ = [
    "OUTCOMES", "PROBES", "REGISTRY_PROBES", "Observation", "Outcome", "Probe", "evidence_graph_name", "observe",
    "observation_graph", "observation_iri", "observations", "observations_in", "record_observation",
    "record_observations", "registry_evidence", "registry_observations", "registry_observations_many",
]

"""FAIR assessment: one model's record validated once against every shape in ``shapes/``, split by principle.

A model passes a FAIR sub-principle only if its record conforms to that principle's SHACL shapes. The record is
the model's named graph plus the named graphs of what it links to (training and evaluation datasets, the machine
its training ran on) and its evidence graph (``{model}/evidence``, see :mod:`fairkg.kg.evidence`), and nothing
else: a small graph, validated without inference (the types shapes target are written at registration).

Per principle, the status is:

- ``fail``: a ``sh:Violation`` from one of its shapes (its ``fkg:principle``);
- ``not-checked``: no such violation, but an observation the principle needs is missing or could not be made (the
  violation's ``sh:value`` is ``fkg:NotChecked``): reported as could not be checked, never as a pass;
- ``pass``: no violation (warnings advise, they do not fail).

:func:`store_verdict` keeps the verdict in the named graph ``{model}/fair`` as DQV quality measurements (one per
principle, ``dqv:value`` true when it passes) beside the W3C ``sh:ValidationReport``, replaced at each assessment,
so "which models fail R1.1?" is one query (:data:`FAILING_QUERY`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.resources
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal as TypingLiteral

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import XSD
from rdflib.term import Node

from fairkg.kg.errors import NotFoundError
from fairkg.kg.evidence import evidence_graph_name, registry_evidence
from fairkg.kg.namespaces import (
    DCT,
    DQV,
    FKG,
    MLS,
    PROV,
    RDF,
    RDFS,
    SH,
    SPARQL_PREFIXES,
    bind_prefixes,
)
from fairkg.kg.shacl import ShapesValidator
from fairkg.kg.store.base import Store
from fairkg.kg.store.oxigraph import OxigraphStore
from fairkg.kg.store.terms import to_oxigraph, to_rdflib

log = logging.getLogger(__name__)

#: the fifteen sub-principles of FAIR for AI models, in report order; each has ``shapes/{principle}.ttl``
PRINCIPLES = ("F1", "F2", "F3", "F4", "A1", "A1.1", "A1.2", "A2", "I1", "I2", "R1", "R1.1", "R1.2", "R2", "R3")
#: a short title per principle, for reports, badges and tables
PRINCIPLE_TITLES = {
    "F1": "globally unique, persistent identifier", "F2": "rich metadata",
    "F3": "metadata include the identifier", "F4": "registered in a searchable resource",
    "A1": "retrievable by identifier over HTTP", "A1.1": "open, free protocol",
    "A1.2": "authentication where necessary", "A2": "metadata outlive the model",
    "I1": "community data formats", "I2": "qualified references, incl. FAIR training data",
    "R1": "accurate, relevant attributes", "R1.1": "clear licence", "R1.2": "detailed provenance",
    "R2": "dependencies with versions", "R3": "community standards",
}
#: the shapes' own namespace (every shape has an IRI in it, so reports can name them)
SHAPES = "https://w3id.org/fairkg/shapes#"
#: SHACL's way of nesting one shape in another (SHACL 1.0, sections 4.6 and 4.7): walked to find a principle
_NESTING = (SH.property, SH.node, SH.qualifiedValueShape, SH["not"])
_LISTS = (SH["and"], SH["or"], SH.xone)

Status = TypingLiteral["pass", "fail", "not-checked"]
STATUS_OUTCOMES: dict[str, URIRef] = {"pass": FKG.Passed, "fail": FKG.Failed, "not-checked": FKG.NotChecked}

#: "which models fail PRINCIPLE?" over stored verdicts; replace ``?principle`` with a literal (see failing_models)
FAILING_QUERY = SPARQL_PREFIXES + """
SELECT DISTINCT ?model WHERE {
  ?measurement a dqv:QualityMeasurement ;
    fkg:principle ?principle ;
    dqv:computedOn ?model ;
    fkg:outcome fkg:Failed .
} ORDER BY ?model"""
_OVERVIEW = SPARQL_PREFIXES + """
SELECT ?model ?title ?principle ?outcome WHERE {
  ?model a mls:Model .
  OPTIONAL { ?model dcterms:title ?title }
  OPTIONAL {
    ?measurement a dqv:QualityMeasurement ; dqv:computedOn ?model ; fkg:principle ?principle ; fkg:outcome ?outcome .
  }
} ORDER BY ?title ?model"""
_IDENTIFIER = SPARQL_PREFIXES + "SELECT ?id WHERE { ?model dcterms:identifier ?id } LIMIT 1"


@dataclass(frozen=True)
class Finding:
    """One SHACL result: what to fix (``message``), where (``focus`` node and ``path``), which ``shape`` said it,
    and its ``severity`` (``Violation``, ``Warning`` or ``Info``). ``not_checked``: the principle could not be
    checked (the result's value is ``fkg:NotChecked``)."""

    message: str
    path: str | None
    shape: str
    severity: str
    focus: str
    value: str | None = None
    not_checked: bool = False

    def to_json(self) -> dict[str, object]:
        """``{"message", "path", "shape", "severity"}``."""
        return {"message": self.message, "path": self.path, "shape": self.shape, "severity": self.severity}


@dataclass(frozen=True)
class PrincipleResult:
    """The verdict on one sub-principle: its status and the violations and warnings behind it."""

    principle: str
    status: Status
    violations: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()

    @property
    def passed(self) -> bool:
        """True when the principle passes (not when it could not be checked)."""
        return self.status == "pass"

    def to_json(self) -> dict[str, object]:
        """``{"pass", "status", "violations", "warnings"}``."""
        return {"pass": self.passed, "status": self.status,
                "violations": [f.to_json() for f in self.violations],
                "warnings": [f.to_json() for f in self.warnings]}


@dataclass(frozen=True)
class Assessment:
    """A model's FAIR assessment: a :class:`PrincipleResult` per principle, and the W3C SHACL report graph (given
    as a graph, or as N-Triples parsed on first use: what a worker process of :mod:`fairkg.kg.fair_batch` sends)."""

    model: str
    identifier: str | None
    principles: Mapping[str, PrincipleResult]
    assessed_at: datetime
    shapes_version: str
    report_source: Graph | bytes = field(compare=False, repr=False)

    @property
    def report(self) -> Graph:
        """The ``sh:ValidationReport`` graph."""
        if isinstance(self.report_source, bytes):
            object.__setattr__(self, "report_source", bind_prefixes(Graph()).parse(data=self.report_source,
                                                                                     format="nt"))
        return self.report_source  # type: ignore[return-value]

    @property
    def passed(self) -> int:
        """How many principles pass."""
        return sum(result.passed for result in self.principles.values())

    @property
    def total(self) -> int:
        """How many principles were assessed (15)."""
        return len(self.principles)

    def status(self, principle: str) -> Status:
        """The status of one principle."""
        return self.principles[principle].status

    def with_status(self, status: Status) -> list[str]:
        """The principles with ``status``, in report order."""
        return [p for p, result in self.principles.items() if result.status == status]

    def to_json(self) -> dict[str, object]:
        """The JSON summary: ``{"model", "identifier", "principles": {"F1": {...}}, "passed", "total"}``."""
        return {"model": self.model, "identifier": self.identifier,
                "principles": {p: result.to_json() for p, result in self.principles.items()},
                "passed": self.passed, "total": self.total}


# -- shapes -------------------------------------------------------------------------------------------------------


def _shape_files() -> list[tuple[str, str]]:
    folder = importlib.resources.files("fairkg.shapes")
    return sorted((entry.name, entry.read_text(encoding="utf-8")) for entry in folder.iterdir()
                  if entry.name.endswith(".ttl"))


@functools.cache
def shapes_graph() -> Graph:
    """Every shapes file merged into one graph (parsed once, then cached; do not modify it).

    >>> len(shapes_graph()) > 0
    True
    """
    graph = bind_prefixes(Graph())
    for name, text in _shape_files():
        graph.parse(data=text, format="turtle", publicID=f"{SHAPES}{name}")
    return graph


@functools.cache
def _validation_shapes() -> Graph:
    return validation_shapes(shapes_graph())


def validation_shapes(shapes: Graph) -> Graph:
    """``shapes`` without what pySHACL does not read (``rdf:type``, ``fkg:principle``, labels and comments): it
    checks every predicate of a shape against its list of constraint parameters on every evaluation, so the
    annotations cost time (~15%) and change nothing. Shapes are still found by their targets and by
    ``sh:property``/``sh:node``, as SHACL 1.0 section 2.1 allows (shapes need no ``rdf:type``)."""
    lean = Graph()
    skip = {RDF.type, FKG.principle, RDFS.label, RDFS.comment, RDFS.seeAlso}
    lean.addN((s, p, o, lean) for s, p, o in shapes if p not in skip)
    return lean


@functools.cache
def shapes_version() -> str:
    """fairkg's version and the first 12 hex digits of the SHA-256 of the shapes files, e.g. ``0.1.0+3f2a9c1b7d4e``.

    >>> shapes_version().count("+")
    1
    """
    digest = hashlib.sha256()
    for name, text in _shape_files():
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    try:
        version = importlib.metadata.version("fairkg")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return f"{version}+{digest.hexdigest()[:12]}"


def shape_principles(shapes: Graph) -> dict[Node, str]:
    """Every shape -> the principle it tests: its own ``fkg:principle``, or that of the nearest shape it is nested
    in (``sh:property``, ``sh:node``, ``sh:qualifiedValueShape``, ``sh:not``, ``sh:and``/``sh:or``/``sh:xone``).

    >>> shape_principles(shapes_graph())[URIRef(SHAPES + "DatasetShape")]
    'I2'
    """
    found: dict[Node, str] = {s: str(p) for s, p in shapes.subject_objects(FKG.principle)}
    queue = list(found)
    while queue:
        parent = queue.pop()
        for child in _children(shapes, parent):
            if child not in found:
                found[child] = found[parent]
                queue.append(child)
    return found


def _children(shapes: Graph, shape: Node) -> Iterable[Node]:
    for prop in _NESTING:
        yield from shapes.objects(shape, prop)
    for prop in _LISTS:
        for head in shapes.objects(shape, prop):
            yield from Collection(shapes, head)  # type: ignore[arg-type]


@functools.cache
def default_principles() -> dict[Node, str]:
    """:func:`shape_principles` of every file in ``shapes/`` (computed once per process)."""
    return shape_principles(shapes_graph())


# -- the record ---------------------------------------------------------------------------------------------------


def record_graph(store: Store, model_iri: str) -> Graph:
    """The model's record as an rdflib graph: its named graph, its evidence graph and, transitively, the named
    graphs of what they link to (training and evaluation datasets; the shared descriptions of creators,
    publishers, licences, software, code and machines, see :data:`fairkg.kg.records.SHARED_CLASSES`, including
    those of a dataset's creators and licence), and nothing else. Another model's record it links to (a previous
    version) stays out: it is assessed on its own.

    >>> from fairkg.kg.store import open_store
    >>> len(record_graph(open_store("oxigraph:"), "http://localhost:8000/id/m"))
    0
    """
    graph = Graph()
    for quad in record_store(store, model_iri):
        graph.add((to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object)))  # type: ignore
    return bind_prefixes(graph)


def record_store(store: Store, model_iri: str) -> ox.Store:
    """The model's record (as :func:`record_graph`) in the default graph of an in-memory pyoxigraph store, for
    pySHACL. On the embedded store the quads are copied natively, graph by graph (building an rdflib graph of a
    record costs ~20 ms, copying it ~1 ms); on a remote store each graph is one request.

    >>> from fairkg.kg.store import open_store
    >>> len(record_store(open_store("oxigraph:"), "http://localhost:8000/id/m"))
    0
    """
    data = ox.Store()
    text = record_ntriples(store, model_iri)
    if text:
        data.load(text, format=ox.RdfFormat.N_TRIPLES)
    return data


def record_ntriples(store: Store, model_iri: str, *, graphs: set[str] | None = None) -> bytes:
    """The model's record (as :func:`record_graph`) as N-Triples (a triple in two of its graphs appears twice).

    ``graphs``: the names of the store's graphs, when the caller knows them (linked IRIs that name no graph, e.g.
    vocabulary terms, are then not looked up: about half of them)."""
    model = str(model_iri)
    native = store._store if isinstance(store, OxigraphStore) else None
    queue = [model, evidence_graph_name(model)]
    seen: set[str] = set()
    dumps: list[bytes] = []
    while queue:
        iri = queue.pop()
        if iri in seen:
            continue
        seen.add(iri)
        name = ox.NamedNode(iri)
        quads = _graph_quads(store, native, name)
        if not quads or (iri != model and any(q.predicate == _OX_TYPE and q.object == _OX_MODEL for q in quads)):
            continue  # no such graph, or another model's record (a previous version): assessed on its own
        if native is not None:  # written in Rust: a Python ox.Quad per triple costs ~10 us
            dumps.append(native.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=name))
        else:
            dumps.append("".join(f"{q.subject} {q.predicate} {q.object} .\n" for q in quads).encode())
        links = {q.object.value for q in quads if type(q.object) is ox.NamedNode and q.predicate != _OX_TYPE}
        found = {link.split("#", 1)[0] for link in links} - seen
        queue.extend(found if graphs is None else found & graphs)
    return b"".join(dumps)


def _graph_quads(store: Store, native: ox.Store | None, name: ox.NamedNode) -> list[ox.Quad]:
    if native is not None:
        return list(native.quads_for_pattern(None, None, None, name))
    return [ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o), name)  # type: ignore[arg-type]
            for s, p, o in store.get_graph(name.value)]


_OX_TYPE = ox.NamedNode(str(RDF.type))
_OX_MODEL = ox.NamedNode(str(MLS.Model))


# -- validation ---------------------------------------------------------------------------------------------------


def validate_record(record: Graph | ox.Store, shapes: Graph | None = None) -> tuple[bool, Graph]:
    """Validate ``record`` against ``shapes`` (default: every file in ``shapes/``, merged and cached) with pySHACL,
    through :class:`fairkg.kg.shacl.ShapesValidator` (shapes parsed once; no inference: the types the shapes
    target are written at registration). The record goes to pySHACL as an in-memory pyoxigraph store, so the
    SHACL-SPARQL constraints (`SHACL 1.0, section 5 <https://www.w3.org/TR/shacl/#sparql-constraints>`_) run on
    Oxigraph's engine rather than rdflib's. Warnings alone leave ``sh:conforms`` true (the verdict per principle
    is computed from the results, not from ``sh:conforms``).

    Returns:
        ``sh:conforms`` and the ``sh:ValidationReport`` graph.

    Raises:
        ValueError: the shapes are not valid SHACL (e.g. a SPARQL constraint with a VALUES clause, which SHACL 1.0
            section 5.3.1 forbids).
    """
    if isinstance(record, Graph):
        data = ox.Store()
        data.extend(ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o), ox.DefaultGraph())  # type: ignore
                    for s, p, o in record)
    else:
        data = record
    validator = default_validator() if shapes is None else ShapesValidator(shapes)
    conforms, report = validator.validate(data)
    return conforms, bind_prefixes(report)


@functools.cache
def default_validator() -> ShapesValidator:
    """The validator of every file in ``shapes/`` (built once per process)."""
    return ShapesValidator(_validation_shapes())


def assess(store: Store, model_iri: str, *, base_iri: str, shapes: Graph | None = None,
           registry: bool = True) -> Assessment:
    """Assess one model against every FAIR shape.

    Args:
        base_iri: the registry's base IRI (for the catalogue check).
        shapes: the shapes to use (default: every file in ``shapes/``, merged and cached).
        registry: first record the registry-level evidence (:func:`fairkg.kg.evidence.registry_evidence`:
            identifier uniqueness, catalogue listing). HTTP probes are run by the caller, before this.

    Raises:
        NotFoundError: no model has the IRI ``model_iri``.

    >>> from fairkg.kg.store import open_store
    >>> assess(open_store("oxigraph:"), "http://localhost:8000/id/none", base_iri="http://localhost:8000")
    Traceback (most recent call last):
    ...
    fairkg.kg.errors.NotFoundError: http://localhost:8000/id/none is not a registered model
    """
    if not store.query(_IS_MODEL.replace("?model", URIRef(model_iri).n3())).boolean:
        raise NotFoundError(f"{model_iri} is not a registered model")
    if registry:
        registry_evidence(store, model_iri, base_iri)
    data = record_store(store, model_iri)
    if shapes is None:
        _conforms, report = validate_record(data)
        principles, version = default_principles(), shapes_version()
    else:
        _conforms, report = validate_record(data, validation_shapes(shapes))
        principles, version = shape_principles(shapes), _graph_version(shapes)
    found = next(data.quads_for_pattern(ox.NamedNode(str(model_iri)), _OX_IDENTIFIER, None), None)
    return assessment_from_report(str(model_iri), report, principles,
                                  identifier=found.object.value if found is not None else None,
                                  assessed_at=datetime.now(UTC).replace(microsecond=0), version=version)


_IS_MODEL = SPARQL_PREFIXES + "ASK { GRAPH ?model { ?model a mls:Model } }"
_OX_IDENTIFIER = ox.NamedNode(str(DCT.identifier))


def _graph_version(shapes: Graph) -> str:
    return "custom+" + hashlib.sha256(shapes.serialize(format="nt", encoding="utf-8")).hexdigest()[:12]


def assessment_from_report(model: str, report: Graph, principles: Mapping[Node, str], *, identifier: str | None,
                           assessed_at: datetime, version: str) -> Assessment:
    """Split a SHACL report into an :class:`Assessment` by the principle of each result's source shape."""
    violations: dict[str, list[Finding]] = {p: [] for p in PRINCIPLES}
    warnings: dict[str, list[Finding]] = {p: [] for p in PRINCIPLES}
    for result in report.objects(None, SH.result):
        source = report.value(result, SH.sourceShape)
        principle = principles.get(source) if source is not None else None  # type: ignore[arg-type]
        if principle is None:
            principle = _stored_principle(report, result)
        if principle not in violations:
            log.warning("a SHACL result from %s names no FAIR principle; ignored", source)
            continue
        finding = _finding(report, result)
        (violations if finding.severity == "Violation" else warnings)[principle].append(finding)
    results = {}
    for principle in PRINCIPLES:
        found = sorted(violations[principle], key=_order)
        if any(not f.not_checked for f in found):
            status: Status = "fail"
        elif found:
            status = "not-checked"
        else:
            status = "pass"
        results[principle] = PrincipleResult(principle, status, tuple(found),
                                             tuple(sorted(warnings[principle], key=_order)))
    return Assessment(model, identifier, results, assessed_at, version, report)


def _stored_principle(report: Graph, result: Node) -> str | None:
    value = report.value(result, FKG.principle)
    return str(value) if value is not None else None


def _order(finding: Finding) -> tuple[str, str, str]:
    return (finding.shape, finding.focus, finding.message)


def _finding(report: Graph, result: Node) -> Finding:
    messages = sorted(str(m) for m in report.objects(result, SH.resultMessage))
    severity = report.value(result, SH.resultSeverity)
    path = report.value(result, SH.resultPath)
    value = report.value(result, SH.value)
    return Finding(
        message="; ".join(messages) or "does not conform",
        path=path_text(report, path) if path is not None else None,
        shape=str(report.value(result, SH.sourceShape)),
        severity=str(severity).rsplit("#", 1)[-1] if severity is not None else "Violation",
        focus=str(report.value(result, SH.focusNode)),
        value=str(value) if value is not None else None,
        not_checked=value == FKG.NotChecked,
    )


def path_text(graph: Graph, path: Node) -> str:
    """A SHACL property path (SHACL 1.0, section 2.3.1) in SPARQL property-path syntax with prefixed names.

    >>> path_text(shapes_graph(), DCT.license)
    'dcterms:license'
    """
    if isinstance(path, URIRef):
        return graph.namespace_manager.normalizeUri(path)
    if (path, RDF.first, None) in graph:
        return "/".join(path_text(graph, step) for step in Collection(graph, path))  # type: ignore[arg-type]
    if (alternatives := graph.value(path, SH.alternativePath)) is not None:
        return "(" + "|".join(path_text(graph, a) for a in Collection(graph, alternatives)) + ")"  # type: ignore
    for prop, template in ((SH.inversePath, "^{}"), (SH.zeroOrMorePath, "{}*"), (SH.oneOrMorePath, "{}+"),
                           (SH.zeroOrOnePath, "{}?")):
        if (inner := graph.value(path, prop)) is not None:
            return template.format(path_text(graph, inner))
    return str(path)


# -- stored verdicts ----------------------------------------------------------------------------------------------


def verdict_graph_name(model_iri: str) -> str:
    """The named graph holding a model's latest verdict.

    >>> verdict_graph_name("http://localhost:8000/id/abc")
    'http://localhost:8000/id/abc/fair'
    """
    return f"{str(model_iri).rstrip('/')}/fair"


def metric(principle: str) -> URIRef:
    """The ``dqv:Metric`` of a principle, ``fkg:metric-{principle}``.

    >>> metric("R1.1").endswith("#metric-R1.1")
    True
    """
    return FKG[f"metric-{principle}"]


def verdict_graph(assessment: Assessment, *, prefixes: bool = True) -> Graph:
    """The graph :func:`store_verdict` writes: the SHACL report (results named ``{model}/fair#result-N``, each
    with its ``fkg:principle``) and one ``dqv:QualityMeasurement`` per principle (``{model}/fair#F1``...).
    ``prefixes=False``: without prefix bindings (~1 ms less), for storing."""
    base = verdict_graph_name(assessment.model)
    graph = bind_prefixes(Graph()) if prefixes else Graph(store="SimpleMemory", bind_namespaces="none")
    report_node = next(iter(assessment.report.subjects(RDF.type, SH.ValidationReport)), None)
    names: dict[Node, Node] = {}
    if report_node is not None:
        names[report_node] = URIRef(f"{base}#report")
    principles = {}
    for p, result in assessment.principles.items():
        for finding in (*result.violations, *result.warnings):
            principles[(finding.shape, finding.focus, finding.message, finding.severity)] = p
    findings = {r: _finding(assessment.report, r) for r in assessment.report.objects(None, SH.result)}
    results = sorted(findings, key=lambda r: _order(findings[r]))
    for index, result in enumerate(results, start=1):
        names[result] = URIRef(f"{base}#result-{index}")
    for s, p, o in assessment.report:
        graph.add((names.get(s, s), p, names.get(o, o)))
    stamp = Literal(assessment.assessed_at.isoformat(), datatype=XSD.dateTime)
    version = Literal(assessment.shapes_version)
    if report_node is not None:
        graph.add((names[report_node], PROV.generatedAtTime, stamp))
        graph.add((names[report_node], FKG.shapesVersion, version))
    by_principle: dict[str, list[Node]] = {}
    for result in results:
        finding = findings[result]
        p = principles.get((finding.shape, finding.focus, finding.message, finding.severity))
        if p is not None:
            graph.add((names[result], FKG.principle, Literal(p)))
            by_principle.setdefault(p, []).append(names[result])
    model = URIRef(assessment.model)
    for p, result in assessment.principles.items():
        node = URIRef(f"{base}#{p}")
        graph.add((node, RDF.type, DQV.QualityMeasurement))
        graph.add((node, DQV.isMeasurementOf, metric(p)))
        graph.add((node, FKG.principle, Literal(p)))
        graph.add((node, DQV.computedOn, model))
        graph.add((node, DQV.value, Literal(result.passed)))
        graph.add((node, FKG.outcome, STATUS_OUTCOMES[result.status]))
        graph.add((node, PROV.generatedAtTime, stamp))
        graph.add((node, FKG.shapesVersion, version))
        for source in by_principle.get(p, []):
            graph.add((node, PROV.wasDerivedFrom, source))
    return graph


def store_verdict(store: Store, assessment: Assessment) -> str:
    """Store the verdict in ``{model}/fair``, replacing the previous one; return the graph's name."""
    name = verdict_graph_name(assessment.model)
    store.replace_graph(name, verdict_graph(assessment, prefixes=False))
    return name


def assessment_from_graph(store: Store, model_iri: str) -> Assessment | None:
    """The model's stored verdict read back as an :class:`Assessment`, or None if it was never assessed.

    >>> from fairkg.kg.store import open_store
    >>> assessment_from_graph(open_store("oxigraph:"), "http://localhost:8000/id/m") is None
    True
    """
    graph = bind_prefixes(store.get_graph(verdict_graph_name(model_iri)))
    measurements = {str(graph.value(m, FKG.principle)): m for m in graph.subjects(RDF.type, DQV.QualityMeasurement)}
    if not measurements:
        return None
    first = next(iter(measurements.values()))
    stamp = graph.value(first, PROV.generatedAtTime)
    version = graph.value(first, FKG.shapesVersion)
    outcomes = {iri: status for status, iri in STATUS_OUTCOMES.items()}
    results: dict[str, PrincipleResult] = {}
    for p in PRINCIPLES:
        node = measurements.get(p)
        if node is None:
            continue
        findings = [_finding(graph, r) for r in graph.objects(node, PROV.wasDerivedFrom)]
        status = outcomes.get(graph.value(node, FKG.outcome), "fail")  # type: ignore[arg-type]
        results[p] = PrincipleResult(
            p, status,  # type: ignore[arg-type]
            tuple(sorted((f for f in findings if f.severity == "Violation"), key=_order)),
            tuple(sorted((f for f in findings if f.severity != "Violation"), key=_order)))
    rows = list(store.query(_IDENTIFIER.replace("?model", URIRef(model_iri).n3())).bindings())
    report = _report_part(graph)
    return Assessment(str(model_iri), str(rows[0]["id"]) if rows else None, results,
                      datetime.fromisoformat(str(stamp)) if stamp is not None else datetime.min.replace(tzinfo=UTC),
                      str(version or ""), report)


def _report_part(graph: Graph) -> Graph:
    """The ``sh:ValidationReport`` and everything reachable from it."""
    report = bind_prefixes(Graph())
    queue: list[Node] = list(graph.subjects(RDF.type, SH.ValidationReport))
    seen: set[Node] = set()
    while queue:
        node = queue.pop()
        if node in seen:
            continue
        seen.add(node)
        for p, o in graph.predicate_objects(node):
            report.add((node, p, o))
            if isinstance(o, (URIRef, BNode)) and (o, None, None) in graph:
                queue.append(o)
    return report


def failing_models(store: Store, principle: str) -> list[str]:
    """IRIs of the models whose stored verdict fails ``principle`` (one SPARQL query).

    >>> from fairkg.kg.store import open_store
    >>> failing_models(open_store("oxigraph:"), "R1.1")
    []
    """
    if principle not in PRINCIPLES:
        raise ValueError(f"unknown principle {principle!r}: expected one of {', '.join(PRINCIPLES)}")
    query = FAILING_QUERY.replace("?principle ;", Literal(principle).n3() + " ;")
    return [str(row["model"]) for row in store.query(query).bindings()]


def overview(store: Store) -> list[tuple[str, str | None, dict[str, Status]]]:
    """Every registered model with its title and the stored status of each principle (empty if not assessed).

    >>> from fairkg.kg.store import open_store
    >>> overview(open_store("oxigraph:"))
    []
    """
    outcomes = {iri: status for status, iri in STATUS_OUTCOMES.items()}
    rows: dict[str, tuple[str | None, dict[str, Status]]] = {}
    for row in store.query(_OVERVIEW).bindings():
        model = str(row["model"])
        title, statuses = rows.setdefault(model, (str(row["title"]) if "title" in row else None, {}))
        if "principle" in row and row.get("outcome") in outcomes:
            statuses[str(row["principle"])] = outcomes[row["outcome"]]  # type: ignore[index]
    return [(model, title, {p: statuses[p] for p in PRINCIPLES if p in statuses})
            for model, (title, statuses) in rows.items()]


__all__ = [
    "FAILING_QUERY", "PRINCIPLES", "PRINCIPLE_TITLES", "SHAPES", "Assessment", "Finding", "PrincipleResult", "Status",
    "assess", "assessment_from_graph", "assessment_from_report", "default_principles", "default_validator",
    "failing_models", "metric", "overview", "path_text", "record_graph", "record_ntriples", "record_store",
    "shape_principles", "shapes_graph", "shapes_version", "store_verdict", "validate_record", "validation_shapes",
    "verdict_graph", "verdict_graph_name",
]

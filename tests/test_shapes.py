"""The FAIR shapes (shapes/*.ttl): one file per sub-principle, shipped as package data; every shape named by an
IRI, tagged with its principle, a severity and a message; valid SHACL (checked against SHACL's own shapes); every
class and property they test declared in the ontology."""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

import pyshacl
import pytest
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF

from fairkg.kg.fair import PRINCIPLES, SHAPES, shape_principles, shapes_graph, shapes_version
from fairkg.kg.namespaces import FKG, SH

ROOT = Path(__file__).resolve().parents[1]
SHAPE_NS = Namespace(SHAPES)
#: namespaces whose terms the shapes test and the ontology must declare
CHECKED = {
    "fkg": "https://w3id.org/fairkg/ontology#", "mls": "http://www.w3.org/ns/mls#",
    "datacite": "http://purl.org/spar/datacite/", "dcterms": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#", "prov": "http://www.w3.org/ns/prov#", "schema": "http://schema.org/",
    "spdx": "http://spdx.org/rdf/terms#", "fair4ml": "https://w3id.org/fair4ml#",
    "literal": "http://www.essepuntato.it/2010/06/literalreification/", "fabio": "http://purl.org/spar/fabio/",
}
TARGETS = (SH.targetClass, SH.targetNode, SH.targetObjectsOf, SH.targetSubjectsOf)
DECLARED = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, OWL.NamedIndividual)


def files() -> dict[str, Graph]:
    folder = importlib.resources.files("fairkg.shapes")
    return {entry.name[:-4]: Graph().parse(data=entry.read_text(encoding="utf-8"), format="turtle")
            for entry in folder.iterdir() if entry.name.endswith(".ttl")}


def test_one_file_per_principle_shipped_as_package_data() -> None:
    assert sorted(files()) == sorted(PRINCIPLES)
    assert (ROOT / "shapes" / "__init__.py").is_file()
    for principle in PRINCIPLES:
        packaged = importlib.resources.files("fairkg.shapes").joinpath(f"{principle}.ttl").read_text("utf-8")
        assert packaged == (ROOT / "shapes" / f"{principle}.ttl").read_text("utf-8")


def test_shapes_version_names_fairkg_and_the_files() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+.*\+[0-9a-f]{12}", shapes_version())


@pytest.mark.parametrize("principle", PRINCIPLES)
def test_every_shape_carries_its_principle_severity_and_message(principle: str) -> None:
    graph = files()[principle]
    tagged = set(graph.subjects(FKG.principle, None))
    targeted = {s for t in TARGETS for s in graph.subjects(t, None)}
    assert targeted, f"{principle}.ttl targets nothing"
    assert targeted <= tagged, f"targeted shapes without fkg:principle: {targeted - tagged}"
    assert any((s, SH.targetClass, URIRef("http://www.w3.org/ns/mls#Model")) in graph for s in targeted)
    for shape in tagged:
        assert isinstance(shape, URIRef) and shape.startswith(SHAPES)
        assert graph.value(shape, FKG.principle) == Literal(principle), shape
        assert graph.value(shape, SH.severity) in (SH.Violation, SH.Warning), shape
        message = graph.value(shape, SH.message)
        assert isinstance(message, Literal) and str(message).startswith(f"{principle}: "), shape
    for shape in targeted:
        assert graph.value(shape, URIRef("http://www.w3.org/2000/01/rdf-schema#comment")) is not None, shape


def test_every_shape_is_named_by_an_iri() -> None:
    """Reports name the shape each result comes from (sh:sourceShape), so no shape is a blank node."""
    graph = shapes_graph()
    shapes: set = {s for t in TARGETS for s in graph.subjects(t, None)}
    for prop in (SH.property, SH.node, SH.qualifiedValueShape, SH["not"]):
        shapes |= set(graph.objects(None, prop))
    for prop in (SH["or"], SH["and"], SH.xone):
        for head in graph.objects(None, prop):
            shapes |= set(Collection(graph, head))
    blank = [s for s in shapes if isinstance(s, BNode)]
    assert blank == []
    assert len(shapes) > 60


def test_every_shape_maps_to_one_principle() -> None:
    graph = shapes_graph()
    mapping = shape_principles(graph)
    reported = {s for s in graph.subjects(SH.path, None)} | {s for t in TARGETS for s in graph.subjects(t, None)}
    unmapped = sorted(str(s) for s in reported if s not in mapping)
    assert unmapped == []
    assert mapping[SHAPE_NS["VerifiableFile-url"]] == "I2"
    assert mapping[SHAPE_NS["PersistentIdentifier-value"]] in ("F1", "I2")


def test_shapes_are_valid_shacl() -> None:
    """SHACL 1.0 Appendix C: the shapes graph validated against SHACL's own shapes (pySHACL's meta-SHACL)."""
    conforms, _report, text = pyshacl.validate(Graph(), shacl_graph=shapes_graph(), meta_shacl=True,
                                               inference="none")
    assert conforms, text


def _path_iris(graph: Graph, path) -> set[URIRef]:  # noqa: ANN001 - an rdflib node
    if isinstance(path, URIRef):
        return {path}
    found: set[URIRef] = set()
    if (path, RDF.first, None) in graph:
        for step in Collection(graph, path):
            found |= _path_iris(graph, step)
        return found
    for prop in (SH.alternativePath, SH.inversePath, SH.zeroOrMorePath, SH.oneOrMorePath, SH.zeroOrOnePath):
        for inner in graph.objects(path, prop):
            found |= _path_iris(graph, inner)
    return found


def used_iris(graph: Graph) -> dict[URIRef, str]:
    """Every IRI the shapes test: paths, classes, targets, sh:hasValue and sh:in members, and the prefixed names
    in SPARQL text (expanded with the prefixes the shapes declare) -> where it is used."""
    used: dict[URIRef, str] = {}
    for path in graph.objects(None, SH.path):
        for iri in _path_iris(graph, path):
            used[iri] = "sh:path"
    for prop in (SH["class"], SH.targetClass, SH.targetObjectsOf, SH.targetSubjectsOf, SH.hasValue):
        for value in graph.objects(None, prop):
            if isinstance(value, URIRef):
                used[value] = graph.namespace_manager.normalizeUri(prop)
    for head in graph.objects(None, SH["in"]):
        for value in Collection(graph, head):
            if isinstance(value, URIRef):
                used[value] = "sh:in"
    prefixes = {str(graph.value(d, SH.prefix)): str(graph.value(d, SH.namespace))
                for d in graph.objects(None, SH.declare)}
    for text in graph.objects(None, SH.select):
        for prefix, local in re.findall(r"\b([a-z][a-z0-9]*):([A-Za-z][\w.-]*[\w])", str(text)):
            if prefix in prefixes:
                used[URIRef(prefixes[prefix] + local)] = "SPARQL"
    return {iri: where for iri, where in used.items() if any(iri.startswith(ns) for ns in CHECKED.values())}


def test_every_term_the_shapes_use_is_declared_in_the_ontology() -> None:
    ontology = Graph().parse(ROOT / "ontology" / "fairkg.ttl", format="turtle")
    declared = {s for kind in DECLARED for s in ontology.subjects(RDF.type, kind)}
    used = used_iris(shapes_graph())
    assert len(used) > 60
    assert URIRef(CHECKED["fkg"] + "hasObservation") in used  # found in SPARQL text
    missing = sorted(f"{iri} ({where})" for iri, where in used.items() if iri not in declared)
    assert missing == [], "\n".join(missing)


def test_metrics_are_declared_for_every_principle() -> None:
    ontology = Graph().parse(ROOT / "ontology" / "fairkg.ttl", format="turtle")
    dqv = Namespace("http://www.w3.org/ns/dqv#")
    for principle in PRINCIPLES:
        metric = FKG[f"metric-{principle}"]
        assert (metric, RDF.type, dqv.Metric) in ontology
        assert ontology.value(metric, FKG.principle) == Literal(principle)
    for outcome in (FKG.Passed, FKG.Failed, FKG.NotChecked):
        assert (outcome, RDF.type, FKG.Outcome) in ontology
    assert (FKG.Observation, URIRef("http://www.w3.org/2000/01/rdf-schema#subClassOf"),
            URIRef("http://www.w3.org/ns/prov#Entity")) in ontology

"""The fairkg ontology (ontology/fairkg.ttl): well-formed, documented, self-contained, consistent under HermiT,
shipped as package data, and covering every ``fkg:`` term the code writes."""

from __future__ import annotations

import importlib.resources
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import OWL, RDF, RDFS

FKG = Namespace("https://w3id.org/fairkg/ontology#")
MLS = Namespace("http://www.w3.org/ns/mls#")
ONTOLOGY_IRI = URIRef("https://w3id.org/fairkg/ontology")
DECLARED_KINDS = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, OWL.NamedIndividual)
PROPERTY_KINDS = (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
#: the external ontologies (converted for owlready2, owl:imports removed) loaded beside ours when present
VOCAB_FILES = (
    "mls-MLSchema.owl.rdf",
    "spar-datacite-current-2025-09-22.noimports.owl.rdf",
    "spar-literal.noimports.owl.rdf",
)

_PY_TERM = re.compile(r"""FKG\.([A-Za-z_][A-Za-z0-9_]*)|FKG\[\s*["']([^"']+)["']\s*\]""")
_TTL_TERM = re.compile(r"\bfkg:([A-Za-z][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Paths:
    root: Path
    ontology: Path
    vocab: Path


@pytest.fixture(scope="module")
def paths() -> Paths:
    root = Path(__file__).resolve().parents[1]
    return Paths(
        root=root,
        ontology=root / "ontology" / "fairkg.ttl",
        vocab=Path(__file__).resolve().parents[2] / "shared" / "vocab",
    )


@pytest.fixture(scope="module")
def graph(paths: Paths) -> Graph:
    return Graph().parse(paths.ontology, format="turtle")


@pytest.fixture(scope="module")
def vocab(paths: Paths) -> Path:
    if not all((paths.vocab / name).is_file() for name in VOCAB_FILES):
        pytest.skip(f"external ontologies not found under {paths.vocab}")
    return paths.vocab


@pytest.fixture
def java(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip without Java; otherwise make HermiT's JVM start fast (C1 JIT only: 3x faster on a busy 2-core box)."""
    if shutil.which("java") is None:
        pytest.skip("HermiT needs Java: no `java` on PATH")
    options = os.environ.get("JAVA_TOOL_OPTIONS", "")
    monkeypatch.setenv("JAVA_TOOL_OPTIONS", f"{options} -XX:TieredStopAtLevel=1 -XX:+UseSerialGC".strip())


def _declared(graph: Graph) -> set[URIRef]:
    return {s for kind in DECLARED_KINDS for s in graph.subjects(RDF.type, kind) if isinstance(s, URIRef)}


def _to_rdfxml(graph: Graph, path: Path) -> Path:
    path.write_text(graph.serialize(format="xml"), encoding="utf-8")
    return path


def _hermit(files: list[Path]):  # noqa: ANN202 - an owlready2 World
    """Load ``files`` (RDF/XML) into a fresh owlready2 World and run HermiT on it; return the World.

    Raises owlready2.OwlReadyInconsistentOntologyError when the ontologies are inconsistent.
    """
    owlready2 = pytest.importorskip("owlready2")
    world = owlready2.World()
    ontologies = [world.get_ontology(f.resolve().as_uri()).load() for f in files]
    with ontologies[0]:
        owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
    return world


def _unsatisfiable(world) -> list[str]:  # noqa: ANN001 - an owlready2 World
    """IRIs of the classes HermiT found equivalent to owl:Nothing (owlready2 lists owl:Nothing itself too)."""
    return sorted(c.iri for c in world.inconsistent_classes() if c.iri != str(OWL.Nothing))


# -- structure and documentation ----------------------------------------------------------------------------------


def test_header(graph: Graph) -> None:
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in graph
    assert str(graph.value(ONTOLOGY_IRI, OWL.versionInfo)) == "0.1.0"
    dcterms = Namespace("http://purl.org/dc/terms/")
    assert graph.value(ONTOLOGY_IRI, dcterms.title) is not None
    assert graph.value(ONTOLOGY_IRI, dcterms.description) is not None
    assert graph.value(ONTOLOGY_IRI, dcterms.license) == URIRef("http://spdx.org/licenses/CC-BY-4.0")


def test_self_contained(graph: Graph) -> None:
    assert list(graph.triples((None, OWL.imports, None))) == []


def test_every_term_has_label_and_comment(graph: Graph) -> None:
    missing = sorted(
        f"{graph.namespace_manager.normalizeUri(term)} lacks {prop.n3(graph.namespace_manager)}"
        for term in _declared(graph)
        for prop in (RDFS.label, RDFS.comment)
        if not isinstance(graph.value(term, prop), Literal)
    )
    assert missing == [], "\n".join(missing)


def test_external_terms_say_where_they_are_defined(graph: Graph) -> None:
    missing = sorted(
        graph.namespace_manager.normalizeUri(term)
        for term in _declared(graph)
        if graph.value(term, RDFS.isDefinedBy) is None
    )
    assert missing == [], f"no rdfs:isDefinedBy: {missing}"


def test_schema_org_is_http(graph: Graph) -> None:
    https = sorted({str(t) for triple in graph for t in triple if str(t).startswith("https://schema.org/")})
    assert https == []


def test_no_property_declared_with_two_kinds(graph: Graph, paths: Paths) -> None:
    """An IRI that is both an object, datatype or annotation property is illegal punning in OWL 2 DL; check ours
    alone and together with ML-Schema and SPAR DataCite (which declares several dcterms as annotations)."""
    graphs = [graph]
    if paths.vocab.is_dir():
        graphs += [Graph().parse(paths.vocab / name) for name in VOCAB_FILES if (paths.vocab / name).is_file()]
    kinds: dict[URIRef, set[URIRef]] = {}
    for g in graphs:
        for kind in PROPERTY_KINDS:
            for prop in g.subjects(RDF.type, kind):
                kinds.setdefault(prop, set()).add(kind)
    puns = sorted(f"{p}: {sorted(k.fragment for k in ks)}" for p, ks in kinds.items() if len(ks) > 1)
    assert puns == [], "\n".join(puns)


def test_key_axioms(graph: Graph) -> None:
    prov = Namespace("http://www.w3.org/ns/prov#")
    dcat = Namespace("http://www.w3.org/ns/dcat#")
    assert (FKG.InferenceRun, OWL.disjointWith, MLS.Run) in graph
    assert (FKG.InferenceRun, RDFS.subClassOf, prov.Activity) in graph
    assert (FKG.InferenceRun, RDFS.subClassOf, MLS.Run) not in graph
    assert {MLS.Run, prov.Activity} <= set(graph.objects(FKG.TrainingRun, RDFS.subClassOf))
    assert (FKG.ModelDistribution, RDFS.subClassOf, dcat.Distribution) in graph
    for fmt in (FKG.TorchExportProgram, FKG.SafetensorsWeights, FKG.OnnxModel, FKG.TensorRTPlan):
        assert (fmt, RDFS.subClassOf, FKG.ModelDistribution) in graph
    assert (FKG.executedOn, RDFS.subPropertyOf, prov.used) in graph
    datacite = Namespace("http://purl.org/spar/datacite/")
    for scheme in (FKG.minid, FKG.uuid):
        assert (scheme, RDF.type, datacite.ResourceIdentifierScheme) in graph
    for policy in (FKG.PublicAccess, FKG.RestrictedAccess):
        assert (policy, RDF.type, FKG.AccessPolicy) in graph
    # no datatype property of ours has a single-class domain that GPUs and compute nodes would both fall into
    assert isinstance(graph.value(FKG.memoryBytes, RDFS.domain), BNode)


def test_ships_as_package_data(paths: Paths) -> None:
    resource = importlib.resources.files("fairkg.ontology").joinpath("fairkg.ttl")
    text = resource.read_text(encoding="utf-8")
    assert text == paths.ontology.read_text(encoding="utf-8")
    assert len(Graph().parse(data=text, format="turtle")) > 0


def _code_terms(root: Path) -> dict[str, set[str]]:
    """Every ``fkg:`` term the code, shapes and queries mention -> the files mentioning it."""
    found: dict[str, set[str]] = {}

    def add(term: str, path: Path) -> None:
        found.setdefault(term, set()).add(str(path.relative_to(root)))

    for folder in ("kg", "api", "runners", "examples"):
        for path in sorted((root / folder).rglob("*.py")):
            for match in _PY_TERM.finditer(path.read_text(encoding="utf-8")):
                add(match.group(1) or match.group(2), path)
    sources = [*sorted((root / "shapes").rglob("*.ttl")), *sorted((root / "kg").rglob("*.rq"))]
    for path in sources:
        for match in _TTL_TERM.finditer(path.read_text(encoding="utf-8")):
            add(match.group(1), path)
    return found


def test_every_fkg_term_in_the_code_is_defined(graph: Graph, paths: Paths) -> None:
    subjects = {s for s in graph.subjects() if isinstance(s, URIRef)}
    used = _code_terms(paths.root)
    assert "minid" in used, "the scan found nothing: has kg/identifiers.py moved?"
    undefined = sorted(
        f"fkg:{term} (in {', '.join(sorted(files))})" for term, files in used.items() if FKG[term] not in subjects
    )
    assert undefined == [], "\n".join(undefined)


# -- reasoning (HermiT via owlready2) ------------------------------------------------------------------------------


@pytest.mark.usefixtures("java")
def test_consistent_under_hermit(graph: Graph, tmp_path: Path) -> None:
    world = _hermit([_to_rdfxml(graph, tmp_path / "fairkg.owl")])
    assert _unsatisfiable(world) == []


@pytest.mark.usefixtures("java")
def test_hermit_catches_an_inference_run_typed_as_mls_run(graph: Graph, tmp_path: Path) -> None:
    owlready2 = pytest.importorskip("owlready2")
    bad = Graph()
    for triple in graph:
        bad.add(triple)
    run = URIRef("https://example.org/run/1")
    bad.add((run, RDF.type, OWL.NamedIndividual))
    bad.add((run, RDF.type, FKG.InferenceRun))
    bad.add((run, RDF.type, MLS.Run))
    with pytest.raises(owlready2.OwlReadyInconsistentOntologyError):
        _hermit([_to_rdfxml(bad, tmp_path / "bad.owl")])


@pytest.mark.usefixtures("java")
def test_hermit_reports_an_unsatisfiable_class(graph: Graph, tmp_path: Path) -> None:
    bad = Graph()
    for triple in graph:
        bad.add(triple)
    both = URIRef("https://example.org/TrainingAndInferenceRun")
    bad.add((both, RDF.type, OWL.Class))
    bad.add((both, RDFS.subClassOf, FKG.TrainingRun))
    bad.add((both, RDFS.subClassOf, FKG.InferenceRun))
    world = _hermit([_to_rdfxml(bad, tmp_path / "bad.owl")])
    assert _unsatisfiable(world) == [str(both)]


@pytest.mark.usefixtures("java")
def test_consistent_with_ml_schema_and_datacite(graph: Graph, vocab: Path, tmp_path: Path) -> None:
    world = _hermit([_to_rdfxml(graph, tmp_path / "fairkg.owl"), *(vocab / name for name in VOCAB_FILES)])
    assert _unsatisfiable(world) == []

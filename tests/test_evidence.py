"""Evidence (kg/evidence.py): observations in {model}/evidence, one per probe, replaced when a probe runs again;
registry-level evidence from store queries (identifier uniqueness, catalogue listing)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest
from _cards import dataset_card, model_card, write_card
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

from fairkg.kg.catalog import catalog_iri, refresh_catalog
from fairkg.kg.evidence import (
    OUTCOMES,
    PROBES,
    REGISTRY_PROBES,
    evidence_graph_name,
    observation_iri,
    observations,
    record_observation,
    registry_evidence,
)
from fairkg.kg.fair import PRINCIPLES
from fairkg.kg.namespaces import DATACITE, FKG, LITERAL, PROV, RDF
from fairkg.kg.register import register
from fairkg.kg.store import Store, open_store

BASE = "http://localhost:8000"
MODEL = f"{BASE}/id/6f1c6c2e-0000-5b8e-9a43-3f5d1b7e2a10"


@pytest.fixture
def store() -> Store:
    return open_store("oxigraph:")


@pytest.fixture
def registered(tmp_path: Path, store: Store) -> str:
    register(store, write_card(tmp_path / "d", dataset_card()), home=tmp_path / "home", base_iri=BASE)
    return register(store, write_card(tmp_path / "m", model_card()), home=tmp_path / "home", base_iri=BASE).iri


def test_observation_triples(store: Store) -> None:
    record_observation(store, MODEL, "A1.resolves", "passed", request=f"GET {BASE}/doi/10.5072/x", status=303,
                       detail="303 then 200 text/turtle")
    graph = store.get_graph(evidence_graph_name(MODEL))
    node = observation_iri(MODEL, "A1.resolves")
    assert node == URIRef(f"{MODEL}/evidence#A1.resolves")
    assert (URIRef(MODEL), FKG.hasObservation, node) in graph
    assert {FKG.Observation, PROV.Entity} <= set(graph.objects(node, RDF.type))
    assert graph.value(node, FKG.probe) == Literal("A1.resolves")
    assert graph.value(node, FKG.about) == URIRef(MODEL)
    assert graph.value(node, FKG.outcome) == FKG.Passed
    assert graph.value(node, FKG.request) == Literal(f"GET {BASE}/doi/10.5072/x")
    assert graph.value(node, FKG.responseStatus) == Literal(303, datatype=XSD.integer)
    assert graph.value(node, FKG.detail) == Literal("303 then 200 text/turtle")
    assert graph.value(node, PROV.generatedAtTime).datatype == XSD.dateTime


def test_a_probe_replaces_its_previous_observation(store: Store) -> None:
    record_observation(store, MODEL, "A1.resolves", "failed", status=404, detail="not found")
    record_observation(store, MODEL, "A1.1.openapi", "passed")
    record_observation(store, MODEL, "A1.resolves", "not-checked", detail="no server")
    found = {o.probe: o for o in observations(store, MODEL)}
    assert sorted(found) == ["A1.1.openapi", "A1.resolves"]
    assert found["A1.resolves"].outcome == "not-checked" and found["A1.resolves"].status is None
    assert found["A1.resolves"].detail == "no server"
    graph = store.get_graph(evidence_graph_name(MODEL))
    assert len(list(graph.triples((observation_iri(MODEL, "A1.resolves"), FKG.outcome, None)))) == 1


def test_unknown_probe_or_outcome_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown probe"):
        record_observation(store, MODEL, "A1.resolved", "passed")
    with pytest.raises(ValueError, match="unknown outcome"):
        record_observation(store, MODEL, "A1.resolves", "ok")  # type: ignore[arg-type]
    assert len(store.get_graph(evidence_graph_name(MODEL))) == 0


def test_probe_names_and_principles() -> None:
    assert set(OUTCOMES) == {"passed", "failed", "not-checked"}
    assert set(REGISTRY_PROBES) <= set(PROBES)
    for name, probe in PROBES.items():
        assert probe.name == name and name.startswith(probe.principle + ".")
        assert probe.principle in PRINCIPLES and probe.description
    assert {p.principle for p in PROBES.values()} == {"F1", "F3", "F4", "A1", "A1.1", "A1.2", "A2", "R1"}


@pytest.mark.parametrize("probe", sorted(PROBES))
def test_each_probe_is_required_by_its_principles_shapes(probe: str) -> None:
    principle = PROBES[probe].principle
    text = importlib.resources.files("fairkg.shapes").joinpath(f"{principle}.ttl").read_text(encoding="utf-8")
    assert f'BIND ("{probe}" AS ?probe)' in text


def test_registry_evidence_unique_and_catalogued(store: Store, registered: str) -> None:
    refresh_catalog(store, BASE)
    found = {o.probe: o for o in registry_evidence(store, registered, BASE)}
    assert (found["F1.unique"].outcome, found["F4.catalogued"].outcome) == ("passed", "passed")
    assert "10.5072/test.model" in found["F1.unique"].detail
    assert str(catalog_iri(BASE)) in found["F4.catalogued"].detail
    assert {o.probe: o.outcome for o in observations(store, registered)} == {"F1.unique": "passed",
                                                                             "F4.catalogued": "passed"}


def test_registry_evidence_without_catalogue_is_not_checked(store: Store, registered: str) -> None:
    store.drop_graph(str(catalog_iri(BASE)))
    found = {o.probe: o for o in registry_evidence(store, registered, BASE)}
    assert found["F4.catalogued"].outcome == "not-checked"
    assert "no dcat:Catalog" in found["F4.catalogued"].detail


def test_registry_evidence_model_missing_from_catalogue(store: Store, registered: str) -> None:
    refresh_catalog(store, BASE)
    record = store.get_graph(registered)  # each record lists itself in the catalogue: remove that listing
    for triple in list(record.triples((catalog_iri(BASE), None, None))):
        record.remove(triple)
    for node in list(record.subjects(URIRef("http://xmlns.com/foaf/0.1/primaryTopic"), URIRef(registered))):
        for triple in list(record.triples((node, None, None))):
            record.remove(triple)
    store.replace_graph(registered, record)
    found = {o.probe: o for o in registry_evidence(store, registered, BASE)}
    assert found["F4.catalogued"].outcome == "failed"


def test_registry_evidence_duplicate_identifier(store: Store, registered: str) -> None:
    other = URIRef(f"{BASE}/id/other")
    clash = Graph()
    ident = URIRef(f"{other}#doi-identifier")
    clash.add((other, DATACITE.hasIdentifier, ident))
    clash.add((ident, LITERAL.hasLiteralValue, Literal("10.5072/test.model")))
    store.replace_graph(str(other), clash)
    found = {o.probe: o for o in registry_evidence(store, registered, BASE)}
    assert found["F1.unique"].outcome == "failed"
    assert str(other) in found["F1.unique"].detail


def test_registry_evidence_without_primary_identifier(store: Store) -> None:
    found = {o.probe: o for o in registry_evidence(store, MODEL, BASE)}
    assert found["F1.unique"].outcome == "failed"
    assert "no primary identifier" in found["F1.unique"].detail

from __future__ import annotations

from pathlib import Path

import pytest
from _cards import dataset_card, model_card, write_card

from fairkg.kg.artifacts import sha256_file
from fairkg.kg.errors import ArtifactError, CardError, RegistrationError
from fairkg.kg.identifiers import lookup, uuid_for
from fairkg.kg.namespaces import DATACITE, DCAT, DCT, FAIR4ML, FKG, LITERAL, MLS, PROV, RDF, SPDX
from fairkg.kg.register import register, withdraw
from fairkg.kg.store import open_store

BASE = "http://localhost:8000"


@pytest.fixture
def registry(tmp_path: Path):
    store = open_store("oxigraph:")
    home = tmp_path / "home"
    write_card(tmp_path / "data", dataset_card())
    register(store, tmp_path / "data", home=home, base_iri=BASE)
    yield store, home, tmp_path
    store.close()


def _register(store, home: Path, folder: Path, **kwargs):
    return register(store, folder, home=home, base_iri=BASE, **kwargs)


def test_a_model_record_carries_datacite_tensors_distributions_training_and_evaluation(registry) -> None:
    store, home, tmp = registry
    done = _register(store, home, write_card(tmp / "model", model_card()))
    assert done.status == "created" and done.doi == "10.5072/test.model" and done.key == uuid_for("10.5072/test.model")
    graph = store.get_graph(done.iri)
    model = lookup(store, "doi:10.5072/TEST.MODEL", base_iri=BASE)
    assert str(model) == done.iri == f"{BASE}/id/{done.key}"
    assert {MLS.Model, FAIR4ML.MLModel} <= set(graph.objects(model, RDF.type))
    ident = graph.value(model, DATACITE.hasIdentifier)
    assert str(graph.value(ident, LITERAL.hasLiteralValue)) == "10.5072/test.model"
    assert graph.value(ident, DATACITE.usesIdentifierScheme) == DATACITE.doi
    assert str(graph.value(model, DCT.license)) == "http://spdx.org/licenses/MIT"
    assert str(graph.value(model, DCT.creator)) == "https://orcid.org/0000-0002-1825-0097"
    dists = list(graph.objects(model, DCAT.distribution))
    assert len(dists) == 2
    for dist in dists:
        location = str(graph.value(dist, FKG.location))
        assert not location.startswith("/") and (home / location).is_file()
        sha = str(graph.value(graph.value(dist, SPDX.checksum), SPDX.checksumValue))
        assert sha256_file(home / location) == sha
    shapes = {str(graph.value(t, FKG.shape)) for t in graph.objects(model, FKG.inputSpec)}
    assert shapes == {"batch,4"}
    run = graph.value(model, PROV.wasGeneratedBy)
    dataset = lookup(store, "10.5072/test.data", base_iri=BASE)
    assert (run, MLS.hasInput, dataset) in graph and (run, RDF.type, MLS.Run) in graph
    settings = {str(graph.value(s, MLS.specifiedBy)).rsplit("-", 1)[-1]: graph.value(s, MLS.hasValue).toPython()
                for s in graph.objects(run, MLS.hasInput) if (s, RDF.type, MLS.HyperParameterSetting) in graph}
    assert settings["lr"] == 0.1 and settings["epochs"] == 3 and settings["nesterov"] is False
    hardware = graph.value(run, FKG.executedOn)
    assert str(store.get_graph(str(hardware)).value(hardware, FKG.cpuModel)) == "Test CPU"
    evaluation = next(graph.subjects(RDF.type, MLS.ModelEvaluation))
    assert graph.value(evaluation, MLS.hasValue).toPython() == 0.9
    assert (run, MLS.hasOutput, evaluation) in graph


def test_identical_re_registration_is_a_no_op(registry) -> None:
    store, home, tmp = registry
    folder = write_card(tmp / "model", model_card())
    _register(store, home, folder)
    before = store.dump()
    again = _register(store, home, folder)
    assert again.status == "unchanged" and store.dump() == before


def test_changed_content_is_refused_unless_a_new_version_is_asked_for(registry) -> None:
    store, home, tmp = registry
    first = _register(store, home, write_card(tmp / "v1", model_card()))
    changed = write_card(tmp / "v2", model_card(description="A better model for testing registration."))
    before = store.count()
    with pytest.raises(RegistrationError, match="--new-version"):
        _register(store, home, changed)
    assert store.count() == before
    second = _register(store, home, changed, new_version=True)
    assert second.status == "new-version" and second.doi == "10.5072/test.model.v2"
    assert second.previous_version == first.iri
    assert (lookup(store, "10.5072/test.model.v2", base_iri=BASE), PROV.wasRevisionOf,
            lookup(store, "10.5072/test.model", base_iri=BASE)) in store.get_graph(second.iri)
    assert len(store.get_graph(first.iri)) > 0  # the old version stays resolvable
    third = _register(store, home, write_card(tmp / "v3", model_card(version="3")), new_version=True)
    assert third.doi == "10.5072/test.model.v3" and third.previous_version == second.iri
    assert _register(store, home, changed, new_version=True).status == "new-version"  # v2 content again is new vs v3


@pytest.mark.parametrize(("card", "files", "error", "message"), [
    (model_card(license="not a licence"), None, CardError, "license"),
    (model_card(), {"model.onnx": b"x"}, ArtifactError, "model.pt2"),
    (model_card(evaluations=[{"metric": "a", "value": 1, "dataset": "10.5072/nowhere"}]), None,
     RegistrationError, "10.5072/nowhere"),
])
def test_bad_registrations_write_nothing(registry, card, files, error, message) -> None:
    store, home, tmp = registry
    before, artifacts_before = store.dump(), sorted(home.rglob("*"))
    with pytest.raises(error, match=message):
        _register(store, home, write_card(tmp / "bad", card, files))
    assert store.dump() == before and sorted(home.rglob("*")) == artifacts_before


def test_withdrawal_keeps_a_tombstone_and_removes_the_files(registry) -> None:
    store, home, tmp = registry
    done = _register(store, home, write_card(tmp / "model", model_card()))
    graph = store.get_graph(done.iri)
    locations = [str(loc) for loc in graph.objects(None, FKG.location)]
    withdraw(store, "10.5072/test.model", home=home, base_iri=BASE, reason="superseded by a better model")
    tomb = store.get_graph(done.iri)
    model = lookup(store, "10.5072/test.model", base_iri=BASE)
    assert tomb.value(model, FKG.withdrawn).toPython() is True
    assert str(tomb.value(model, FKG.withdrawalReason)) == "superseded by a better model"
    assert tomb.value(model, DCT.title) is not None
    assert all(not (home / loc).exists() for loc in locations)
    data_files = [str(loc) for loc in store.get_graph(str(lookup(store, "10.5072/test.data", base_iri=BASE)))
                  .objects(None, FKG.location)]
    assert all((home / loc).is_file() for loc in data_files)  # other records keep theirs
    with pytest.raises(RegistrationError, match="withdrawn"):
        _register(store, home, write_card(tmp / "again", model_card(description="Back again after withdrawal.")))
    with pytest.raises(RegistrationError, match="why"):
        withdraw(store, "10.5072/test.data", home=home, base_iri=BASE, reason=" ")


# -- register_many --------------------------------------------------------------------------------------------------


def _content(store) -> dict[str, set]:
    """Every named graph's triples, registration times left out (they differ by the second they ran)."""
    from rdflib.namespace import XSD

    return {name: {t for t in store.get_graph(name) if getattr(t[2], "datatype", None) != XSD.dateTime}
            for name in store.graph_names()}


def _cards(tmp: Path) -> list[Path]:
    """Two models (listed before the datasets they name) and two datasets."""
    return [
        write_card(tmp / "m1", model_card()),
        write_card(tmp / "m2", model_card(doi="10.5072/test.model-2", title="A second test model")),
        write_card(tmp / "d1", dataset_card()),
        write_card(tmp / "d2", dataset_card(doi="10.5072/test.data-2", title="A second test dataset")),
    ]


def test_register_many_writes_what_registering_one_by_one_writes(tmp_path: Path) -> None:
    from fairkg.kg.register import register_many

    paths = _cards(tmp_path)
    one_by_one, together = open_store("oxigraph:"), open_store("oxigraph:")
    for path in (paths[2], paths[3], paths[0], paths[1]):
        register(one_by_one, path, home=tmp_path / "home1", base_iri=BASE)
    seen = []
    done = register_many(together, paths, home=tmp_path / "home2", base_iri=BASE, chunk=2, progress=seen.append)
    assert [d.kind for d in done] == ["dataset", "dataset", "model", "model"]  # datasets first
    assert {d.status for d in done} == {"created"} and seen == done
    assert _content(together) == _content(one_by_one)
    again = register_many(together, paths, home=tmp_path / "home2", base_iri=BASE)
    assert {d.status for d in again} == {"unchanged"}


def test_register_many_sees_a_doi_registered_earlier_in_the_same_call(tmp_path: Path) -> None:
    from fairkg.kg.register import register_many

    store = open_store("oxigraph:")
    data = write_card(tmp_path / "d1", dataset_card())
    changed = write_card(tmp_path / "d1b", dataset_card(description="Changed: not the same content."))
    done = register_many(store, [data, data], home=tmp_path / "home", base_iri=BASE)
    assert [d.status for d in done] == ["created", "unchanged"]
    with pytest.raises(RegistrationError, match="d1b.*already registered with different content"):
        register_many(store, [changed], home=tmp_path / "home", base_iri=BASE)


def test_register_many_stops_at_a_bad_card_keeping_what_it_reported(tmp_path: Path) -> None:
    from fairkg.kg.register import register_many

    store = open_store("oxigraph:")
    data = write_card(tmp_path / "d1", dataset_card())
    orphan = model_card(evaluations=[{"metric": "accuracy", "value": 0.9, "dataset": "10.5072/not.registered"}])
    orphan = write_card(tmp_path / "m", orphan)
    with pytest.raises(RegistrationError, match="not registered"):
        register_many(store, [data, orphan], home=tmp_path / "home", base_iri=BASE)
    assert lookup(store, "10.5072/test.data", base_iri=BASE)  # the dataset's chunk was written

from __future__ import annotations

import re
from pathlib import Path

import pyoxigraph as ox
import pytest
from _cards import dataset_card, model_card, write_card
from rdflib import URIRef

from fairkg.kg.artifacts import sha256_file, store_artifact
from fairkg.kg.errors import ArtifactError, CardError, RegistrationError, StoreError
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


_SUBMITTED = re.compile(r'^(<[^>]*> <http://purl\.org/dc/terms/(?:dateSubmitted|issued)> )"[^"]*"'
                        r'(\^\^<http://www\.w3\.org/2001/XMLSchema#dateTime> )')


def _quads(store) -> set[str]:
    """The store's N-Quads lines, registration times replaced by TIME (they differ by the second they ran; the
    triples saying when must be there all the same)."""
    return {_SUBMITTED.sub(r'\1"TIME"\2', line) for line in store.dump().decode().splitlines()}


def _many(store, paths: list[Path], home: Path, **kwargs):
    from fairkg.kg.register import register_many

    return register_many(store, paths, home=home, base_iri=BASE, **kwargs)


def _model(tmp: Path, name: str, **overrides) -> Path:
    return write_card(tmp / name, model_card(doi=f"10.5072/test.{name}", title=f"Test model {name}", **overrides))


def _orphan(tmp: Path, name: str = "orphan") -> Path:
    """A model card that names a dataset nobody registered."""
    evaluations = [{"metric": "accuracy", "value": 0.5, "dataset": "10.5072/not.registered"}]
    return _model(tmp, name, evaluations=evaluations)


def test_register_many_in_worker_processes_writes_what_register_writes(tmp_path: Path) -> None:
    paths = _cards(tmp_path)  # models first
    one_by_one, together = open_store("oxigraph:"), open_store("oxigraph:")
    for path in (paths[2], paths[3], paths[0], paths[1]):
        register(one_by_one, path, home=tmp_path / "home1", base_iri=BASE)
    seen = []
    done = _many(together, paths, tmp_path / "home2", workers=2, chunk=1, progress=seen.append)
    assert [(d.kind, d.status) for d in done] == [("dataset", "created")] * 2 + [("model", "created")] * 2
    assert [d.doi for d in done] == ["10.5072/test.data", "10.5072/test.data-2", "10.5072/test.model",
                                     "10.5072/test.model-2"]
    assert seen == done
    ours = _quads(together)
    assert any('"TIME"' in line for line in ours)
    assert ours == _quads(one_by_one)
    files = sorted(p.relative_to(tmp_path / "home1") for p in (tmp_path / "home1").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "home2") for p in (tmp_path / "home2").rglob("*") if p.is_file())


def test_models_listed_before_their_datasets_register(tmp_path: Path) -> None:
    data = [write_card(tmp_path / "d1", dataset_card()),
            write_card(tmp_path / "d2", dataset_card(doi="10.5072/test.data-2", title="A second test dataset"))]
    model_on_d2 = _model(tmp_path, "m2", evaluations=[{"metric": "accuracy", "value": 0.8,
                                                        "dataset": "10.5072/test.data-2"}])
    paths = [_model(tmp_path, "m1"), data[1], model_on_d2, data[0]]
    store = open_store("oxigraph:")
    seen = []
    done = _many(store, paths, tmp_path / "home", workers=0, chunk=1, progress=seen.append)
    assert [d.doi for d in done] == ["10.5072/test.data-2", "10.5072/test.data", "10.5072/test.m1",
                                     "10.5072/test.m2"]
    assert seen == done and {d.status for d in done} == {"created"}
    d1, d2 = (lookup(store, doi, base_iri=BASE) for doi in ("10.5072/test.data", "10.5072/test.data-2"))
    m1, m2 = (lookup(store, doi, base_iri=BASE) for doi in ("10.5072/test.m1", "10.5072/test.m2"))
    assert (m1, FAIR4ML.trainedOn, d1) in store.get_graph(str(m1))
    assert (m2, FAIR4ML.trainedOn, d1) in store.get_graph(str(m2))
    assert set(store.get_graph(str(m2)).objects(m2, FAIR4ML.evaluatedOn)) == {d2}


@pytest.mark.parametrize("workers", [0, 2])
def test_register_many_writes_nothing_when_a_card_does_not_validate(tmp_path: Path, workers: int) -> None:
    bad_input = [{"name": "x", "dtype": "float33", "shape": ["batch", 4], "description": "four features"}]
    bad = _model(tmp_path, "bad", inputs=bad_input)
    paths = [write_card(tmp_path / "d1", dataset_card()), _model(tmp_path, "m1"), bad, _model(tmp_path, "m2")]
    store, home = open_store("oxigraph:"), tmp_path / "home"
    with pytest.raises(CardError, match="inputs.0.dtype") as info:
        _many(store, paths, home, workers=workers, chunk=2)
    assert str(bad) in str(info.value)
    assert all(str(p) + ":" not in str(info.value) for p in paths if p != bad)
    assert store.count() == 0
    assert not home.exists() or not [p for p in home.rglob("*") if p.is_file()]


def test_register_many_writes_nothing_when_a_card_names_a_missing_file(tmp_path: Path) -> None:
    missing = _model(tmp_path, "missing")
    (missing / "model.onnx").unlink()
    paths = [write_card(tmp_path / "d1", dataset_card()), _model(tmp_path, "m1"), missing, _model(tmp_path, "m2")]
    store, home = open_store("oxigraph:"), tmp_path / "home"
    with pytest.raises(ArtifactError, match="model.onnx") as info:
        _many(store, paths, home, workers=0)
    assert str(missing) in str(info.value)
    assert store.count() == 0 and not home.exists()


@pytest.mark.parametrize(("workers", "models"), [
    (0, ["m1", "m2", "orphan", "m3", "m4"]),  # the orphan starts a chunk: the chunk before is still unwritten
    (0, ["m1", "orphan", "m2", "m3"]),  # the orphan in the middle of a chunk
    (0, ["orphan", "m1"]),  # the first model
    (2, ["m1", "m2", "orphan", "m3", "m4"]),
])
def test_register_many_stops_at_a_refused_card_with_every_card_before_it_written(
        tmp_path: Path, workers: int, models: list[str]) -> None:
    cards = {name: _orphan(tmp_path) if name == "orphan" else _model(tmp_path, name) for name in models}
    data = write_card(tmp_path / "d1", dataset_card())
    store = open_store("oxigraph:")
    seen = []
    with pytest.raises(RegistrationError, match="not registered") as info:
        _many(store, [*cards.values(), data], tmp_path / "home", workers=workers, chunk=2, progress=seen.append)
    assert str(cards["orphan"]) in str(info.value) and "10.5072/not.registered" in str(info.value)
    before = models[:models.index("orphan")]
    after = models[models.index("orphan"):]
    assert [r.doi for r in seen] == ["10.5072/test.data", *(f"10.5072/test.{name}" for name in before)]
    for registration in seen:
        assert len(store.get_graph(registration.iri)) > 0
    for name in after:
        assert len(store.get_graph(f"{BASE}/id/{uuid_for(f'10.5072/test.{name}')}")) == 0
    models_in_store = {row["r"] for row in _rows(store, "SELECT ?r WHERE { GRAPH ?g { ?r a mls:Model } }")}
    assert models_in_store == {r.iri for r in seen if r.kind == "model"}


def _rows(store, query: str) -> list[dict[str, str]]:
    from fairkg.kg.namespaces import SPARQL_PREFIXES

    return [{k: str(v) for k, v in row.items()} for row in store.query(SPARQL_PREFIXES + query).bindings()]


def _training(**changes) -> dict:
    training = dict(model_card()["training"])
    training.update(changes)
    return training


def _settings(store) -> dict[str, set[str]]:
    """Each hyperparameter setting's IRI, with the names it carries."""
    found: dict[str, set[str]] = {}
    query = "SELECT ?s ?name WHERE { GRAPH ?g { ?s a mls:HyperParameterSetting ; schema:name ?name } }"
    for row in _rows(store, query):
        found.setdefault(row["s"], set()).add(row["name"])
    return found


def test_hyperparameter_names_iris_forbid_make_valid_distinct_iris(registry) -> None:
    store, home, tmp = registry
    hyperparameters = {"learning rate": 0.1, "a#b": 2, "lr": 0.2, '50% "dropout"': True, "é|^`{x}": "x", "%41": 1}
    done = _register(store, home, _model(tmp, "hp", training=_training(hyperparameters=hyperparameters)))
    settings = _settings(store)
    assert sorted(name for names in settings.values() for name in names) == sorted(hyperparameters)
    assert all(len(names) == 1 for names in settings.values())  # one name a setting: names map to distinct IRIs
    for iri in settings:
        ox.NamedNode(iri)
        assert iri.startswith(f"{done.iri.rsplit('/', 1)[0]}/") and "#hp-" in iri
    by_name = {next(iter(names)): iri for iri, names in settings.items()}
    assert by_name["lr"].endswith("#hp-lr") and by_name["learning rate"].endswith("#hp-learning%20rate")
    graph = store.get_graph(done.iri)
    values = {str(graph.value(URIRef(by_name[name]), MLS.hasValue)) for name in ("learning rate", "a#b")}
    assert values == {"0.1", "2"}
    parameters = _rows(store, "SELECT ?p ?name WHERE { GRAPH ?g { ?p a mls:HyperParameter ; schema:name ?name } }")
    assert sorted(row["name"] for row in parameters) == sorted(hyperparameters)
    assert len({row["p"] for row in parameters}) == len(hyperparameters)


def test_a_hyperparameter_with_brackets_registers(registry) -> None:
    store, home, tmp = registry
    _register(store, home, _model(tmp, "hp", training=_training(hyperparameters={"betas[0]": 0.9})))
    assert set().union(*_settings(store).values()) == {"betas[0]"}


def test_hyperparameters_whose_names_look_encoded_stay_apart(registry) -> None:
    store, home, tmp = registry
    _register(store, home, _model(tmp, "hp", training=_training(hyperparameters={"a b": 1, "a%20b": 2})))
    assert sorted(map(sorted, _settings(store).values())) == [["a b"], ["a%20b"]]


def test_a_training_repository_that_is_no_iri_is_refused(registry) -> None:
    store, home, tmp = registry
    before = store.dump()
    code = {"name": "tests.train", "version": "0.1.0", "repository": "not a url"}
    with pytest.raises(CardError, match="not an absolute IRI") as info:
        _register(store, home, _model(tmp, "repo", training=_training(code=code)))
    assert info.value.field == "training.code.repository" and "'not a url'" in str(info.value)
    assert store.dump() == before


def test_a_related_identifier_that_is_no_iri_is_refused(registry) -> None:
    store, home, tmp = registry
    before = store.dump()
    with pytest.raises(CardError, match=r"related\.0\.identifier"):
        _register(store, home, _model(tmp, "rel", related=[{"relation": "References",
                                                             "identifier": "https://example.org/a paper"}]))
    assert store.dump() == before


def test_register_many_writes_nothing_when_a_repository_is_no_iri(tmp_path: Path) -> None:
    code = {"name": "tests.train", "version": "0.1.0", "repository": "not a url"}
    bad = _model(tmp_path, "bad", training=_training(code=code))
    paths = [write_card(tmp_path / "d1", dataset_card()), _model(tmp_path, "m1"), bad]
    store, home = open_store("oxigraph:"), tmp_path / "home"
    with pytest.raises(CardError, match="training.code.repository") as info:
        _many(store, paths, home, workers=0)
    assert str(bad) in str(info.value)
    assert store.count() == 0
    assert not home.exists() or not [p for p in home.rglob("*") if p.is_file()]


@pytest.mark.parametrize("identifier", ["https://example.org/100%/x", "https://github.com/a/b#x#y"])
def test_a_related_identifier_the_store_refuses_is_a_card_error_and_writes_nothing(registry, identifier) -> None:
    store, home, tmp = registry
    before = store.dump()
    related = [{"relation": "References", "identifier": identifier}]
    try:
        _register(store, home, _model(tmp, "rel", related=related))
        error = None
    except (CardError, StoreError) as exc:
        error = exc
    assert store.dump() == before
    assert isinstance(error, CardError) and "related.0.identifier" in str(error)


# -- store_artifact with a known SHA-256 ----------------------------------------------------------------------------


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_store_artifact_refuses_a_copy_that_does_not_match_the_known_digest(tmp_path: Path) -> None:
    source, home = tmp_path / "model.onnx", tmp_path / "home"
    source.write_bytes(b"the bytes registered")
    wrong = "f" * 64
    assert sha256_file(source) != wrong
    with pytest.raises(ArtifactError, match="changed while it was being registered"):
        store_artifact(home, source, wrong)
    assert _files(home) == []  # neither the target nor a .part file
    assert not list(home.rglob("*.part"))


def test_store_artifact_with_the_known_digest_stores_the_file(tmp_path: Path) -> None:
    source, home = tmp_path / "model.onnx", tmp_path / "home"
    source.write_bytes(b"the bytes registered")
    digest = sha256_file(source)
    stored = store_artifact(home, source, digest)
    assert stored.sha256 == digest and stored.byte_size == len(b"the bytes registered")
    assert stored.location == f"artifacts/sha256/{digest[:2]}/{digest}"
    assert (home / stored.location).read_bytes() == b"the bytes registered"
    assert _files(home) == [home / stored.location]
    assert store_artifact(home, source) == stored  # without the digest: hashed here, same record


def test_store_artifact_does_not_read_a_file_already_stored(tmp_path: Path) -> None:
    source, home = tmp_path / "model.onnx", tmp_path / "home"
    source.write_bytes(b"the bytes registered")
    digest = sha256_file(source)
    stored = store_artifact(home, source, digest)
    source.write_bytes(b"other bytes, longer than the first ones")  # read, it would not match the digest
    assert store_artifact(home, source, digest) == stored
    assert (home / stored.location).read_bytes() == b"the bytes registered"
    assert _files(home) == [home / stored.location]
    with pytest.raises(ArtifactError, match="not found"):
        store_artifact(home, tmp_path / "gone.onnx", digest)


def test_store_artifacts_stores_a_batch_and_puts_each_failure_in_its_place(tmp_path: Path) -> None:
    from fairkg.kg.artifacts import store_artifacts

    home = tmp_path / "home"
    files = {name: tmp_path / name for name in ("a", "b", "c", "same-as-a")}
    for name, path in files.items():
        path.write_bytes(b"content of a" if name == "same-as-a" else f"content of {name}".encode())
    digests = {name: sha256_file(path) for name, path in files.items()}
    stored_before = store_artifact(home, files["c"], digests["c"])
    files["b"].write_bytes(b"changed after it was hashed")
    results = store_artifacts(home, [(files["a"], digests["a"]), (files["b"], digests["b"]),
                                     (files["c"], digests["c"]), (files["same-as-a"], digests["same-as-a"])])
    assert [type(r).__name__ for r in results] == ["StoredArtifact", "ArtifactError", "StoredArtifact",
                                                    "StoredArtifact"]
    assert results[2] == stored_before and results[3] == results[0]
    assert (home / results[0].location).read_bytes() == b"content of a"  # type: ignore[union-attr]
    assert "changed while it was being registered" in str(results[1])
    left = sorted(p.name for p in home.rglob("*") if p.is_file())
    assert left == sorted({digests["a"], digests["c"]})  # no temporary file, nothing for b

"""fairkg.kg.shacl and fairkg.kg.fair_batch: the tuned and the batched validations give the reports plain pySHACL
gives, record by record, and the verdicts fairkg.kg.fair.assess gives one by one."""

from __future__ import annotations

import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph
from rdflib.compare import to_isomorphic

from fairkg.kg.fair import (
    assess,
    assessment_from_graph,
    default_validator,
    record_store,
    shapes_graph,
    validation_shapes,
)
from fairkg.kg.fair_batch import assess_many
from fairkg.kg.shacl import ShapesValidator, validate_plain

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for `bench`

BASE_IRI = "http://localhost:8000"
N_MODELS = 24


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, list[str]]:
    """A synthetic registry (bench.generate's cards: some models lack a licence, a training run or a reference
    example; models share datasets, people, licences, and evaluate on datasets others train on)."""
    from bench.assess import synthetic_registry

    store, models, _seconds = synthetic_registry(N_MODELS, cache_dir=tmp_path_factory.mktemp("cache"))
    return store, models


def _same(a: Graph, b: Graph) -> bool:
    return to_isomorphic(a) == to_isomorphic(b)


def test_tuned_validation_reports_what_plain_pyshacl_reports(registry: tuple[object, list[str]]) -> None:
    store, models = registry
    shapes = validation_shapes(shapes_graph())
    validator = ShapesValidator(shapes)
    failing = 0
    for model in models[:8]:
        record = record_store(store, model)  # type: ignore[arg-type]
        conforms, report = validator.validate(record)
        plain_conforms, plain_report = validate_plain(record, shapes)
        assert conforms == plain_conforms
        assert _same(report, plain_report), model
        failing += not conforms
    assert failing  # the comparison covered reports with violations in them


def test_records_validated_together_get_the_reports_they_get_alone(registry: tuple[object, list[str]]) -> None:
    store, models = registry
    validator = default_validator()
    records = {m: record_store(store, m) for m in models}  # type: ignore[arg-type]
    together = validator.validate_many(records)
    for model, record in records.items():
        conforms, report = validator.validate(record)
        assert together[model][0] == conforms
        assert _same(together[model][1], report), model


SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <http://example.org/> .
ex:ModelShape a sh:NodeShape ; sh:targetClass ex:Model ;
  sh:property [ sh:path ( ex:data ex:name ) ; sh:minCount 1 ] .
ex:DataShape a sh:NodeShape ; sh:targetObjectsOf ex:trainedOn ; sh:property [ sh:path ex:licence ; sh:minCount 1 ] .
"""


def _record(turtle: str) -> ox.Store:
    store = ox.Store()
    store.load(("@prefix ex: <http://example.org/> .\n" + turtle).encode(), format=ox.RdfFormat.TURTLE)
    return store


def test_a_record_that_would_see_another_records_triples_is_validated_alone() -> None:
    validator = ShapesValidator(Graph().parse(data=SHAPES, format="turtle"))
    records = {
        "a": _record("ex:m1 a ex:Model ; ex:data ex:d ."),  # ex:d has no name in a's record: a fails
        "b": _record("ex:m2 a ex:Model ; ex:data ex:d . ex:d ex:name 'd' ."),  # passes
        "c": _record("ex:m3 a ex:Model ; ex:data ex:e . ex:e ex:name 'e' . ex:m3 ex:evaluatedOn ex:f ."),
        "d": _record("ex:m4 a ex:Model ; ex:data ex:g . ex:g ex:name 'g' . ex:m4 ex:trainedOn ex:f ."),
    }
    together = validator.validate_many(records)
    alone = {key: validator.validate(record) for key, record in records.items()}
    assert [together[k][0] for k in "abcd"] == [alone[k][0] for k in "abcd"] == [False, True, True, False]
    for key in records:
        assert _same(together[key][1], alone[key][1]), key


@pytest.mark.parametrize("workers", [0, 2])
def test_assess_many_gives_the_verdicts_of_assess(registry: tuple[object, list[str]], workers: int) -> None:
    store, models = registry
    chosen = models[:12]
    batched = list(assess_many(store, chosen, base_iri=BASE_IRI, workers=workers, chunk=5))  # type: ignore
    assert [a.model for a in batched] == chosen
    for assessment in batched:
        stored = assessment_from_graph(store, assessment.model)  # type: ignore[arg-type]
        assert stored is not None and stored.to_json() == assessment.to_json()
        alone = assess(store, assessment.model, base_iri=BASE_IRI)  # type: ignore[arg-type]
        assert alone.to_json() == assessment.to_json()
        assert _same(alone.report, assessment.report)
    assert {a.passed for a in batched} != {15}  # some fail: the comparison is not only of clean passes

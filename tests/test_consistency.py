"""runners.consistency: the reference example through every runtime here, compared with the reference output and
with each other, recorded as evidence; a model whose weights no longer compute the published function is flagged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _demo import BASE_IRI, MODELS, Demo, copy_card, demo_registry

from fairkg.kg.consistency import consistency_summary
from fairkg.kg.distributions import inference_record
from fairkg.kg.namespaces import SPARQL_PREFIXES
from fairkg.kg.register import register
from fairkg.runners import ChecksumError, RunnerError, check_model
from fairkg.runners import architectures as architecture_table

FLAGGED = SPARQL_PREFIXES + """
SELECT ?model WHERE { ?check a fkg:ConsistencyCheck ; prov:used ?model ; fkg:withinTolerance false .
                      ?model a mls:Model }"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return demo_registry(tmp_path_factory.mktemp("consistency-home"))


def _check(demo: Demo, name: str):  # noqa: ANN202 - a ConsistencyReport
    return check_model(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model(name))


@pytest.mark.parametrize("name", MODELS)
def test_every_runtime_reproduces_the_examples(demo: Demo, name: str) -> None:
    report = _check(demo, name)
    assert report.within_tolerance
    assert {run.label for run in report.runs} >= {"onnxruntime/onnx/cpu", "torch/safetensors/cpu",
                                                  "torch/torch-export/cpu"}
    for run in report.runs:
        assert run.error is None and run.max_abs is not None and run.max_abs <= report.tolerance
        assert run.l2 is not None and run.l2 >= run.max_abs
        assert run.runtime_version and run.runtime_version.startswith(run.runtime)
    assert len(report.pairs) == len(report.runs) * (len(report.runs) - 1) // 2
    safetensors_vs_program = next(p for p in report.pairs if {p.first, p.second} == {"torch/safetensors/cpu",
                                                                                     "torch/torch-export/cpu"})
    assert safetensors_vs_program.max_abs == 0.0  # the same arithmetic in the same library
    assert demo.model(name) not in {str(r["model"]) for r in demo.store.query(FLAGGED).bindings()}


def test_the_evidence_is_in_the_graph(demo: Demo) -> None:
    report = _check(demo, "braggnn")
    again = _check(demo, "braggnn")
    assert again.evidence_iri == report.evidence_iri
    graph = demo.store.get_graph(report.evidence_iri)
    rows = list(demo.store.query(SPARQL_PREFIXES + f"""
        SELECT ?part ?runtime ?device ?max ?l2 ?ok ?machine WHERE {{
          <{demo.model("braggnn")}> fkg:consistencyCheck ?check .
          ?check a prov:Activity ; prov:used <{demo.model("braggnn")}> ; fkg:withinTolerance true ;
                 fkg:executedOn ?machine ; prov:endedAtTime ?end ; dcterms:hasPart ?part .
          ?part a fkg:ConsistencyCheck ; fkg:runtime ?runtime ; fkg:device ?device ; fkg:maxAbsDeviation ?max ;
                fkg:l2Deviation ?l2 ; fkg:withinTolerance ?ok .
          ?machine a fkg:ComputeNode ; fkg:supportsRuntime ?supported .
        }}""").bindings())
    assert {(str(r["runtime"]), str(r["device"])) for r in rows} >= {("onnxruntime", "cpu"), ("torch", "cpu")}
    assert all(r["ok"].toPython() is True for r in rows)  # type: ignore[union-attr]
    pairs = list(demo.store.query(SPARQL_PREFIXES + f"""
        SELECT ?pair WHERE {{ <{report.evidence_iri}> fkg:pairwiseDeviation ?pair .
                              ?pair fkg:comparedRun ?a , ?b ; fkg:maxAbsDeviation ?max . FILTER(?a != ?b) }}
        """).bindings())
    assert len({str(p["pair"]) for p in pairs}) == len(report.pairs)
    assert len(graph) == len(demo.store.get_graph(again.evidence_iri))  # replaced, not added to
    summary = consistency_summary(demo.store, demo.model("braggnn"))  # what the model page shows
    assert summary is not None and summary.within_tolerance and len(summary.pairs) == len(report.pairs)
    assert {label for label, *_ in summary.runs} >= {"onnxruntime/onnx/cpu", "torch/torch-export/cpu"}
    assert all(ok and max_abs is not None for _, max_abs, _, ok, _ in summary.runs)


def test_weights_in_a_changed_architecture_are_flagged(demo: Demo, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The same safetensors weights loaded into a network with tanh instead of ReLU: every key fits, nothing
    fails, and the outputs are wrong. The check must flag it."""
    table = {**architecture_table.registered_architectures(), "test.digits-cnn-tanh": "_demo:TanhDigitsCNN"}
    monkeypatch.setattr(architecture_table, "registered_architectures", lambda: table)
    folder = copy_card("digits-cnn", tmp_path / "card")
    card = yaml.safe_load((folder / "card.yaml").read_text(encoding="utf-8"))
    card["doi"] = "10.5072/fairkg.digits-cnn-tanh"
    card["title"] = "Digits CNN, reloaded into a tanh network"
    for dist in card["distributions"]:
        if dist["format"] == "safetensors":
            dist["architecture"] = "test.digits-cnn-tanh"
    (folder / "card.yaml").write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    model = register(demo.store, folder, home=demo.home, base_iri=BASE_IRI).iri

    report = check_model(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=model)
    runs = {run.label: run for run in report.runs}
    changed = runs["torch/safetensors/cpu"]
    assert changed.error is None  # no missing or unexpected keys: it loaded and ran
    assert changed.max_abs is not None and changed.max_abs > 100 * report.tolerance
    assert not changed.within_tolerance
    assert runs["onnxruntime/onnx/cpu"].within_tolerance and runs["torch/torch-export/cpu"].within_tolerance
    assert not report.within_tolerance
    assert model in {str(r["model"]) for r in demo.store.query(FLAGGED).bindings()}
    summary = consistency_summary(demo.store, model)
    assert summary is not None and not summary.within_tolerance
    page = _model_page(demo, model)
    assert "Flagged:" in page and "torch/safetensors/cpu" in page
    assert demo.store.query(SPARQL_PREFIXES + f"""ASK {{
        <{report.evidence_iri}> dcterms:hasPart ?part .
        ?part fkg:runtime "torch" ; prov:used ?dist ; fkg:withinTolerance false .
        ?dist a fkg:SafetensorsWeights }}""").boolean


def _model_page(demo: Demo, model: str) -> str:
    """The model's landing page as the service renders it (in-process)."""
    import httpx

    from fairkg.api.app import create_app
    from fairkg.kg.identifiers import key_of
    from fairkg.kg.settings import Settings

    app = create_app(Settings(home=demo.home, base_iri=demo.base_iri), store=demo.store)
    import asyncio

    async def fetch() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.get(f"/id/{key_of(model)}", headers={"Accept": "text/html"})
            assert answer.status_code == 200
            return answer.text

    return asyncio.run(fetch())


def test_a_model_without_a_reference_cannot_be_checked(demo: Demo) -> None:
    with pytest.raises(RunnerError, match="no reference example"):
        _check(demo, "incomplete-linear")


def test_a_tampered_reference_is_refused(tmp_path: Path) -> None:
    own = demo_registry(tmp_path / "home", only=("digits-data", "digits-cnn"))
    reference = inference_record(own.store, own.model("digits-cnn")).reference
    assert reference is not None
    path = own.home / reference.location
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ChecksumError, match="reference example"):
        _check(own, "digits-cnn")

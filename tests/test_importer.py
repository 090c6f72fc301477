"""runners.importer and the CLI: a published model nobody here made (FAIR4HEP's H->bb interaction network), drafted
into a card from its CITATION.cff and ONNX graph, registered without training data, run with onnxruntime, and its
2022 A100 TensorRT plan refused; state dicts converted only through torch's restricted unpickler."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
import yaml
from _demo import BASE_IRI, PEER_MODEL, demo_registry
from safetensors.torch import load_file
from typer.testing import CliRunner

from fairkg.api.cli_runners import check_cmd, import_cmd
from fairkg.examples.architectures import InteractionNetwork
from fairkg.kg.cards import ModelCard, parse_card
from fairkg.kg.distributions import inference_record
from fairkg.kg.errors import CardError
from fairkg.kg.register import register
from fairkg.kg.store import open_store
from fairkg.runners import ForeignPlanError, UnsafeArtifactError, load_model, select
from fairkg.runners.importer import convert_state_dict_to_safetensors, draft, draft_card, write_draft
from fairkg.runners.plans import Gpu, Machine, check_plan

pytestmark = pytest.mark.skipif(not PEER_MODEL.is_dir(), reason=f"the published peer model is not at {PEER_MODEL}")

#: what CITATION.cff does not say and a DataCite record requires, filled in as a user would
COMPLETION = {"publisher": "Zenodo", "publication_year": 2022}


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path, str]:
    """The drafted card, completed, written with its files and registered in a fresh store: (store, home, iri)."""
    result = draft(PEER_MODEL)
    result.card.update(COMPLETION)
    folder = tmp_path_factory.mktemp("hbb-card")
    write_draft(result, folder)
    home = tmp_path_factory.mktemp("hbb-home")
    store = open_store("oxigraph:")
    return store, home, register(store, folder, home=home, base_iri=BASE_IRI).iri


def test_the_card_is_drafted_from_citation_cff_and_the_onnx_graph() -> None:
    card = draft_card(PEER_MODEL)
    assert card["title"] == "Hbb Interaction Network"
    assert card["doi"] == "10.5281/zenodo.7305173"
    assert card["license"] == "MIT"
    assert card["creators"][0] == {"name": "Javier Mauricio Duarte", "orcid": "https://orcid.org/0000-0002-5076-7096",
                                   "affiliation": "University of California San Diego"}
    assert len(card["creators"]) == 4 and all("orcid" in c for c in card["creators"])
    assert [(t["name"], t["dtype"], t["shape"]) for t in card["inputs"]] == [
        ("input_cpf", "float32", ["batch_size", 30, 60]), ("input_sv", "float32", ["batch_size", 14, 5])]
    output = card["outputs"][0]
    assert (output["name"], output["shape"], output["semantics"]) == ("output1", ["batch_size", 2], "probabilities")
    assert "softmax" in output["description"]
    formats = {d["path"]: d for d in card["distributions"]}
    assert formats["5_10_gnn_128.onnx"]["format"] == "onnx"
    assert formats["5_10_gnn_128.onnx"]["runtime_version"].startswith("onnx opset 11")
    plan = formats["5_10_gnn.plan"]
    assert plan["format"] == "tensorrt" and plan["built_for"].startswith("NVIDIA A100")
    assert plan["runtime_version"].startswith("TensorRT 8")
    assert not any(path.endswith(".pth") for path in formats)  # pickled state dicts are never distributions
    assert {"relation": "IsDerivedFrom", "identifier": "10.7483/OPENDATA.CMS.JGJX.MS7Q"} in card["related"]


def test_what_the_published_files_lack_is_listed() -> None:
    result = draft(PEER_MODEL)
    assert {m.field for m in result.required_missing} == {"publisher", "publication_year"}
    recommended = {m.field for m in result.missing if not m.required}
    assert {"version", "keywords", "reference", "trained_on"} <= recommended
    notes = " ".join(result.notes)
    assert "random_gnn_new_best.pth" in notes and "its tensors are exactly 5_10_gnn_128.onnx's weights" in notes
    assert "gnn_baseline_best.pth" in notes and "its weights differ from 5_10_gnn_128.onnx's" in notes
    assert "outputs logits" in notes and "fairkg.interaction-network" in notes


def test_the_draft_validates_once_completed() -> None:
    card = draft_card(PEER_MODEL)
    with pytest.raises(CardError, match="publisher|publication_year"):
        parse_card(card)
    parsed = parse_card({**card, **COMPLETION})
    assert isinstance(parsed, ModelCard)
    assert parsed.training_datasets == []  # no FAIR training data here: the card names none


def test_the_registered_model_runs_on_onnxruntime(registered: tuple[object, Path, str]) -> None:
    store, home, iri = registered
    selection = select(store, home=home, base_iri=BASE_IRI, model_iri=iri)  # type: ignore[arg-type]
    assert (selection.runtime, selection.device, selection.distribution.format) == ("onnxruntime", "cpu", "onnx")
    model = load_model(store, home=home, base_iri=BASE_IRI, model_iri=iri, runtime="onnxruntime")  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    try:
        outputs = model.predict({"input_cpf": rng.normal(size=(16, 30, 60)).astype(np.float32),
                                 "input_sv": rng.normal(size=(16, 14, 5)).astype(np.float32)})
    finally:
        model.release()
    probabilities = outputs["output1"]
    assert probabilities.shape == (16, 2)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_its_2022_a100_plan_is_refused_with_a_clear_message(registered: tuple[object, Path, str]) -> None:
    store, home, iri = registered
    if torch.cuda.is_available():
        pytest.skip("the refusal below describes a machine without a GPU")
    with pytest.raises(ForeignPlanError) as caught:
        select(store, home=home, base_iri=BASE_IRI, model_iri=iri, runtime="tensorrt")  # type: ignore[arg-type]
    message = str(caught.value)
    assert "5_10_gnn.plan is a TensorRT plan built for NVIDIA A100 (compute capability 8.0) with TensorRT 8.x " \
           "(built 2022" in message
    assert "this machine has no CUDA GPU" in message
    assert "rebuild it from the model's ONNX distribution" in message
    assert caught.value.available[0] == {"runtime": "onnxruntime", "device": "cpu", "format": "onnx"}
    plan = next(d for d in inference_record(store, iri).distributions if d.format == "tensorrt")  # type: ignore[arg-type]
    h100 = Machine(gpus=(Gpu("NVIDIA H100 80GB HBM3", "9.0"),), tensorrt_version="10.3.0")
    with pytest.raises(ForeignPlanError, match="it needs TensorRT 8.*cuda:0 is a NVIDIA H100.*compute capability 9.0"):
        check_plan(PEER_MODEL / "5_10_gnn.plan", plan, h100, device="cuda:0")


def test_a_state_dict_converts_through_the_restricted_unpickler(tmp_path: Path) -> None:
    out = convert_state_dict_to_safetensors(PEER_MODEL / "random_gnn_new_best.pth", tmp_path / "weights.safetensors",
                                            metadata={"architecture": "fairkg.interaction-network"})
    network = InteractionNetwork()
    network.load_state_dict(load_file(out), strict=True)
    network.eval()
    import onnxruntime as ort

    rng = np.random.default_rng(1)
    tracks = rng.normal(size=(4, 30, 60)).astype(np.float32)
    vertices = rng.normal(size=(4, 14, 5)).astype(np.float32)
    session = ort.InferenceSession(str(PEER_MODEL / "5_10_gnn_128.onnx"), providers=["CPUExecutionProvider"])
    probabilities = session.run(None, {"input_cpf": tracks, "input_sv": vertices})[0]
    with torch.no_grad():
        logits = network(torch.from_numpy(tracks), torch.from_numpy(vertices))
    np.testing.assert_allclose(torch.softmax(logits, dim=1).numpy(), probabilities, atol=1e-5)


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('the payload ran')",))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_a_malicious_pickle_is_refused_and_never_executed(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "weights.pth"
    if writer == "torch.save":
        torch.save({"fc.weight": torch.zeros(2), "evil": _Payload(marker)}, path)
    else:
        buffer = io.BytesIO()
        pickle.dump(_Payload(marker), buffer, protocol=2)
        path.write_bytes(buffer.getvalue())
    with pytest.raises(UnsafeArtifactError, match="weights_only=True"):
        convert_state_dict_to_safetensors(path, tmp_path / "out.safetensors")
    assert not marker.exists()
    assert not (tmp_path / "out.safetensors").exists()


# -- the CLI ---------------------------------------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("import")(import_cmd)
    app.command("check")(check_cmd)
    return app


def test_fairkg_import_writes_the_card_and_files_and_lists_what_is_missing(tmp_path: Path) -> None:
    out = tmp_path / "card"
    result = CliRunner().invoke(_app(), ["import", str(PEER_MODEL), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "publication_year" in result.output and "required" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["5_10_gnn.plan", "5_10_gnn_128.onnx", "card.yaml"]
    text = (out / "card.yaml").read_text(encoding="utf-8")
    assert "# TODO publisher (required)" in text
    card = yaml.safe_load(text)
    parse_card({**card, **COMPLETION})


def test_fairkg_check_prints_the_table_and_records_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    demo = demo_registry(home, only=("braggnn-data", "braggnn"))
    store_path = tmp_path / "graph"
    disk = open_store(f"oxigraph:{store_path}")
    disk.restore(demo.store.dump())
    disk.close()
    monkeypatch.setenv("FAIRKG_HOME", str(home))
    monkeypatch.setenv("FAIRKG_STORE", f"oxigraph:{store_path}")
    monkeypatch.setenv("FAIRKG_BASE_IRI", BASE_IRI)
    result = CliRunner().invoke(_app(), ["check", "10.5072/fairkg.braggnn", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["within_tolerance"] is True
    assert {(r["runtime"], r["format"]) for r in data["runs"]} >= {("onnxruntime", "onnx"), ("torch", "safetensors")}
    table = CliRunner().invoke(_app(), ["check", "10.5072/fairkg.braggnn"])
    assert table.exit_code == 0 and "reproduces its reference output" in table.output
    missing = CliRunner().invoke(_app(), ["check", "10.5072/no-such-model"])
    assert missing.exit_code == 1 and "error:" in missing.output

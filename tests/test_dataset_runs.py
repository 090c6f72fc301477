"""Dataset runs: a model over a registered dataset's split, results as an HDMF-AI ResultsTable in HDF5, the run
recorded in the graph (fkg:InferenceRun, never mls:Run) with hardware, software, timing and metrics; over HTTP and
from the command line."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import h5py
import httpx
import numpy as np
import pytest
import typer
from _demo import Demo, built_examples, demo_registry
from rdflib import URIRef
from typer.testing import CliRunner

from fairkg.api.app import create_app
from fairkg.api.cli_infer import run_cmd
from fairkg.kg.errors import ArtifactError
from fairkg.kg.inference_runs import dataset_files, run_summary
from fairkg.kg.namespaces import SPDX
from fairkg.kg.register import register
from fairkg.kg.settings import Settings
from fairkg.kg.store import open_store
from fairkg.runners.dataset_run import DatasetRunError, map_inputs, run_on_dataset
from fairkg.runners.errors import ChecksumError

pytestmark = pytest.mark.slow
EXAMPLES = ("digits-data", "digits-cnn", "braggnn-data", "braggnn")
PREFIXES = """PREFIX fkg: <https://w3id.org/fairkg/ontology#> PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX mls: <http://www.w3.org/ns/mls#> PREFIX schema: <http://schema.org/> PREFIX spdx: <http://spdx.org/rdf/terms#>
PREFIX dcat: <http://www.w3.org/ns/dcat#> PREFIX fair4ml: <https://w3id.org/fair4ml#>
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return demo_registry(tmp_path_factory.mktemp("runs-home"), only=EXAMPLES)


def _card_metric(demo: Demo, model: str, metric: str) -> float:
    rows = list(demo.store.query(PREFIXES + f"""SELECT ?v WHERE {{ ?e a mls:ModelEvaluation ;
        prov:wasDerivedFrom <{demo.model(model)}> ; schema:name "{metric}" ; mls:hasValue ?v }}""").bindings())
    return float(str(rows[0]["v"]))


def _run(demo: Demo, model: str, data: str, **options: object):  # noqa: ANN202 - a DatasetRunResult
    return run_on_dataset(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model(model),
                          dataset_iri=demo.model(data), **options)  # type: ignore[arg-type]


def test_a_digits_run_writes_an_hdmf_results_table_and_records_the_run(demo: Demo) -> None:
    seen: list[tuple[int, int]] = []
    result = _run(demo, "digits-cnn", "digits-data", batch_size=50, progress=lambda done, total: seen.append(
        (done, total)))
    assert result.sample_count == 360 and seen[-1] == (360, 360) and len(seen) == 8
    assert result.inputs == {"image": "images"} and result.labels == "labels"
    assert abs(result.metrics["accuracy"] - _card_metric(demo, "digits-cnn", "accuracy")) < 1e-6

    from hdmf.common import get_hdf5io

    with get_hdf5io(str(result.results_path), "r") as io:
        table = io.read()
        assert type(table).__name__ == "ResultsTable"
        assert set(table.colnames) >= {"true_label", "predicted_probability", "predicted_class", "logits"}
        predicted = table["predicted_class"].data[:]
        np.testing.assert_array_equal(predicted, np.argmax(table["logits"].data[:], axis=1))
        assert np.mean(predicted == table["true_label"].data[:]) == pytest.approx(result.metrics["accuracy"])
        np.testing.assert_allclose(table["predicted_probability"].data[:].sum(axis=1), 1.0, rtol=1e-9)
    with h5py.File(result.results_path, "r") as handle:
        assert handle.attrs["fairkg_run"] == result.iri
        assert handle.attrs["fairkg_model"] == demo.model("digits-cnn")
        assert handle.attrs["fairkg_dataset"] == demo.model("digits-data")
        assert json.loads(handle.attrs["parameters"][0])["split"] == "test"

    rows = list(demo.store.query(PREFIXES + f"""
        SELECT ?cpu ?cores ?value ?count ?throughput ?sha ?location ?python ?torch ?dist WHERE {{
          <{result.iri}> a fkg:InferenceRun , prov:Activity ; prov:used <{demo.model("digits-cnn")}> ,
            <{demo.model("digits-data")}> , ?dist ; fkg:runtime "onnxruntime" ; fkg:device "cpu" ; fkg:split "test" ;
            fkg:sampleCount ?count ; fkg:throughput ?throughput ; prov:startedAtTime ?start ; prov:endedAtTime ?end ;
            fkg:executedOn ?machine ; fkg:softwareEnvironment ?env ; prov:generated ?results , ?metric .
          ?dist a fkg:OnnxModel .
          ?machine fkg:cpuModel ?cpu ; fkg:cpuCores ?cores .
          ?env fkg:pythonVersion ?python ; fkg:package ?pkg .
          ?pkg schema:name "onnxruntime" ; schema:softwareVersion ?torch .
          ?results a fkg:ResultsFile ; fkg:location ?location ; spdx:checksum/spdx:checksumValue ?sha ;
            dcat:downloadURL ?url .
          ?metric a schema:PropertyValue ; schema:name "accuracy" ; schema:value ?value ;
            fair4ml:evaluationDataset <{demo.model("digits-data")}> .
        }}""").bindings())
    assert len(rows) == 1, rows
    row = rows[0]
    assert str(row["cpu"]) and int(str(row["cores"])) >= 1 and int(str(row["count"])) == 360
    assert float(str(row["throughput"])) > 0
    assert abs(float(str(row["value"])) - _card_metric(demo, "digits-cnn", "accuracy")) < 1e-6
    assert not str(row["location"]).startswith("/")
    assert hashlib.sha256(result.results_path.read_bytes()).hexdigest() == str(row["sha"])
    assert not demo.store.query(f"ASK {{ <{result.iri}> a <http://www.w3.org/ns/mls#Run> }}").boolean
    assert demo.store.get_graph(result.iri), "the run lives in a named graph of its own"
    summary = run_summary(demo.store, result.iri)
    assert summary is not None and summary.metrics == result.metrics and summary.results_url == result.results_url


def test_a_regression_run_stores_predicted_values_and_the_card_s_metric(demo: Demo) -> None:
    result = _run(demo, "braggnn", "braggnn-data", runtime="torch")
    assert result.runtime == "torch" and result.labels == "centres"
    assert result.metrics["mean_euclidean_distance_px"] == pytest.approx(
        _card_metric(demo, "braggnn", "mean_euclidean_distance_px"), abs=1e-5)
    from hdmf.common import get_hdf5io

    with get_hdf5io(str(result.results_path), "r") as io:
        table = io.read()
        assert table["predicted_value"].data[:].shape == (result.sample_count, 2)
        assert table["centre"].data[:].dtype == np.float32


def test_inputs_map_by_name_shape_or_the_caller(demo: Demo) -> None:
    from fairkg.kg.distributions import TensorSpecRecord

    spec = TensorSpecRecord("x", "float32", ("batch", 4), 0)
    assert map_inputs((spec,), {"a": (3, 4), "b": (3,)}) == {"x": "a"}
    assert map_inputs((spec,), {"a": (3, 4), "x": (3, 4)}) == {"x": "x"}
    with pytest.raises(DatasetRunError, match="a, b all fit"):
        map_inputs((spec,), {"a": (3, 4), "b": (3, 4)})
    assert map_inputs((spec,), {"a": (3, 4), "b": (3, 4)}, {"x": "b"}) == {"x": "b"}
    with pytest.raises(DatasetRunError, match="none fits"):
        map_inputs((spec,), {"a": (3, 5)})
    with pytest.raises(DatasetRunError, match="no split|holds the split"):
        _run(demo, "digits-cnn", "digits-data", split="nope")
    with pytest.raises(DatasetRunError, match="no input"):
        _run(demo, "digits-cnn", "digits-data", inputs={"pixels": "images"})


def test_a_tampered_data_file_is_refused_and_nothing_recorded(tmp_path: Path) -> None:
    demo = demo_registry(tmp_path, only=("digits-data", "digits-cnn"))
    data_file = dataset_files(demo.store, demo.model("digits-data"))[0]
    path = demo.home / data_file.location
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match="does not match its recorded SHA-256") as info:
        _run(demo, "digits-cnn", "digits-data")
    assert isinstance(info.value, ArtifactError)
    assert not demo.store.query("ASK { ?r a <https://w3id.org/fairkg/ontology#InferenceRun> }").boolean


def test_runs_over_http_with_results_and_a_page(demo: Demo, serve_app: Callable[..., str]) -> None:
    url = serve_app(create_app(Settings(home=demo.home, base_iri=demo.base_iri), store=demo.store))
    key = demo.model("digits-cnn").rsplit("/", 1)[-1]
    answer = httpx.post(f"{url}/models/{key}/runs", json={"dataset": "10.5072/fairkg.digits-data", "batch_size": 128},
                        timeout=120)
    assert answer.status_code == 201, answer.text
    run = answer.json()
    assert run["iri"].startswith(demo.base_iri + "/id/") and answer.headers["location"] == f"/id/{run['key']}"
    assert run["sample_count"] == 360 and "accuracy" in run["metrics"]
    results = httpx.get(url + run["results_path"])
    assert results.status_code == 200, results.text
    summary = run_summary(demo.store, run["iri"])
    assert summary is not None and summary.results is not None
    graph = demo.store.get_graph(run["iri"])
    sha = graph.value(graph.value(URIRef(summary.results), SPDX.checksum), SPDX.checksumValue)
    assert hashlib.sha256(results.content).hexdigest() == str(sha)
    page = httpx.get(f"{url}/id/{run['key']}", headers={"Accept": "text/turtle"})
    assert page.status_code == 200 and "InferenceRun" in page.text
    assert httpx.get(f"{url}/id/{run['key']}", headers={"Accept": "text/html"}).status_code == 200

    bad = httpx.post(f"{url}/models/{key}/runs", json={"dataset": "10.5072/fairkg.digits-data", "split": "nope"})
    assert bad.status_code == 400 and "nope" in bad.json()["detail"]
    unknown = httpx.post(f"{url}/models/{key}/runs", json={"dataset": "10.5072/no-such-dataset"})
    assert unknown.status_code == 404
    cuda = httpx.post(f"{url}/models/{key}/runs", json={"dataset": "10.5072/fairkg.digits-data", "device": "cuda"})
    assert cuda.status_code == 400 and "available here" in cuda.json()["detail"]


def test_the_run_command(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    store = open_store(settings.store_url)
    try:
        for name in ("digits-data", "digits-cnn"):
            register(store, built_examples() / name, home=settings.home, base_iri=settings.base_iri)
    finally:
        store.close()
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.ensure_object(dict)["settings"] = settings

    app.command("run")(run_cmd)
    runner = CliRunner()
    done = runner.invoke(app, ["run", "10.5072/fairkg.digits-cnn", "--dataset", "10.5072/fairkg.digits-data",
                               "--batch-size", "100", "--format", "json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["sample_count"] == 360 and Path(result["results_file"]).is_file()
    table = runner.invoke(app, ["run", "10.5072/fairkg.digits-cnn", "--dataset", "10.5072/fairkg.digits-data",
                                "--split", "validation"])
    assert table.exit_code == 0, table.output
    assert "accuracy" in table.stdout, table.stdout
    failed = runner.invoke(app, ["run", "10.5072/fairkg.digits-cnn", "--dataset", "10.5072/fairkg.digits-data",
                                 "--device", "cuda"])
    assert failed.exit_code == 1 and "available here" in failed.output

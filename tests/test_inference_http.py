"""The Open Inference Protocol over real HTTP: tritonclient against the live service (binary tensors by default, and
JSON), model metadata, errors with the protocol's ``error`` member, restricted models, tampered artifacts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
import yaml
from _demo import Demo, copy_card, demo_registry
from tritonclient.utils import InferenceServerException

from fairkg.api.app import create_app
from fairkg.kg.distributions import inference_record
from fairkg.kg.register import register, withdraw
from fairkg.kg.settings import Settings
from fairkg.kg.tokens import create_token
from fairkg.runners import load_model

pytestmark = pytest.mark.slow
EXAMPLES = ("digits-data", "digits-cnn", "hbb-jets-data", "interaction-network")
RESTRICTED_DOI = "10.5072/test.restricted-digits"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    home = tmp_path_factory.mktemp("inference-home")
    demo = demo_registry(home, only=EXAMPLES)
    folder = copy_card("digits-cnn", tmp_path_factory.mktemp("restricted") / "card")
    card = yaml.safe_load((folder / "card.yaml").read_text())
    card.update(doi=RESTRICTED_DOI, access="restricted", title="Digits CNN (restricted copy)")
    (folder / "card.yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    demo.iris["restricted"] = register(demo.store, folder, home=home, base_iri=demo.base_iri).iri
    return demo


@pytest.fixture(scope="module")
def app(demo: Demo):  # noqa: ANN201 - a FastAPI app, shared by the module's tests (and its loaded models)
    return create_app(Settings(home=demo.home, base_iri=demo.base_iri), store=demo.store)


@pytest.fixture
def url(app, serve_app: Callable[..., str]) -> str:  # noqa: ANN001
    return serve_app(app)


def _key(demo: Demo, name: str) -> str:
    return demo.model(name).rsplit("/", 1)[-1]


def _triton(url: str) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url.removeprefix("http://"), network_timeout=120.0)


def _expected(demo: Demo, name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    model = load_model(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model(name),
                       runtime="onnxruntime", device="cpu")
    try:
        return model.predict(inputs)
    finally:
        model.release()


def _inputs(name: str, batch: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    if name == "digits-cnn":
        return {"image": rng.random((batch, 1, 8, 8), dtype=np.float32)}
    return {"tracks": rng.standard_normal((batch, 30, 60)).astype(np.float32),
            "vertices": rng.standard_normal((batch, 14, 5)).astype(np.float32)}


def _infer(client: triton.InferenceServerClient, key: str, inputs: dict[str, np.ndarray], *, binary: bool,
           output: str = "logits", **kwargs: object) -> triton.InferResult:
    tensors = []
    for name, array in inputs.items():
        tensor = triton.InferInput(name, list(array.shape), triton.np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array, binary_data=binary)
        tensors.append(tensor)
    outputs = None if binary else [triton.InferRequestedOutput(output, binary_data=False)]
    return client.infer(key, tensors, outputs=outputs, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["digits-cnn", "interaction-network"])
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_gets_the_runner_s_numbers(demo: Demo, url: str, name: str, binary: bool) -> None:
    inputs = _inputs(name)
    result = _infer(_triton(url), _key(demo, name), inputs, binary=binary, parameters={"runtime": "onnxruntime"})
    np.testing.assert_allclose(result.as_numpy("logits"), _expected(demo, name, inputs)["logits"], rtol=1e-6,
                               atol=1e-6)
    response = result.get_response()
    assert response["parameters"]["runtime"] == "onnxruntime"
    assert response["parameters"]["device"] == "cpu"
    assert ("binary_data_size" in response["outputs"][0].get("parameters", {})) is binary


def test_model_metadata_health_and_index(demo: Demo, url: str) -> None:
    client = _triton(url)
    assert client.is_server_live() and client.is_server_ready()
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    key = _key(demo, "interaction-network")
    metadata = client.get_model_metadata(key)
    assert metadata["name"] == key
    assert metadata["inputs"] == [{"name": "tracks", "datatype": "FP32", "shape": [-1, 30, 60]},
                                  {"name": "vertices", "datatype": "FP32", "shape": [-1, 14, 5]}]
    assert metadata["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 2]}]
    assert client.is_model_ready(key)
    version = metadata["versions"][0]
    assert client.get_model_metadata(key, model_version=version)["name"] == key
    names = {entry["name"]: entry["state"] for entry in client.get_model_repository_index()}
    assert names[_key(demo, "digits-cnn")] == "READY" and key in names


def test_a_version_path_is_accepted_for_the_model_s_version(demo: Demo, url: str) -> None:
    client, key = _triton(url), _key(demo, "digits-cnn")
    version = client.get_model_metadata(key)["versions"][0]
    result = _infer(client, key, _inputs("digits-cnn", 2), binary=True, model_version=version)
    assert result.as_numpy("logits").shape == (2, 10)
    with pytest.raises(InferenceServerException) as info:
        _infer(client, key, _inputs("digits-cnn", 2), binary=True, model_version="99")
    assert info.value.status() == "404" and "no version '99'" in info.value.message()


def _problem(answer: httpx.Response, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["status"] == status and body["error"] == body["detail"]
    return body


@pytest.mark.parametrize(("tensor", "expected", "received"), [
    ({"name": "img", "shape": [1, 1, 8, 8], "datatype": "FP32"}, "missing input image", "received img FP32"),
    ({"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP64"}, "expected dtype float32, got float64",
     "received image FP64 [1, 1, 8, 8]"),
    ({"name": "image", "shape": [1, 64], "datatype": "FP32"}, "expected shape [batch, 1, 8, 8]",
     "received image FP32 [1, 64]"),
])
def test_wrong_inputs_are_400_naming_expected_and_received(demo: Demo, url: str, tensor: dict, expected: str,
                                                            received: str) -> None:
    tensor["data"] = [0.5] * 64
    answer = httpx.post(f"{url}/v2/models/{_key(demo, 'digits-cnn')}/infer", json={"inputs": [tensor]})
    body = _problem(answer, 400)
    assert expected in body["error"] and received in body["error"]
    assert "Expected image FP32 [-1, 1, 8, 8]" in body["error"]
    assert body["expected"] == [{"name": "image", "dtype": "float32", "shape": ["batch", 1, 8, 8]}]


def test_tritonclient_sees_the_input_error(demo: Demo, url: str) -> None:
    with pytest.raises(InferenceServerException) as info:
        _infer(_triton(url), _key(demo, "digits-cnn"), {"image": np.zeros((2, 8, 8), np.float32)}, binary=True)
    assert info.value.status() == "400"
    assert "expected shape [batch, 1, 8, 8]" in info.value.message() and "[2, 8, 8]" in info.value.message()


def test_unknown_model_unknown_endpoint_wrong_method_bytes(demo: Demo, url: str) -> None:
    with pytest.raises(InferenceServerException) as info:
        _triton(url).get_model_metadata("00000000-0000-4000-8000-000000000000")
    assert info.value.status() == "404" and "no model is named" in info.value.message()
    body = _problem(httpx.post(f"{url}/v2/models/10.5072/fairkg.digits-cnn/infer", json={}), 404)
    assert "never a DOI" in body["error"]
    _problem(httpx.get(f"{url}/v2/nothing-here"), 404)
    answer = httpx.get(f"{url}/v2/models/{_key(demo, 'digits-cnn')}/infer")
    assert _problem(answer, 405) and answer.headers["allow"] == "POST"
    body = _problem(httpx.post(f"{url}/v2/models/{_key(demo, 'digits-cnn')}/infer", json={"inputs": [
        {"name": "image", "shape": [1], "datatype": "BYTES", "data": ["x"]}]}), 400)
    assert "BYTES tensors are not supported" in body["error"]
    body = _problem(httpx.post(f"{url}/v2/models/{_key(demo, 'digits-cnn')}/infer", content=b"{\"inputs\": ",
                               headers={"Content-Type": "application/json"}), 400)
    assert "not a JSON inference request" in body["error"]


def test_an_impossible_device_is_400_listing_what_is_available(demo: Demo, url: str) -> None:
    with pytest.raises(InferenceServerException) as info:
        _infer(_triton(url), _key(demo, "digits-cnn"), _inputs("digits-cnn", 1), binary=True,
               parameters={"device": "cuda"})
    assert info.value.status() == "400"
    assert "available here: onnxruntime on cpu" in info.value.message()
    body = _problem(httpx.post(f"{url}/v2/models/{_key(demo, 'digits-cnn')}/infer", json={
        "inputs": [{"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": [0] * 64}],
        "parameters": {"runtime": "no-such-runtime"}}), 400)
    assert "unknown runtime" in body["error"]
    assert {"runtime": "onnxruntime", "device": "cpu", "format": "onnx"} in body["available"]


def test_torch_runs_it_when_asked(demo: Demo, url: str) -> None:
    inputs = _inputs("digits-cnn", 3)
    result = _infer(_triton(url), _key(demo, "digits-cnn"), inputs, binary=True, parameters={"runtime": "torch"})
    assert result.get_response()["parameters"]["runtime"] == "torch"
    np.testing.assert_allclose(result.as_numpy("logits"), _expected(demo, "digits-cnn", inputs)["logits"],
                               atol=1e-4)


def test_a_restricted_model_needs_a_reader_token(demo: Demo, url: str) -> None:
    key = _key(demo, "restricted")
    request = {"inputs": [{"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": [0] * 64}]}
    answer = httpx.post(f"{url}/v2/models/{key}/infer", json=request)
    body = _problem(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "restricted" in body["error"]
    assert httpx.get(f"{url}/v2/models/{key}").status_code == 200  # metadata stays public
    token = create_token(demo.home, name="tests", role="reader").token
    answer = httpx.post(f"{url}/v2/models/{key}/infer", json=request, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["outputs"][0]["data"]) == 10
    _problem(httpx.post(f"{url}/v2/models/{key}/infer", json=request, headers={"Authorization": "Bearer nope"}), 401)


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def test_a_tampered_artifact_is_refused_by_a_fresh_server(tmp_path: Path, serve_app: Callable[..., str]) -> None:
    demo = demo_registry(tmp_path, only=("digits-data", "digits-cnn"))
    settings = Settings(home=demo.home, base_iri=demo.base_iri)
    key, inputs = _key(demo, "digits-cnn"), _inputs("digits-cnn", 2)
    running = serve_app(create_app(settings, store=demo.store))
    before = _infer(_triton(running), key, inputs, binary=True, parameters={"runtime": "onnxruntime"})

    onnx = next(d for d in inference_record(demo.store, demo.model("digits-cnn")).distributions if d.format == "onnx")
    _flip_one_byte(demo.home / onnx.location)
    # the server that loaded the model before the file changed keeps serving it from memory (its bytes were
    # verified when it was loaded): checksums are verified on every load, not on every request
    again = _infer(_triton(running), key, inputs, binary=True, parameters={"runtime": "onnxruntime"})
    np.testing.assert_array_equal(again.as_numpy("logits"), before.as_numpy("logits"))

    fresh_app = create_app(settings, store=demo.store)
    fresh = serve_app(fresh_app)
    with pytest.raises(InferenceServerException) as info:
        _infer(_triton(fresh), key, inputs, binary=True, parameters={"runtime": "onnxruntime"})
    assert info.value.status() == "500"
    assert "does not match its recorded SHA-256" in info.value.message()
    assert "failed its checksum and was not loaded" in info.value.message()
    assert len(fresh_app.state.serving_cache.models) == 0  # nothing was loaded


def test_a_withdrawn_model_is_not_ready_and_gone(tmp_path: Path, serve_app: Callable[..., str]) -> None:
    demo = demo_registry(tmp_path, only=("digits-data", "digits-cnn"))
    withdraw(demo.store, demo.model("digits-cnn"), home=demo.home, base_iri=demo.base_iri, reason="superseded")
    url = serve_app(create_app(Settings(home=demo.home, base_iri=demo.base_iri), store=demo.store))
    key = _key(demo, "digits-cnn")
    assert not _triton(url).is_model_ready(key)
    body = _problem(httpx.get(f"{url}/v2/models/{key}/ready"), 400)
    assert body["ready"] is False and "withdrawn" in body["error"]
    body = _problem(httpx.post(f"{url}/v2/models/{key}/infer", json={"inputs": [
        {"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": [0] * 64}]}), 410)
    assert "superseded" in body["error"]

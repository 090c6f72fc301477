"""The Python client (fairkg.api.client) against the live service: resolve, describe, search, download with the
graph's SHA-256 checked, infer (binary and JSON), dataset runs and their results."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml
from _demo import Demo, copy_card, demo_registry
from rdflib import URIRef
from rdflib.namespace import RDF

from fairkg.api.app import create_app
from fairkg.api.client import ChecksumMismatchError, Client, ClientError
from fairkg.kg.register import register
from fairkg.kg.settings import Settings
from fairkg.kg.tokens import create_token
from fairkg.runners import load_model

pytestmark = pytest.mark.slow
MODEL, DATA = "10.5072/fairkg.digits-cnn", "10.5072/fairkg.digits-data"
MLS_MODEL = URIRef("http://www.w3.org/ns/mls#Model")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    home = tmp_path_factory.mktemp("client-home")
    demo = demo_registry(home, only=("digits-data", "digits-cnn"))
    folder = copy_card("digits-cnn", tmp_path_factory.mktemp("restricted") / "card")
    card = yaml.safe_load((folder / "card.yaml").read_text())
    card.update(doi="10.5072/test.client-restricted", access="restricted", title="Digits CNN (restricted copy)")
    (folder / "card.yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    demo.iris["restricted"] = register(demo.store, folder, home=home, base_iri=demo.base_iri).iri
    return demo


@pytest.fixture(scope="module")
def app(demo: Demo):  # noqa: ANN201 - a FastAPI app
    app = create_app(Settings(home=demo.home, base_iri=demo.base_iri), store=demo.store)
    paths = app.openapi()["paths"]
    missing = [route for route in ("/resolve", "/id/{uuid}", "/search") if route not in paths]
    if missing:
        pytest.skip(f"the service has no {', '.join(missing)} route yet (resolver / search not wired)")
    return app


@pytest.fixture
def client(app, serve_app: Callable[..., str]) -> Iterator[Client]:  # noqa: ANN001
    with Client(serve_app(app)) as client:
        yield client


def test_resolve_describe_and_search(demo: Demo, client: Client) -> None:
    resolved = client.resolve(MODEL)
    assert resolved["iri"] == demo.model("digits-cnn") and resolved["key"] == demo.model("digits-cnn")[-36:]
    assert {"scheme": "doi", "value": MODEL} in resolved["identifiers"]
    graph = client.describe(f"https://doi.org/{MODEL}")
    assert (URIRef(resolved["iri"]), RDF.type, MLS_MODEL) in graph
    assert client.describe_dict(MODEL, form="json")["key"] == resolved["key"]
    assert resolved["iri"] in str(client.describe_dict(MODEL))
    assert resolved["iri"] in [hit["iri"] for hit in client.search("digits")]
    with pytest.raises(ClientError) as info:
        client.resolve("10.5072/no-such-thing")
    assert info.value.status == 404 and "no resource" in info.value.detail


def test_download_checks_the_sha256_from_the_graph(demo: Demo, client: Client, tmp_path: Path) -> None:
    files = {f.name: f for f in client.files(MODEL)}
    assert {"model.onnx", "model.pt2", "model.safetensors", "reference.safetensors"} <= set(files)
    path = client.download(MODEL, tmp_path, name="model.onnx")
    assert path == tmp_path / "model.onnx"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == files["model.onnx"].sha256
    by_distribution = client.download(files["model.safetensors"].iri, tmp_path / "weights.safetensors")
    assert by_distribution.read_bytes()[:8]  # a distribution's own IRI names the one file
    with pytest.raises(ClientError, match="several files"):
        client.download(MODEL, tmp_path)
    data = client.download(DATA, tmp_path)
    assert data.name == "digits.h5"


class _Tampering(httpx.BaseTransport):
    """A transport that flips one byte of every artifact it downloads (a corrupting proxy, a bad disk...)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not request.url.path.startswith("/artifacts/"):
            return response
        body = bytearray(response.read())
        body[len(body) // 2] ^= 0x01
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(body))

    def close(self) -> None:
        self.inner.close()


def test_a_tampered_download_raises_and_leaves_no_file(app, serve_app: Callable[..., str],  # noqa: ANN001
                                                       tmp_path: Path) -> None:
    with Client(serve_app(app), transport=_Tampering()) as client:
        with pytest.raises(ChecksumMismatchError, match="does not match the SHA-256"):
            client.download(MODEL, tmp_path / "model.onnx", name="model.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_restricted_model_needs_the_token(demo: Demo, app, serve_app: Callable[..., str],  # noqa: ANN001
                                            tmp_path: Path) -> None:
    url = serve_app(app)
    image = np.zeros((1, 1, 8, 8), np.float32)
    with Client(url) as anonymous:
        assert anonymous.metadata("10.5072/test.client-restricted")["inputs"][0]["name"] == "image"
        with pytest.raises(ClientError) as info:
            anonymous.infer("10.5072/test.client-restricted", {"image": image})
        assert info.value.status == 401
        with pytest.raises(ClientError) as info:
            anonymous.download("10.5072/test.client-restricted", tmp_path, name="model.onnx")
        assert info.value.status == 401 and not list(tmp_path.iterdir())
    token = create_token(demo.home, name="client tests", role="reader").token
    with Client(url, token=token) as reader:
        assert reader.infer("10.5072/test.client-restricted", {"image": image})["logits"].shape == (1, 10)
        assert reader.download("10.5072/test.client-restricted", tmp_path, name="model.onnx").is_file()


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_infer_gives_the_runner_s_numbers(demo: Demo, client: Client, binary: bool) -> None:
    image = np.random.default_rng(3).random((4, 1, 8, 8), dtype=np.float32)
    outputs = client.infer(MODEL, {"image": image}, runtime="onnxruntime", device="cpu", binary=binary)
    model = load_model(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model("digits-cnn"),
                       runtime="onnxruntime", device="cpu")
    try:
        np.testing.assert_allclose(outputs["logits"], model.predict({"image": image})["logits"], rtol=1e-6, atol=1e-6)
    finally:
        model.release()
    with pytest.raises(ClientError) as info:
        client.infer(MODEL, {"image": image[:, 0]}, binary=binary)
    assert info.value.status == 400 and "expected shape [batch, 1, 8, 8]" in info.value.detail
    with pytest.raises(ClientError, match="available here") as info:
        client.infer(MODEL, {"image": image}, device="cuda")


def test_start_a_run_and_fetch_its_results(demo: Demo, client: Client, tmp_path: Path) -> None:
    run = client.start_run(MODEL, DATA, split="test", batch_size=100)
    assert run["sample_count"] == 360 and run["metrics"]["accuracy"] > 0.9
    path = client.fetch_results(run, tmp_path / "results.h5")
    again = client.fetch_results(run["key"], tmp_path)
    assert again.name == "results.h5" and again.read_bytes() == path.read_bytes()
    from hdmf.common import get_hdf5io

    with get_hdf5io(str(path), "r") as io:
        table = io.read()
        assert len(table["predicted_class"].data[:]) == 360
    with pytest.raises(ClientError) as info:
        client.start_run(MODEL, DATA, split="nope")
    assert info.value.status == 400

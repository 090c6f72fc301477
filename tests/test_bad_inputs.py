"""A corpus of bad requests, each with the 4xx it must get (never a 5xx, never a file outside the home), against the
real HTTP stack (uvicorn on loopback, in a thread) of a service holding a model that really runs.

Every error is a problem document (RFC 9457); under ``/v2`` it also carries the protocol's ``error`` member. A few
answers come from uvicorn itself, before the app sees the request (an over-long request line): those are plain text,
and the tests say so.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
import yaml
from _served import (
    BASE_IRI,
    REFERENCE_INPUT,
    assert_problem,
    expected_logits,
    multipart,
    onnx_bytes,
    reference_bytes,
    runnable_model_card,
    write_dataset,
    write_runnable_model,
)

from fairkg.kg.register import register
from fairkg.kg.settings import Settings
from fairkg.kg.store import Store, open_store
from fairkg.kg.tokens import create_token

ADMIN = "bad-inputs-admin"
UPLOAD_LIMIT = 64 * 1024
SECRET = "fairkg-secret-marker-7f3a"
MISSING = str(uuid.UUID(int=0))


@dataclass
class Service:
    url: str
    port: int
    home: Path
    store: Store
    key: str  # the runnable model
    tamper_key: str  # a second runnable model, whose artifact a test corrupts
    publisher: str
    reader: str
    http: httpx.Client

    def raw(self, request: bytes, *, wait: float = 5.0) -> bytes:
        """Send ``request`` as is (no URL normalisation) and return what comes back within ``wait`` seconds."""
        chunks: list[bytes] = []
        with socket.create_connection(("127.0.0.1", self.port), timeout=wait) as conn:
            try:
                conn.sendall(request)
            except (BrokenPipeError, ConnectionResetError):  # answered and closed before it read everything
                pass
            deadline = time.monotonic() + wait
            try:
                while time.monotonic() < deadline and sum(map(len, chunks)) < 1 << 20:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except (TimeoutError, ConnectionResetError):
                pass
        return b"".join(chunks)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    from fairkg.api.app import create_app

    root = tmp_path_factory.mktemp("bad-inputs")
    home = root / "home"
    store = open_store("oxigraph:")
    register(store, write_dataset(root / "data"), home=home, base_iri=BASE_IRI)
    key = register(store, write_runnable_model(root / "model"), home=home, base_iri=BASE_IRI).key
    tamper = runnable_model_card(doi="10.5072/test.tamper", title="Model to tamper with")
    folder = write_runnable_model(root / "tamper", doi=tamper["doi"], title=tamper["title"])
    (folder / "model.onnx").write_bytes(onnx_bytes(doc="tamper"))
    tamper_key = register(store, folder, home=home, base_iri=BASE_IRI).key
    # Files no request may reach: one in the home that is not an artifact, one beside the home.
    (home / "secret.txt").write_text(SECRET)
    (root / "outside.txt").write_text(SECRET)

    app = create_app(Settings(home=home, base_iri=BASE_IRI, query_timeout=2, admin_token=ADMIN), store=store)
    app.state.max_upload_bytes = UPLOAD_LIMIT
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.01)
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as http:
        yield Service(url, port, home, store, key, tamper_key, create_token(home, name="pub", role="publisher").token,
                      create_token(home, name="reader", role="reader").token, http)
    server.should_exit = True
    thread.join(timeout=10)
    store.close()


# -- the corpus: (id, request, expected status) ----------------------------------------------------------------------
@dataclass(frozen=True)
class Bad:
    id: str
    method: str
    path: str
    status: int | tuple[int, ...]
    kwargs: dict[str, Any] | Callable[[Service], dict[str, Any]] | None = None
    marks: tuple[Any, ...] = ()


def _infer(*inputs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"json": {"inputs": list(inputs), **extra}}


def _x(**overrides: Any) -> dict[str, Any]:
    tensor = {"name": "x", "shape": [2, 4], "datatype": "FP32", "data": REFERENCE_INPUT.ravel().tolist()}
    tensor.update(overrides)
    return tensor


def _binary(json_part: bytes, payload: bytes, header_length: int | str) -> dict[str, Any]:
    return {"content": json_part + payload, "headers": {"Inference-Header-Content-Length": str(header_length),
                                                        "Content-Type": "application/octet-stream"}}


_BIN_JSON = json.dumps({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32",
                                    "parameters": {"binary_data_size": 32}}]}).encode()
_HUGE_JSON = json.dumps({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32",
                                     "parameters": {"binary_data_size": 2**40}}]}).encode()
_BIN_DATA = REFERENCE_INPUT.astype("<f4").tobytes()


def _auth(token_of: Callable[[Service], str]) -> Callable[[Service], dict[str, str]]:
    return lambda s: {"Authorization": f"Bearer {token_of(s)}"}


CORPUS = [
    # SPARQL protocol
    Bad("sparql-malformed", "GET", "/sparql", 400, {"params": {"query": "SELEC ?s WHERE { ?s ?p ?o }"}}),
    Bad("sparql-two-query-params", "GET", "/sparql", 400, {"params": [("query", "ASK {}"), ("query", "ASK {}")]}),
    Bad("sparql-query-and-update", "POST", "/sparql", 400, {"data": {"query": "ASK {}", "update": "CLEAR ALL"}}),
    Bad("sparql-update-by-get", "GET", "/sparql", 400, {"params": {"update": "CLEAR ALL"}}),
    Bad("sparql-empty-post", "POST", "/sparql", 400, {"data": {"nothing": "here"}}),
    Bad("sparql-wrong-content-type", "POST", "/sparql", 415,
        {"content": "ASK {}", "headers": {"Content-Type": "text/plain"}}),
    Bad("sparql-json-body", "POST", "/sparql", 415, {"json": {"query": "ASK {}"}}),
    Bad("sparql-latin1-charset", "POST", "/sparql", 415,
        {"content": "ASK {}", "headers": {"Content-Type": "application/sparql-query; charset=latin-1"}}),
    Bad("sparql-body-not-utf8", "POST", "/sparql", 400,
        {"content": b"ASK { ?s ?p \"\xff\" }", "headers": {"Content-Type": "application/sparql-query"}}),
    Bad("sparql-not-acceptable", "GET", "/sparql", 406, {"params": {"query": "ASK {}"}, "headers": {
        "Accept": "image/png"}}),
    Bad("sparql-update-without-token", "POST", "/sparql", 401, {"data": {"update": "CLEAR ALL"}}),
    Bad("sparql-update-publisher-token", "POST", "/sparql", 403,
        lambda s: {"data": {"update": "CLEAR ALL"}, "headers": _auth(lambda t: t.publisher)(s)}),
    Bad("sparql-put", "PUT", "/sparql", 405, {"content": "ASK {}"}),
    Bad("sparql-default-graph-not-an-iri", "GET", "/sparql", 400, {"params": {
        "query": "ASK {}", "default-graph-uri": "not an iri"}}),
    Bad("sparql-named-graph-not-an-iri", "POST", "/sparql", 400, {"data": {
        "query": "ASK {}", "named-graph-uri": "nope"}}),
    # identifiers
    Bad("doi-unknown", "GET", "/doi/10.5072/nope", 404),
    Bad("doi-not-a-doi", "GET", "/doi/banana/split", (400, 404)),
    Bad("resolve-garbage", "GET", "/resolve", 400, {"params": {"id": "garbage"}}),
    Bad("resolve-empty", "GET", "/resolve", 400, {"params": {"id": "  "}}),
    Bad("resolve-missing-id", "GET", "/resolve", 400),
    Bad("resolve-unknown-doi", "GET", "/resolve", 404, {"params": {"id": "doi:10.5072/nope"}}),
    Bad("resolve-unknown-uuid", "GET", "/resolve", 404, {"params": {"id": MISSING}}),
    Bad("ark-unknown", "GET", "/ark:/99999/nope", 404),
    Bad("minid-unknown", "GET", "/minid:nope", 404),
    Bad("id-unknown", "GET", f"/id/{MISSING}", 404),
    Bad("id-not-a-uuid", "GET", "/id/not-a-uuid", (400, 404)),
    Bad("model-page-unknown", "GET", f"/models/{MISSING}", 404),
    Bad("unknown-route", "GET", "/no/such/route", 404),
    # registration
    Bad("register-without-token", "POST", "/models", 401, lambda s: {"files": _register_parts(s)}),
    Bad("register-reader-token", "POST", "/models", 403,
        lambda s: {"files": _register_parts(s), "headers": _auth(lambda t: t.reader)(s)}),
    Bad("register-json-body", "POST", "/models", 415,
        lambda s: {"json": runnable_model_card(), "headers": _auth(lambda t: t.publisher)(s)}),
    Bad("register-no-content-length", "POST", "/models", 411,
        lambda s: {"content": iter([b"--x\r\n"]), "headers": {**_auth(lambda t: t.publisher)(s),
                                                              "Content-Type": "multipart/form-data; boundary=x"}}),
    Bad("register-oversized", "POST", "/models", 413, lambda s: {"files": [
        *_register_parts(s), ("files", ("big.bin", b"\0" * (UPLOAD_LIMIT + 1), "application/octet-stream"))],
        "headers": _auth(lambda t: t.publisher)(s)}),
    Bad("withdraw-without-token", "POST", f"/models/{MISSING}/withdraw", 401, {"json": {"reason": "test"}}),
    # Open Inference Protocol
    Bad("v2-unknown-model", "GET", f"/v2/models/{MISSING}", 404),
    Bad("v2-unknown-model-infer", "POST", f"/v2/models/{MISSING}/infer", 404, _infer(_x())),
    Bad("v2-unknown-endpoint", "GET", "/v2/nothing/here", 404),
    Bad("v2-model-name-not-a-key", "GET", "/v2/models/a%5Cb", 404),
    Bad("v2-ready-name-not-a-key", "GET", "/v2/models/a%3Eb/ready", 404),
    Bad("v2-infer-name-not-a-key", "POST", "/v2/models/a%3Eb/infer", 404, _infer(_x())),
    Bad("runs-key-not-a-key", "POST", "/models/a%3Eb/runs", 404, {"json": {"dataset": "10.5072/test.data",
                                                                        "split": "test"}}),
    Bad("v2-infer-by-get", "GET", "/v2/models/{key}/infer", 405),
    Bad("v2-wrong-shape", "POST", "/v2/models/{key}/infer", 400, _infer(_x(shape=[2, 3], data=[0.0] * 6))),
    Bad("v2-wrong-rank", "POST", "/v2/models/{key}/infer", 400, _infer(_x(shape=[8]))),
    Bad("v2-wrong-dtype", "POST", "/v2/models/{key}/infer", 400, _infer(_x(datatype="INT64", data=[0] * 8))),
    Bad("v2-unknown-datatype", "POST", "/v2/models/{key}/infer", 400, _infer(_x(datatype="FP33"))),
    Bad("v2-bytes-datatype", "POST", "/v2/models/{key}/infer", 400, _infer(_x(datatype="BYTES", data=["a"] * 8))),
    Bad("v2-unknown-input", "POST", "/v2/models/{key}/infer", 400, _infer(_x(name="y"))),
    Bad("v2-input-twice", "POST", "/v2/models/{key}/infer", 400, _infer(_x(), _x())),
    Bad("v2-no-inputs", "POST", "/v2/models/{key}/infer", 400, {"json": {"outputs": [{"name": "logits"}]}}),
    Bad("v2-empty-inputs", "POST", "/v2/models/{key}/infer", 400, _infer()),
    Bad("v2-data-count", "POST", "/v2/models/{key}/infer", 400, _infer(_x(data=[0.0] * 7))),
    Bad("v2-data-not-numbers", "POST", "/v2/models/{key}/infer", 400, _infer(_x(data=["a"] * 8))),
    Bad("v2-data-missing", "POST", "/v2/models/{key}/infer", 400, _infer(_x(data=None))),
    Bad("v2-negative-shape", "POST", "/v2/models/{key}/infer", 400, _infer(_x(shape=[-2, 4]))),
    Bad("v2-shape-not-list", "POST", "/v2/models/{key}/infer", 400, _infer(_x(shape="2x4"))),
    Bad("v2-unknown-output", "POST", "/v2/models/{key}/infer", 400, _infer(_x(), outputs=[{"name": "nope"}])),
    Bad("v2-bad-runtime", "POST", "/v2/models/{key}/infer", 400,
        _infer(_x(), parameters={"runtime": "no-such-runtime"})),
    Bad("v2-body-not-json", "POST", "/v2/models/{key}/infer", 400, {"content": b"not json"}),
    Bad("v2-body-json-array", "POST", "/v2/models/{key}/infer", 400, {"content": b"[1, 2, 3]"}),
    Bad("v2-body-empty", "POST", "/v2/models/{key}/infer", 400, {"content": b""}),
    # oversized JSON tensors: a declared size far beyond the data (and beyond memory) is refused, not allocated
    Bad("v2-huge-declared-shape", "POST", "/v2/models/{key}/infer", 400, _infer(_x(shape=[10**12, 4]))),
    Bad("v2-overflowing-shape", "POST", "/v2/models/{key}/infer", 400, _infer(_x(shape=[2**62, 2**62, 4]))),
    Bad("v2-huge-binary-size", "POST", "/v2/models/{key}/infer", 400, _binary(_HUGE_JSON, _BIN_DATA, len(_HUGE_JSON))),
    # the binary tensor extension with an Inference-Header-Content-Length that lies
    Bad("v2-binary-header-past-body", "POST", "/v2/models/{key}/infer", 400,
        _binary(_BIN_JSON, _BIN_DATA, len(_BIN_JSON) + len(_BIN_DATA) + 1)),
    Bad("v2-binary-header-cuts-json", "POST", "/v2/models/{key}/infer", 400,
        _binary(_BIN_JSON, _BIN_DATA, len(_BIN_JSON) - 3)),
    Bad("v2-binary-header-into-data", "POST", "/v2/models/{key}/infer", 400,
        _binary(_BIN_JSON, _BIN_DATA, len(_BIN_JSON) + 4)),
    Bad("v2-binary-header-negative", "POST", "/v2/models/{key}/infer", 400, _binary(_BIN_JSON, _BIN_DATA, -1)),
    Bad("v2-binary-header-not-a-number", "POST", "/v2/models/{key}/infer", 400,
        _binary(_BIN_JSON, _BIN_DATA, "forty")),
    Bad("v2-binary-data-short", "POST", "/v2/models/{key}/infer", 400,
        _binary(_BIN_JSON, _BIN_DATA[:16], len(_BIN_JSON))),
    Bad("v2-binary-data-extra", "POST", "/v2/models/{key}/infer", 400,
        _binary(_BIN_JSON, _BIN_DATA + b"\0" * 8, len(_BIN_JSON))),
    Bad("v2-binary-without-header", "POST", "/v2/models/{key}/infer", 400,
        {"content": _BIN_JSON + _BIN_DATA, "headers": {"Content-Type": "application/octet-stream"}}),
    # artifacts (more in test_path_traversal_never_reaches_a_file, which sends raw paths)
    Bad("artifact-bad-key", "GET", "/artifacts/not-a-key/model.onnx", 404),
    Bad("artifact-unknown-key", "GET", f"/artifacts/{MISSING}/model.onnx", 404),
]


def _register_parts(service: Service) -> list[tuple[str, Any]]:
    folder = service.home.parent / "upload-model"
    if not folder.exists():
        write_runnable_model(folder, doi="10.5072/test.upload")
    return multipart(folder)


def _request(service: Service, bad: Bad) -> httpx.Response:
    kwargs = bad.kwargs(service) if callable(bad.kwargs) else dict(bad.kwargs or {})
    return service.http.request(bad.method, bad.path.format(key=service.key), **kwargs)


@pytest.mark.parametrize("bad", [pytest.param(b, id=b.id, marks=b.marks) for b in CORPUS])
def test_a_bad_request_gets_its_4xx_as_a_problem_document(service: Service, bad: Bad) -> None:
    answer = _request(service, bad)
    allowed = bad.status if isinstance(bad.status, tuple) else (bad.status,)
    assert answer.status_code in allowed, f"{bad.id}: {answer.status_code} {answer.text[:500]}"
    doc = assert_problem(answer)
    assert doc.get("detail"), f"{bad.id}: the problem should say what is wrong"


def test_the_corpus_model_runs_so_refusals_are_about_the_input(service: Service) -> None:
    """The control: a good JSON request and a good binary request to the same model succeed."""
    answer = service.http.post(f"/v2/models/{service.key}/infer", json={"inputs": [_x()]})
    assert answer.status_code == 200, answer.text
    got = np.array(answer.json()["outputs"][0]["data"], dtype=np.float32).reshape(2, 2)
    np.testing.assert_allclose(got, expected_logits(REFERENCE_INPUT), rtol=1e-5)
    answer = service.http.post(f"/v2/models/{service.key}/infer", **_binary(_BIN_JSON, _BIN_DATA, len(_BIN_JSON)))
    assert answer.status_code == 200, answer.text


# -- bad cards over HTTP: 422 naming the field ----------------------------------------------------------------------
CARD_MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("no-title", lambda c: c.pop("title"), "title"),
    ("bad-doi", lambda c: c.update(doi="not-a-doi"), "doi"),
    ("bad-year", lambda c: c.update(publication_year="soon"), "publication_year"),
    ("bad-dtype", lambda c: c["inputs"][0].update(dtype="float33"), "inputs.0.dtype"),
    ("bad-shape", lambda c: c["inputs"][0].update(shape=[-3, 4]), "inputs.0.shape"),
    ("bad-format", lambda c: c["distributions"][0].update(format="pickle"), "distributions.0.format"),
    ("no-distributions", lambda c: c.update(distributions=[]), "distributions"),
    ("negative-tolerance", lambda c: c["reference"].update(tolerance=-1), "reference.tolerance"),
    ("unknown-field", lambda c: c.update(colour="blue"), "colour"),
    ("bad-orcid", lambda c: c["creators"][0].update(orcid="orcid-of-nobody"), "creators.0.orcid"),
    ("unknown-kind", lambda c: c.update(kind="banana"), "kind"),
]


@pytest.mark.parametrize(("mutate", "field"), [(m, f) for _, m, f in CARD_MUTATIONS],
                         ids=[name for name, _, _ in CARD_MUTATIONS])
def test_a_bad_card_is_refused_naming_the_field(service: Service, tmp_path: Path, mutate: Callable[[dict], Any],
                                                field: str) -> None:
    folder = write_runnable_model(tmp_path / "card", doi="10.5072/test.badcard")
    card = yaml.safe_load((folder / "card.yaml").read_text())
    mutate(card)
    (folder / "card.yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    before = service.store.count()
    answer = service.http.post("/models", files=multipart(folder), headers={"Authorization": f"Bearer "
                                                                                             f"{service.publisher}"})
    doc = assert_problem(answer, 422)
    assert doc.get("field") == field, doc
    assert field.split(".")[0] in doc["detail"], doc
    assert service.store.count() == before


def test_a_dataset_card_sent_to_models_is_refused_naming_kind(service: Service, tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "data")
    answer = service.http.post("/models", files=multipart(folder), headers={"Authorization": f"Bearer "
                                                                                             f"{service.publisher}"})
    assert assert_problem(answer, 422).get("field") == "kind"


@pytest.mark.parametrize(("name", "card_bytes", "status"), [
    ("not-yaml", b"title: [unclosed", 400),
    ("not-utf8", b"title: \xff\xfe", 400),
    ("a-list", b"- kind: model\n", 422),
    ("empty", b"", 422),
])
def test_a_card_that_is_not_a_card_is_refused(service: Service, tmp_path: Path, name: str, card_bytes: bytes,
                                              status: int) -> None:
    folder = write_runnable_model(tmp_path / "card", doi="10.5072/test.notacard")
    parts = [("card", ("card.yaml", card_bytes, "application/yaml")), *multipart(folder)[1:]]
    answer = service.http.post("/models", files=parts, headers={"Authorization": f"Bearer {service.publisher}"})
    assert_problem(answer, status)


@pytest.mark.parametrize(("name", "filename", "status"), [
    ("dotdot", "../model.onnx", 400),
    ("absolute", "/etc/passwd", 400),
    ("backslash", "..\\model.onnx", 400),
    ("not-named-by-card", "other.onnx", 422),
])
def test_an_upload_whose_file_names_leave_the_card_folder_is_refused(service: Service, tmp_path: Path, name: str,
                                                                     filename: str, status: int) -> None:
    folder = write_runnable_model(tmp_path / "card", doi="10.5072/test.paths")
    parts = [p for p in multipart(folder) if not (p[0] == "files" and p[1][0] == "model.onnx")]
    parts.append(("files", (filename, (folder / "model.onnx").read_bytes(), "application/octet-stream")))
    answer = service.http.post("/models", files=parts, headers={"Authorization": f"Bearer {service.publisher}"})
    assert_problem(answer, status)
    assert not list(service.home.parent.glob("etc")), "nothing may be written outside the upload folder"


def test_a_card_path_outside_its_folder_is_refused_at_registration(tmp_path: Path) -> None:
    from fairkg.kg.errors import CardError

    (tmp_path / "outside.onnx").write_bytes(SECRET.encode())
    card = runnable_model_card(doi="10.5072/test.escape", distributions=[
        {"path": "../outside.onnx", "format": "onnx", "runtime_version": "onnx opset 18"}])
    from _cards import write_card

    folder = write_card(tmp_path / "card", card, {"reference.safetensors": reference_bytes()})
    store = open_store("oxigraph:")
    register(store, write_dataset(tmp_path / "data"), home=tmp_path / "home", base_iri=BASE_IRI)
    try:
        with pytest.raises(CardError):
            register(store, folder, home=tmp_path / "home", base_iri=BASE_IRI)
    finally:
        store.close()


# -- sizes ----------------------------------------------------------------------------------------------------------
def test_a_2_mb_query_is_answered_without_a_server_error(service: Service) -> None:
    """2 MB of SPARQL (a short query and a long comment) is parsed and answered: the service has no query size cap
    below its HTTP server's limits, so this is 200 (a cap would make it 413; both are fine, a 5xx is not)."""
    text = "ASK { ?s ?p ?o }\n#" + "x" * (2 << 20)
    t0 = time.monotonic()
    answer = service.http.post("/sparql", content=text, headers={"Content-Type": "application/sparql-query"})
    elapsed = time.monotonic() - t0
    assert answer.status_code in (200, 413), answer.text[:300]
    if answer.status_code == 413:
        assert_problem(answer)
    assert elapsed < 10, f"a 2 MB query took {elapsed:.1f} s"


def test_a_huge_request_line_is_refused_by_the_http_server(service: Service) -> None:
    """A 2 MB query string never reaches the app: uvicorn (h11) refuses the request line with a plain 400."""
    target = b"/sparql?query=ASK%7B%7D" + b"%20" * (700 * 1024)
    answer = service.raw(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    assert status in (400, 413, 414, 431), answer[:300]


def test_a_registration_declared_larger_than_the_limit_is_refused_before_it_is_read(service: Service) -> None:
    answer = service.raw(b"POST /models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                         + service.publisher.encode() + b"\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                         b"Content-Length: 1073741824\r\nConnection: close\r\n\r\n--x\r\n", wait=5)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b"application/problem+json" in answer


@pytest.mark.parametrize("target", ["/sparql", "/v2/models/{key}/infer"])
def test_a_query_or_inference_body_declared_huge_is_refused_before_it_is_read(service: Service, target: str) -> None:
    path = target.format(key=service.key).encode()
    content_type = b"application/sparql-query" if target == "/sparql" else b"application/json"
    answer = service.raw(b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + content_type +
                         b"\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\nASK {}", wait=3)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300] or b"(no answer within 3 s)"


# -- artifacts: traversal and tampering -----------------------------------------------------------------------------
def _artifact_path(service: Service, key: str) -> tuple[str, Path]:
    """The URL path of ``key``'s model.onnx and the stored file behind it."""
    rows = service.store.query(
        "PREFIX dcat: <http://www.w3.org/ns/dcat#> PREFIX fkg: <https://w3id.org/fairkg/ontology#> "
        "PREFIX schema: <http://schema.org/> SELECT ?url ?location WHERE { "
        f"<{BASE_IRI}/id/{key}> dcat:distribution ?d . ?d dcat:downloadURL ?url ; fkg:location ?location ; "
        "schema:name \"model.onnx\" }").bindings()
    row = next(iter(rows))
    return str(row["url"]).removeprefix(BASE_IRI), service.home / str(row["location"])


TRAVERSALS = [
    "/artifacts/../../secret.txt",
    "/artifacts/../outside.txt",
    "/artifacts/%2e%2e/%2e%2e/secret.txt",
    "/artifacts/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/artifacts/{dist}/..%2f..%2f..%2fsecret.txt",
    "/artifacts/{dist}/%2e%2e%2f%2e%2e%2f%2e%2e%2foutside.txt",
    "/artifacts/{dist}/model.onnx/../../../secret.txt",
    "/artifacts/{dist}/..%5c..%5csecret.txt",
    "/artifacts/{dist}/%2Fetc%2Fpasswd",
    "/artifacts//etc/passwd",
    "/artifacts/{dist}//etc/passwd",
    "/artifacts/{dist}/secret.txt",
    "/artifacts/{dist}/tokens.json",
    "/artifacts/{dist}/model.onnx%00.txt",
    "/artifacts/{dist}/reference.safetensors",
    "/artifacts/%2e%2e/tokens.json",
    "/../../../../etc/passwd",
]


@pytest.mark.parametrize("template", TRAVERSALS)
def test_path_traversal_never_reaches_a_file(service: Service, template: str) -> None:
    url, _ = _artifact_path(service, service.key)
    dist = url.split("/")[2]
    path = template.format(dist=dist)
    answer = service.raw(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert status in (400, 404), head
    assert SECRET.encode() not in body and b"root:" not in body
    assert b"application/problem+json" in head.lower()


def test_a_valid_key_with_another_file_name_is_404(service: Service) -> None:
    url, _ = _artifact_path(service, service.key)
    assert service.http.get(url).status_code == 200
    for other in ("model.pt2", "MODEL.ONNX", "model.onnx.bak", "card.yaml"):
        assert_problem(service.http.get(url.rsplit("/", 1)[0] + "/" + other), 404)


def test_a_tampered_artifact_is_never_served_nor_loaded(service: Service) -> None:
    url, stored = _artifact_path(service, service.tamper_key)
    original = stored.read_bytes()
    assert service.http.get(url).content == original
    stored.chmod(stat.S_IMODE(stored.stat().st_mode) | stat.S_IWUSR)
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0x01
    stored.write_bytes(bytes(tampered))
    try:
        for method in ("GET", "HEAD"):
            answer = service.http.request(method, url)
            # artifacts.py answers a fixity failure 500 on purpose (the server cannot produce the file intact).
            assert answer.status_code == 500, answer.text[:300]
            assert bytes(tampered) not in answer.content
            if method == "GET":
                assert assert_problem(answer)["type"].endswith("artifact-integrity")
        answer = service.http.post(f"/v2/models/{service.tamper_key}/infer", json={"inputs": [_x()]})
        assert answer.status_code == 500, answer.text[:300]
        assert assert_problem(answer)["type"].endswith("artifact-integrity")
    finally:
        stored.write_bytes(original)
    assert service.http.get(url).content == original


def test_no_request_in_this_module_wrote_outside_the_home(service: Service) -> None:
    root = service.home.parent
    assert (root / "outside.txt").read_text() == SECRET
    assert not any(p.name in ("passwd", "model.onnx") for p in root.iterdir() if p.is_file())
    assert os.access(service.home / "secret.txt", os.R_OK)

"""The infer fast path (:class:`fairkg.api.oip_serving.InferFastPath`): it answers ``POST /v2/models/{name}/infer``
exactly as the FastAPI routes do (bodies, headers, problem documents), keeps the body limit, passes other methods
on, and runs a model on the event loop only when nothing on the way can block and the prediction is quick."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pytest
from _served import BASE_IRI, expected_logits, write_dataset, write_runnable_model
from fastapi import FastAPI

from fairkg.api import oip_serving
from fairkg.api.app import create_app
from fairkg.api.limits import infer_path
from fairkg.api.oip_serving import InferFastPath, ServingCache
from fairkg.kg.register import register, withdraw
from fairkg.kg.settings import Settings
from fairkg.kg.store import Store, open_store
from fairkg.runners import ModelCache

X = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5) / 4
LIMIT = 4096


class Registry:
    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.store: Store = open_store("oxigraph:")
        register(self.store, write_dataset(root / "data"), home=self.home, base_iri=BASE_IRI)
        self.key = register(self.store, write_runnable_model(root / "model"), home=self.home, base_iri=BASE_IRI).key
        self.restricted = register(self.store, write_runnable_model(root / "restricted", doi="10.5072/test.fast-r",
                                                                    title="Restricted", access="restricted"),
                                   home=self.home, base_iri=BASE_IRI).key
        self.settings = Settings(home=self.home, base_iri=BASE_IRI, max_infer_bytes=LIMIT)

    def app(self, *, fast: bool = True) -> FastAPI:
        """The service; without the fast path (``fast=False``) the FastAPI routes answer infer requests."""
        app = create_app(self.settings, store=self.store)
        if not fast:
            app.user_middleware = [m for m in app.user_middleware if m.cls is not InferFastPath]
        return app


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    registry = Registry(tmp_path_factory.mktemp("fastpath"))
    yield registry
    registry.store.close()


@pytest.fixture(scope="module")
def apps(registry: Registry) -> tuple[FastAPI, FastAPI]:
    """(with the fast path, without it), each with its own loaded models, kept across the module's tests."""
    return registry.app(), registry.app(fast=False)


Clients = tuple[httpx.Client, httpx.Client]


@pytest.fixture
def clients(apps: tuple[FastAPI, FastAPI], serve_app: Callable[..., str]) -> Iterator[Clients]:
    """HTTP clients of both apps, served by uvicorn on loopback."""
    with _client(serve_app(apps[0])) as fast, _client(serve_app(apps[1])) as routed:
        yield fast, routed


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=60, trust_env=False)


def _binary(x: np.ndarray, **document: Any) -> tuple[bytes, dict[str, str]]:
    raw = x.astype("<f4").tobytes()
    head = json.dumps({"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32",
                                   "parameters": {"binary_data_size": len(raw)}}], **document}).encode()
    return head + raw, {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"}


def _json(x: np.ndarray, **document: Any) -> tuple[bytes, dict[str, str]]:
    body = {"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}],
            **document}
    return json.dumps(body).encode(), {"Content-Type": "application/json"}


def _same(clients: Clients, path: str, body: bytes, headers: dict[str, str]) -> Any:
    """POST to both apps; the answers must be the same. Returns the fast path's."""
    fast, routed = (client.post(path, content=body, headers=headers) for client in clients)
    assert (fast.status_code, fast.content) == (routed.status_code, routed.content), (fast.text, routed.text)
    for header in ("content-type", "content-length", "inference-header-content-length", "www-authenticate"):
        assert fast.headers.get(header) == routed.headers.get(header), header
    return fast


GOOD = [
    ("binary", lambda: _binary(X, outputs=[{"name": "logits", "parameters": {"binary_data": True}}])),
    ("binary-by-default", lambda: _binary(X, parameters={"binary_data_output": True})),
    ("json", lambda: _json(X)),
    ("json-with-id-and-runtime", lambda: _json(X, id="r-1", parameters={"runtime": "onnxruntime", "device": "cpu"})),
    ("binary-in-json-out", lambda: _binary(X[:1])),
]


@pytest.mark.parametrize(("case", "make"), GOOD, ids=[g[0] for g in GOOD])
def test_the_fast_path_answers_as_the_routes_do(registry: Registry, clients: Clients,
                                                case: str, make: Any) -> None:
    body, headers = make()
    for path in (f"/v2/models/{registry.key}/infer", f"/v2/models/{registry.key}/versions/1.0.0/infer"):
        for _ in range(3):  # the first loads the model (in a thread); the next run on the event loop
            answer = _same(clients, path, body, headers)
        assert answer.status_code == 200
        split = int(answer.headers.get("inference-header-content-length", len(answer.content)))
        document = json.loads(answer.content[:split])
        logits = document["outputs"][0]
        rows = logits["shape"][0]
        if "data" in logits:
            got = np.asarray(logits["data"], np.float32).reshape(logits["shape"])
        else:
            got = np.frombuffer(answer.content[split:], "<f4").reshape(logits["shape"])
        np.testing.assert_allclose(got, expected_logits(X[:rows]), rtol=1e-6)


BAD = [
    ("unknown-model", "/v2/models/00000000-0000-0000-0000-000000000000/infer", lambda: _json(X), 404),
    ("not-a-uuid", "/v2/models/not-a-uuid/infer", lambda: _json(X), 404),
    ("other-version", "/v2/models/{key}/versions/7/infer", lambda: _json(X), 404),
    ("bad-header", "/v2/models/{key}/infer", lambda: (b"{}", {"Inference-Header-Content-Length": "two"}), 400),
    ("not-json", "/v2/models/{key}/infer", lambda: (b"inputs", {}), 400),
    ("wrong-shape", "/v2/models/{key}/infer", lambda: _json(X.reshape(2, 6)), 400),
    ("wrong-name", "/v2/models/{key}/infer", lambda: (_json(X)[0].replace(b'"x"', b'"y"'), {}), 400),
    ("no-such-device", "/v2/models/{key}/infer", lambda: _json(X, parameters={"device": "cuda:7"}), 400),
    ("no-such-output", "/v2/models/{key}/infer", lambda: _json(X, outputs=[{"name": "probabilities"}]), 400),
    ("restricted", "/v2/models/{restricted}/infer", lambda: _json(X), 401),
]


@pytest.mark.parametrize(("case", "path", "make", "status"), BAD, ids=[b[0] for b in BAD])
def test_errors_are_the_same_problem_documents(registry: Registry, clients: Clients, case: str,
                                               path: str, make: Any, status: int) -> None:
    body, headers = make()
    path = path.format(key=registry.key, restricted=registry.restricted)
    for _ in range(2):  # before and after the model is loaded
        answer = _same(clients, path, body, headers)
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/problem+json"
        document = answer.json()
        assert document["status"] == status and document["error"] == document["detail"]


def test_a_body_over_the_limit_is_refused_while_it_streams(registry: Registry,
                                                           clients: Clients) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as the body arrives
        yield b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [0, 0, 0, 0]}], "id": "'
        for _ in range(LIMIT // 512 + 1):
            yield b"a" * 512
        yield b'"}'

    for client in clients:
        answer = client.post(f"/v2/models/{registry.key}/infer", content=chunks())
        assert answer.status_code == 413, answer.text
        assert "larger than this service accepts" in answer.json()["error"]


def test_other_methods_on_the_infer_path_are_405(registry: Registry, clients: Clients) -> None:
    answer = clients[0].get(f"/v2/models/{registry.key}/infer")
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
    assert "error" in answer.json()


def test_only_a_loaded_quick_public_model_runs_on_the_event_loop(registry: Registry, serve_app: Callable[..., str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    hops: list[str] = []
    hop = oip_serving.run_in_threadpool

    async def counted(function: Any, *args: Any) -> Any:
        hops.append(args[1])  # the model's name
        return await hop(function, *args)

    monkeypatch.setattr(oip_serving, "run_in_threadpool", counted)
    # generous limits: this test is about what may run on the loop, not about this machine's speed
    monkeypatch.setattr(oip_serving, "INLINE_MAX_S", 1.0)
    monkeypatch.setattr(oip_serving, "STATE_TTL_S", 60.0)
    body, headers = _json(X)
    with _client(serve_app(registry.app())) as client:
        for _ in range(3):
            assert client.post(f"/v2/models/{registry.key}/infer", content=body, headers=headers).status_code == 200
        assert hops == [registry.key]  # the load only
        monkeypatch.setattr(oip_serving, "INLINE_MAX_S", 0.0)  # now no prediction is quick enough
        assert client.post(f"/v2/models/{registry.key}/infer", content=body, headers=headers).status_code == 200
        assert hops == [registry.key] * 2
        monkeypatch.setattr(oip_serving, "INLINE_MAX_S", 1.0)
        for _ in range(2):  # a restricted model always goes through its token check, in a thread
            assert client.post(f"/v2/models/{registry.restricted}/infer", content=body,
                               headers=headers).status_code == 401
        assert hops == [registry.key] * 2 + [registry.restricted] * 2


def test_a_withdrawal_reaches_a_model_served_from_the_event_loop(tmp_path: Path, serve_app: Callable[..., str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    registry = Registry(tmp_path)
    body, headers = _json(X)
    with _client(serve_app(registry.app())) as client:
        for _ in range(2):
            assert client.post(f"/v2/models/{registry.key}/infer", content=body, headers=headers).status_code == 200
        withdraw(registry.store, registry.key, home=registry.home, base_iri=BASE_IRI, reason="superseded")
        monkeypatch.setattr(oip_serving, "STATE_TTL_S", 0.0)  # as if a second had passed
        answer = client.post(f"/v2/models/{registry.key}/infer", content=body, headers=headers)
        assert answer.status_code == 410 and "superseded" in answer.json()["error"]
    registry.store.close()


def test_infer_paths_are_recognised_under_a_root_path() -> None:
    assert infer_path({"path": "/v2/models/k/infer"}) == ("k", None)
    assert infer_path({"path": "/v2/models/k/versions/3/infer"}) == ("k", "3")
    assert infer_path({"path": "/api/v2/models/k/infer", "root_path": "/api"}) == ("k", None)
    for path in ("/v2/models/k/infer/", "/v2/models/k/ready", "/v2/models//infer", "/x/v2/models/k/infer"):
        assert infer_path({"path": path}) is None


def test_the_cost_estimate_ignores_a_preempted_prediction(monkeypatch: pytest.MonkeyPatch) -> None:
    class Slow:
        """A model whose predictions take ``seconds`` (by the clock the cache reads)."""

        def __init__(self) -> None:
            self.seconds = 0.0

        def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            clock[0] += self.seconds
            return dict(inputs)

    clock = [0.0]
    cache = ServingCache(ModelCache(1))
    key = ("m", None, None, None)
    model, inputs = Slow(), {"x": np.zeros((1, 100), np.float32)}
    monkeypatch.setattr(oip_serving, "time", SimpleNamespace(perf_counter=lambda: clock[0], monotonic=time.monotonic))
    assert not cache.quick(key, inputs)  # never measured: not known to be quick
    model.seconds = 0.0001
    cache.predict(key, model, inputs)  # type: ignore[arg-type]
    assert cache.quick(key, inputs)
    model.seconds = 0.050  # one prediction preempted for 50 ms says nothing about the model
    cache.predict(key, model, inputs)  # type: ignore[arg-type]
    assert cache.quick(key, inputs)
    assert not cache.quick(key, {"x": np.zeros((100, 100), np.float32)})  # 100 times the work: too long
    for _ in range(16):  # a model that really became slow is noticed within the window
        cache.predict(key, model, inputs)  # type: ignore[arg-type]
    assert not cache.quick(key, inputs)

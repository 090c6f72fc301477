"""Helpers for the load, crash-recovery, fuzzing and bad-input tests: a small model that really runs (an ONNX Gemm,
no training), the real ``fairkg serve`` in a subprocess on loopback, and the problem-document check.

Nothing here reaches beyond 127.0.0.1, and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _cards import dataset_card, model_card, write_card

BASE_IRI = "http://localhost:8000"
PROBLEM = "application/problem+json"
#: ``FAIRKG_FULL_LOAD=1``: the long form of the load, crash and fuzzing tests (by hand, not in CI).
FULL = os.environ.get("FAIRKG_FULL_LOAD", "") not in ("", "0")
#: the tiny model's weights: logits = x @ WEIGHTS + BIAS
WEIGHTS = np.array([[1.0, -1.0], [0.5, 0.25], [-2.0, 1.0], [0.0, 3.0]], dtype=np.float32)
BIAS = np.array([0.1, -0.2], dtype=np.float32)
REFERENCE_INPUT = np.arange(8, dtype=np.float32).reshape(2, 4) / 8


def onnx_bytes(doc: str = "") -> bytes:
    """An ONNX model ``logits = Gemm(x, W, b)`` with x float32 [batch, 4] and logits float32 [batch, 2]; ``doc``
    (its doc string) makes files of the same function differ byte-wise."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W", "b"], ["logits"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        initializer=[numpy_helper.from_array(WEIGHTS, "W"), numpy_helper.from_array(BIAS, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    model.doc_string = doc
    onnx.checker.check_model(model)
    return model.SerializeToString()


def expected_logits(x: np.ndarray) -> np.ndarray:
    return x @ WEIGHTS + BIAS


def reference_bytes() -> bytes:
    from safetensors.numpy import save

    return save({"input.x": REFERENCE_INPUT, "output.logits": expected_logits(REFERENCE_INPUT)})


def runnable_model_card(**overrides: Any) -> dict[str, Any]:
    """:func:`_cards.model_card` with one ONNX distribution (write it with :func:`write_runnable_model`)."""
    card = model_card(distributions=[{"path": "model.onnx", "format": "onnx", "runtime_version": "onnx opset 18"}])
    card.update(overrides)
    return card


def write_runnable_model(folder: Path, **overrides: Any) -> Path:
    """A card folder whose model runs on onnxruntime: x float32 [batch, 4] -> logits float32 [batch, 2]."""
    card = runnable_model_card(**overrides)
    return write_card(folder, card, {"model.onnx": onnx_bytes(), "reference.safetensors": reference_bytes()})


def write_dataset(folder: Path) -> Path:
    """The dataset the test model cards name as their training data (register it first)."""
    return write_card(folder, dataset_card())


def multipart(folder: Path) -> list[tuple[str, Any]]:
    """The parts of ``POST /models`` for a card folder: ``card`` and one ``files`` part per file."""
    parts: list[tuple[str, Any]] = [("card", ("card.yaml", (folder / "card.yaml").read_bytes(), "application/yaml"))]
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_file() and rel != "card.yaml":
            parts.append(("files", (rel, path.read_bytes(), "application/octet-stream")))
    return parts


def assert_problem(response: httpx.Response, status: int | None = None, *, v2: bool | None = None) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem document (with ``status`` if given); under ``/v2`` it also carries the
    protocol's ``error`` member. Returns the document."""
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}: {response.text[:300]}"
    if status is not None:
        assert response.status_code == status, where
    assert response.headers.get("content-type", "").split(";")[0] == PROBLEM, where
    doc = response.json()
    assert isinstance(doc, dict), where
    assert isinstance(doc.get("type"), str) and isinstance(doc.get("title"), str), where
    assert doc.get("status") == response.status_code, where
    if v2 is None:
        v2 = response.request.url.path.startswith("/v2")
    if v2:
        assert isinstance(doc.get("error"), str) and doc["error"], where
    return doc


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values``, nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, int(np.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def fairkg_command(home: Path, *args: str) -> list[str]:
    """``fairkg --home HOME ARGS...`` run by this interpreter (no console script on PATH needed)."""
    return [sys.executable, "-c", "from fairkg.api.cli import app; app(prog_name='fairkg')", "--home", str(home),
            *args]


def clean_environment(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FAIRKG_")}
    environment.update(extra)
    return environment


def create_token(home: Path, role: str) -> str:
    """A token made with ``fairkg token create --format json`` on ``home`` (as an operator would)."""
    done = subprocess.run(fairkg_command(home, "token", "create", "--name", f"test-{role}", "--role", role,
                                         "--format", "json"),
                          env=clean_environment(), capture_output=True, timeout=60, check=True)
    return json.loads(done.stdout)["token"]


@dataclass
class Server:
    """``fairkg serve`` on ``home`` in a subprocess, on a free loopback port (``--port 0``)."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    token: str = ""
    log: Path | None = None
    started_in: float = 0.0

    def start(self, seconds: float = 60) -> Server:
        self.log = self.home.parent / f"serve-{time.monotonic_ns()}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(fairkg_command(self.home, "serve", "--port", "0"),
                                            env=clean_environment(**self.env), stdout=out, stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        path = self.home / "server.json"
        while True:
            info = _read_json(path)
            if info is not None and info.get("pid") == self.process.pid:
                break
            if self.process.poll() is not None:
                raise AssertionError(f"fairkg serve exited with {self.process.returncode}:\n{self.output()}")
            if time.monotonic() - t0 > seconds:
                self.kill()
                raise AssertionError(f"fairkg serve did not announce itself within {seconds} s:\n{self.output()}")
            time.sleep(0.05)
        self.started_in = time.monotonic() - t0
        self.url, self.token = info["url"], info["token"]
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log and self.log.exists() else ""

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout, trust_env=False)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), SIGKILL if it does not stop within 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None

"""runners.dispatch: the caller's request or the fastest available, refusals that list what can run, checksums
verified before every load, and TensorRT plans built once and cached as new distributions (with fake runners, so
the ordering and the caching are tested without a GPU)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from _demo import MODELS, Demo, demo_registry

from fairkg.kg.artifacts import sha256_file
from fairkg.kg.distributions import DistributionRecord, add_distribution, inference_record
from fairkg.kg.errors import ArtifactError, NotFoundError
from fairkg.kg.register import withdraw
from fairkg.runners import (
    ChecksumError,
    DispatchError,
    LoadedModel,
    ModelSpec,
    RuntimeUnavailableError,
    WithdrawnModelError,
    load_model,
    select,
)
from fairkg.runners.base import BuiltArtifact, Runner
from fairkg.runners.dispatch import load_selection
from fairkg.runners.plans import Machine, plan_refusal
from fairkg.runners.registry import runners as registered_runners

DIGITS = ("digits-data", "digits-cnn")
needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return demo_registry(tmp_path_factory.mktemp("dispatch-home"))


@pytest.fixture
def digits(tmp_path: Path) -> Demo:
    """A registry of its own holding the digits model, for tests that tamper with it."""
    return demo_registry(tmp_path / "home", only=DIGITS)


def _select(demo: Demo, name: str = "digits-cnn", **request: object):  # noqa: ANN202 - a Selection
    return select(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model(name), **request)


# -- the real runtimes here ----------------------------------------------------------------------------------------


@needs_no_gpu
@pytest.mark.parametrize("name", MODELS)
def test_by_default_onnxruntime_on_the_cpu_comes_before_torch(demo: Demo, name: str) -> None:
    selection = _select(demo, name)
    assert (selection.runtime, selection.device, selection.distribution.format) == ("onnxruntime", "cpu", "onnx")
    assert not selection.requested and not selection.build
    usable = [o.as_dict() for o in selection.options if o.available]
    assert usable == [
        {"runtime": "onnxruntime", "device": "cpu", "format": "onnx"},
        {"runtime": "torch", "device": "cpu", "format": "safetensors"},
        {"runtime": "torch", "device": "cpu", "format": "torch-export"},
    ]


@pytest.mark.parametrize(("request_", "expected"), [
    ({"runtime": "torch"}, ("torch", "safetensors")),
    ({"runtime": "PyTorch"}, ("torch", "safetensors")),
    ({"runtime": "torch", "format": "torch-export"}, ("torch", "torch-export")),
    ({"format": "torch-export"}, ("torch", "torch-export")),
    ({"runtime": "ort", "device": "cpu"}, ("onnxruntime", "onnx")),
])
def test_a_request_that_can_be_met_is_honoured(demo: Demo, request_: dict[str, str],
                                               expected: tuple[str, str]) -> None:
    selection = _select(demo, **request_)
    assert (selection.runtime, selection.distribution.format) == expected
    assert selection.device == "cpu" and selection.requested


@needs_no_gpu
def test_an_impossible_device_is_refused_listing_what_is_available(demo: Demo) -> None:
    with pytest.raises(DispatchError) as caught:
        _select(demo, device="cuda")
    message = str(caught.value)
    assert "device=cuda" in message
    assert "available here: onnxruntime on cpu (onnx); torch on cpu (safetensors); torch on cpu (torch-export)" \
        in message
    assert caught.value.available[0] == {"runtime": "onnxruntime", "device": "cpu", "format": "onnx"}


def test_a_runtime_that_is_not_installed_is_refused(demo: Demo) -> None:
    if registered_runners()["tensorrt"].available_devices():
        pytest.skip("TensorRT can run here")
    with pytest.raises(RuntimeUnavailableError, match="tensorrt is not installed.*available here: onnxruntime"):
        _select(demo, runtime="tensorrt")


def test_an_unknown_runtime_is_refused(demo: Demo) -> None:
    with pytest.raises(DispatchError, match="unknown runtime 'mxnet'"):
        _select(demo, runtime="mxnet")


def test_an_unknown_model_is_not_found(demo: Demo) -> None:
    with pytest.raises(NotFoundError):
        select(demo.store, home=demo.home, base_iri=demo.base_iri,
               model_iri=f"{demo.base_iri}/id/00000000-0000-4000-8000-000000000000")


# -- checksums are verified before every load ---------------------------------------------------------------------


class Spy:
    """Wraps a real runner, recording every load."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.name = runner.name
        self.formats = runner.formats
        self.loads: list[str] = []

    def version(self) -> str | None:
        return self.runner.version()

    def available_devices(self) -> list[str]:
        return self.runner.available_devices()

    def unsupported(self, distribution: DistributionRecord, device: str) -> str | None:
        return self.runner.unsupported(distribution, device)

    def load(self, distribution: DistributionRecord, device: str, *, artifact: Path, spec: ModelSpec) -> LoadedModel:
        self.loads.append(distribution.format)
        return self.runner.load(distribution, device, artifact=artifact, spec=spec)


def _flip_one_byte(home: Path, distribution: DistributionRecord) -> None:
    path = home / distribution.location
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_tampered_artifact_is_refused_and_never_loaded(digits: Demo) -> None:
    spies = {name: Spy(runner) for name, runner in registered_runners().items()}
    record = inference_record(digits.store, digits.model("digits-cnn"))
    onnx = next(d for d in record.distributions if d.format == "onnx")
    _flip_one_byte(digits.home, onnx)
    args = {"home": digits.home, "base_iri": digits.base_iri, "model_iri": digits.model("digits-cnn"),
            "runners": spies}
    with pytest.raises(ChecksumError) as caught:
        load_model(digits.store, **args, runtime="onnxruntime")
    assert isinstance(caught.value, ArtifactError)
    assert "does not match its recorded SHA-256" in str(caught.value) and onnx.sha256 in str(caught.value)
    assert all(spy.loads == [] for spy in spies.values())
    model = load_model(digits.store, **args, runtime="torch")  # the other files are intact
    model.release()
    assert spies["torch"].loads == ["safetensors"]


def test_a_missing_artifact_is_passed_over_with_the_reason(digits: Demo) -> None:
    record = inference_record(digits.store, digits.model("digits-cnn"))
    onnx = next(d for d in record.distributions if d.format == "onnx")
    (digits.home / onnx.location).unlink()
    selection = _select(digits)
    assert selection.runtime == "torch"
    skipped = next(o for o in selection.options if o.distribution.format == "onnx")
    assert skipped.reason == "model.onnx is missing from the registry home"


def test_a_withdrawn_model_is_not_loaded(digits: Demo) -> None:
    withdraw(digits.store, digits.model("digits-cnn"), home=digits.home, base_iri=digits.base_iri, reason="test")
    with pytest.raises(WithdrawnModelError, match="withdrawn"):
        _select(digits)


# -- ordering, building and caching, with fake runners ---------------------------------------------------------------


class FakeModel(LoadedModel):
    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = next(iter(inputs.values())).shape[0]
        return {s.name: np.zeros((batch, 10), np.float32) for s in self.spec.outputs}

    def _release(self) -> None:
        pass


class FakeRunner:
    """A runtime on a fake GPU and the CPU."""

    def __init__(self, name: str, formats: tuple[str, ...], devices: list[str]) -> None:
        self.name, self.formats, self.devices = name, formats, devices
        self.loads: list[tuple[str, str]] = []

    def version(self) -> str | None:
        return f"{self.name} 0.0"

    def available_devices(self) -> list[str]:
        return list(self.devices)

    def unsupported(self, distribution: DistributionRecord, device: str) -> str | None:
        return None if distribution.format in self.formats and device in self.devices else "no"

    def load(self, distribution: DistributionRecord, device: str, *, artifact: Path, spec: ModelSpec) -> LoadedModel:
        assert sha256_file(artifact) == distribution.sha256
        self.loads.append((distribution.format, device))
        return FakeModel(runtime=self.name, device=device, distribution=distribution, spec=spec)


FAKE_GPU = Machine(gpus=(), tensorrt_version=None)


class FakeBuilder(FakeRunner):
    """A TensorRT stand-in: loads plans built for its fake GPU, builds them from ONNX."""

    builds_from: ClassVar[tuple[str, ...]] = ("onnx",)

    def __init__(self) -> None:
        super().__init__("tensorrt", ("tensorrt",), ["cuda:0"])
        self.builds: list[str] = []

    def unsupported(self, distribution: DistributionRecord, device: str) -> str | None:
        if distribution.format == "onnx":
            return None
        if distribution.built_for != "Fake GPU":
            return plan_refusal(distribution, FAKE_GPU, device=device)
        return None

    def build(self, source: DistributionRecord, device: str, *, artifact: Path, spec: ModelSpec,
              out_dir: Path) -> BuiltArtifact:
        assert sha256_file(artifact) == source.sha256
        self.builds.append(source.name)
        path = out_dir / "model.fake-gpu.plan"
        path.write_bytes(struct.pack("<4sIIIQ", b"ptrt", 0, 999, 0, 8) + bytes(8))
        return BuiltArtifact(path, "tensorrt", path.name, runtime_version="FakeRT 1.0", built_for="Fake GPU")


def _fakes() -> dict[str, Runner]:
    return {"torch": FakeRunner("torch", ("safetensors", "torch-export"), ["cuda:0", "cpu"]),
            "onnxruntime": FakeRunner("onnxruntime", ("onnx",), ["cuda:0", "cpu"]),
            "tensorrt": FakeBuilder()}


def test_the_fastest_comes_first(demo: Demo) -> None:
    selection = _select(demo, runners=_fakes())
    assert [o.as_dict() for o in selection.options] == [
        {"runtime": "tensorrt", "device": "cuda:0", "format": "onnx->tensorrt"},
        {"runtime": "onnxruntime", "device": "cuda:0", "format": "onnx"},
        {"runtime": "torch", "device": "cuda:0", "format": "safetensors"},
        {"runtime": "torch", "device": "cuda:0", "format": "torch-export"},
        {"runtime": "onnxruntime", "device": "cpu", "format": "onnx"},
        {"runtime": "torch", "device": "cpu", "format": "safetensors"},
        {"runtime": "torch", "device": "cpu", "format": "torch-export"},
    ]
    assert (selection.runtime, selection.device, selection.build) == ("tensorrt", "cuda:0", True)
    assert _select(demo, runners=_fakes(), device="cpu").runtime == "onnxruntime"
    assert _select(demo, runners=_fakes(), runtime="torch").device == "cuda:0"
    assert _select(demo, runners=_fakes(), runtime="torch", device="cpu").device == "cpu"


def test_a_plan_is_built_once_and_cached_as_a_distribution(digits: Demo) -> None:
    fakes = _fakes()
    builder = fakes["tensorrt"]
    assert isinstance(builder, FakeBuilder)
    args = {"home": digits.home, "base_iri": digits.base_iri, "model_iri": digits.model("digits-cnn"),
            "runners": fakes}
    model = load_model(digits.store, **args)
    assert (model.runtime, model.device, model.format) == ("tensorrt", "cuda:0", "tensorrt")
    assert model.predict({"image": np.zeros((3, 1, 8, 8), np.float32)})["logits"].shape == (3, 10)
    plan = next(d for d in inference_record(digits.store, digits.model("digits-cnn")).distributions
                if d.format == "tensorrt")
    assert (plan.name, plan.built_for, plan.runtime_version) == ("model.fake-gpu.plan", "Fake GPU", "FakeRT 1.0")
    assert plan.iri == model.distribution_iri
    assert sha256_file(digits.home / plan.location) == plan.sha256
    again = select(digits.store, **args)
    assert (again.build, again.distribution.iri) == (False, plan.iri)
    load_selection(digits.store, again, home=digits.home, base_iri=digits.base_iri, runners=fakes)
    assert builder.builds == ["model.onnx"]  # built once
    assert builder.loads == [("tensorrt", "cuda:0"), ("tensorrt", "cuda:0")]


def test_a_foreign_plan_is_passed_over_and_rebuilt(digits: Demo, tmp_path: Path) -> None:
    foreign = tmp_path / "old.plan"
    foreign.write_bytes(struct.pack("<4sIIIQ", b"ptrt", 0, 205, 0, 8) + bytes(8))
    add_distribution(digits.store, digits.home, digits.model("digits-cnn"), foreign, "tensorrt",
                     base_iri=digits.base_iri, built_for="NVIDIA A100", runtime_version="TensorRT 8.2")
    selection = _select(digits, runners=_fakes())
    assert selection.build and selection.distribution.format == "onnx"
    refused = next(o for o in selection.options if o.distribution.name == "old.plan")
    assert "built for NVIDIA A100 with TensorRT 8.2" in (refused.reason or "")


def test_add_distribution_replaces_one_of_the_same_name(digits: Demo, tmp_path: Path) -> None:
    iri = digits.model("digits-cnn")
    before = len(inference_record(digits.store, iri).distributions)
    for content in (b"first", b"second"):
        file = tmp_path / "extra.plan"
        file.write_bytes(content)
        added = add_distribution(digits.store, digits.home, iri, file, "tensorrt", base_iri=digits.base_iri)
    record = inference_record(digits.store, iri)
    assert len(record.distributions) == before + 1
    assert next(d for d in record.distributions if d.iri == added.iri).sha256 == sha256_file(file)
    with pytest.raises(NotFoundError):
        add_distribution(digits.store, digits.home, f"{digits.base_iri}/id/00000000-0000-4000-8000-000000000000",
                         file, "onnx", base_iri=digits.base_iri)

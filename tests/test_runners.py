"""runners: discovery, every runtime reproducing the examples' reference outputs, input checks, the cache, the
pickle-free check of torch.export archives, TensorRT plan recognition and refusal (without TensorRT), and the
machine's description in the graph."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from _demo import MODELS, PEER_MODEL, Demo, SmallNet, demo_registry
from rdflib import Literal

from fairkg.kg.distributions import DistributionRecord, TensorSpecRecord, inference_record
from fairkg.kg.namespaces import FKG
from fairkg.runners import (
    ArchitectureError,
    ForeignPlanError,
    InputError,
    LoadedModel,
    ModelCache,
    ModelSpec,
    UnsafeArtifactError,
    available_runtimes,
    describe_machine,
    load_model,
)
from fairkg.runners.architectures import build_architecture, registered_architectures
from fairkg.runners.consistency import deviation, read_reference
from fairkg.runners.inputs import check_inputs
from fairkg.runners.plans import Gpu, Machine, check_plan, plan_refusal, read_plan_header
from fairkg.runners.registry import runner_table, runners
from fairkg.runners.tensorrt_runner import TensorRTRunner
from fairkg.runners.torch_runner import TorchRunner, check_pickle_free

FORMATS = (("torch", "torch-export"), ("torch", "safetensors"), ("onnxruntime", "onnx"))
PLAN = PEER_MODEL / "5_10_gnn.plan"
needs_peer_model = pytest.mark.skipif(not PLAN.is_file(), reason=f"the published peer model is not at {PEER_MODEL}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return demo_registry(tmp_path_factory.mktemp("runners-home"))


# -- discovery ---------------------------------------------------------------------------------------------------


def test_entry_points_name_the_built_in_runners_and_architectures() -> None:
    runner_points = {e.name: e.value for e in importlib.metadata.entry_points(group="fairkg.runners")}
    assert runner_points == {
        "tensorrt": "fairkg.runners.tensorrt_runner:TensorRTRunner",
        "onnxruntime": "fairkg.runners.onnx_runner:OnnxRuntimeRunner",
        "torch": "fairkg.runners.torch_runner:TorchRunner",
    }
    architecture_points = {e.name for e in importlib.metadata.entry_points(group="fairkg.architectures")}
    assert architecture_points == {"fairkg.digits-cnn", "fairkg.braggnn", "fairkg.interaction-network"}
    assert set(runner_table()) >= set(runner_points)
    assert set(registered_architectures()) >= architecture_points
    assert list(runners()) == ["tensorrt", "onnxruntime", "torch"]  # fastest first, all importable without TensorRT


def test_importing_runners_imports_no_runtime() -> None:
    code = ("import sys, fairkg.runners; "
            "print(sorted(m for m in ('torch', 'onnxruntime', 'tensorrt') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"


def test_available_runtimes_here() -> None:
    found = {info.name: info for info in available_runtimes()}
    assert "cpu" in found["onnxruntime"].devices and "CPUExecutionProvider" in found["onnxruntime"].providers
    assert "cpu" in found["torch"].devices
    if found["tensorrt"].version is None:
        assert found["tensorrt"].devices == () and "not installed" in (found["tensorrt"].reason or "")


def test_an_unregistered_architecture_is_never_imported() -> None:
    with pytest.raises(ArchitectureError, match="not registered here"):
        build_architecture("os:system")
    record = DistributionRecord("urn:d", "safetensors", "m.safetensors", "a/b", "0" * 64, 1, architecture="os:system")
    assert "not registered" in (TorchRunner().unsupported(record, "cpu") or "")


def test_a_program_from_another_torch_version_is_left_to_the_weights() -> None:
    record = DistributionRecord("urn:d", "torch-export", "m.pt2", "a/b", "0" * 64, 1, runtime_version="torch 1.13.1")
    assert "tied to the torch version" in (TorchRunner().unsupported(record, "cpu") or "")


# -- every runtime reproduces the reference output -----------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(("runtime", "fmt"), FORMATS)
def test_runtime_reproduces_the_reference_output(demo: Demo, name: str, runtime: str, fmt: str) -> None:
    record = inference_record(demo.store, demo.model(name))
    assert record.reference is not None
    inputs, expected = read_reference(demo.home, record.reference)
    model = load_model(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model(name),
                       runtime=runtime, format=fmt)
    try:
        assert (model.runtime, model.device, model.format) == (runtime, "cpu", fmt)
        assert [s.name for s in model.input_specs] == list(inputs)
        assert [s.name for s in model.output_specs] == list(expected)
        got = model.predict(inputs)
    finally:
        model.release()
    assert list(got) == list(expected)
    largest, _ = deviation(got, expected)
    assert largest <= record.reference.tolerance
    assert model.released
    with pytest.raises(RuntimeError, match="released"):
        model.predict(inputs)


# -- inputs --------------------------------------------------------------------------------------------------------

SPECS = (TensorSpecRecord("tracks", "float32", ("batch", 30, 60), 0),
         TensorSpecRecord("vertices", "float32", ("batch", 14, 5), 1))


def _inputs(batch: int = 2, vertices_batch: int | None = None) -> dict[str, np.ndarray]:
    return {"tracks": np.zeros((batch, 30, 60), np.float32),
            "vertices": np.zeros((vertices_batch or batch, 14, 5), np.float32)}


def test_inputs_are_returned_in_spec_order() -> None:
    given = dict(reversed(list(_inputs().items())))
    assert list(check_inputs(SPECS, given)) == ["tracks", "vertices"]


@pytest.mark.parametrize(
    ("inputs", "problem"),
    [
        ({"tracks": np.zeros((2, 30, 60), np.float32)}, "missing input vertices"),
        ({**_inputs(), "jets": np.zeros(2, np.float32)}, "unexpected input jets (the model takes tracks, vertices)"),
        ({**_inputs(), "tracks": np.zeros((2, 30, 60), np.float64)}, "tracks: expected dtype float32, got float64"),
        ({**_inputs(), "vertices": np.zeros((2, 14, 6), np.float32)},
         "vertices: expected shape [batch, 14, 5], got [2, 14, 6] (dimension 2 must be 5)"),
        ({**_inputs(), "tracks": np.zeros((2, 30), np.float32)},
         "tracks: expected shape [batch, 30, 60] (rank 3), got [2, 30] (rank 2)"),
        (_inputs(2, 3), "vertices: dimension 0 (batch) is 3, but batch is 2 in tracks"),
    ],
)
def test_mismatched_inputs_are_refused_naming_expected_and_given(inputs: dict[str, np.ndarray], problem: str) -> None:
    with pytest.raises(InputError) as caught:
        check_inputs(SPECS, inputs)
    assert problem in caught.value.problems
    assert caught.value.expected[0] == {"name": "tracks", "dtype": "float32", "shape": ["batch", 30, 60]}
    assert set(caught.value.given) == set(inputs)
    assert problem in str(caught.value)


def test_a_loaded_model_checks_inputs_before_the_runtime(demo: Demo) -> None:
    model = load_model(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model("digits-cnn"))
    try:
        with pytest.raises(InputError) as caught:
            model.predict({"images": np.zeros((1, 1, 8, 8), np.float32)})
        assert caught.value.expected == [{"name": "image", "dtype": "float32", "shape": ["batch", 1, 8, 8]}]
        assert caught.value.given == {"images": {"dtype": "float32", "shape": [1, 1, 8, 8]}}
        assert model.predict({"image": np.zeros((5, 1, 8, 8), np.float32)})["logits"].shape == (5, 10)
    finally:
        model.release()


# -- the cache -----------------------------------------------------------------------------------------------------


class FakeModel(LoadedModel):
    def __init__(self, name: str) -> None:
        record = DistributionRecord(f"urn:{name}", "onnx", name, "a/b", "0" * 64, 1)
        super().__init__(runtime="fake", device="cpu", distribution=record, spec=ModelSpec("urn:m", "m", (), ()))
        self.releases = 0

    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {}

    def _release(self) -> None:
        self.releases += 1


def test_the_cache_evicts_the_least_recently_used_and_releases_it() -> None:
    cache = ModelCache(max_size=2)
    a, b, c = FakeModel("a"), FakeModel("b"), FakeModel("c")
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a") is a  # now b is the least recently used
    cache.put("c", c)
    assert "b" not in cache and "a" in cache and "c" in cache
    assert (a.releases, b.releases, c.releases) == (0, 1, 0)
    assert b.released
    loads = []
    assert cache.get_or_load("c", lambda: loads.append(1) or FakeModel("x")) is c and loads == []
    cache.clear()
    assert len(cache) == 0 and a.releases == 1 and c.releases == 1
    a.release()
    assert a.releases == 1  # release is idempotent


def test_load_model_reuses_the_cached_model(demo: Demo) -> None:
    cache = ModelCache(max_size=1)
    args = {"home": demo.home, "base_iri": demo.base_iri, "model_iri": demo.model("braggnn"), "cache": cache}
    first = load_model(demo.store, **args)
    assert load_model(demo.store, **args) is first
    other = load_model(demo.store, **args, runtime="torch")
    assert other is not first and first.released and not other.released
    cache.clear()
    assert other.released


# -- torch.export archives are checked for pickles before torch.export.load sees them ---------------------------------


def _archive(tmp_path: Path) -> Path:
    program = torch.export.export(SmallNet(), (torch.zeros(1, 3),))
    path = tmp_path / "small.pt2"
    torch.export.save(program, path)
    return path


def _rewrite(source: Path, target: Path, change: dict[str, bytes | None]) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = change.get(name.split("/", 1)[1], old.read(name))
            if data is not None:
                new.writestr(name, data)
        for rel, data in change.items():
            if rel.startswith("/") and data is not None:
                new.writestr(rel.lstrip("/"), data)
    return target


def test_a_plain_archive_passes_the_pickle_check(tmp_path: Path) -> None:
    check_pickle_free(_archive(tmp_path))


def test_pickled_weights_in_an_archive_are_refused(tmp_path: Path) -> None:
    source = _archive(tmp_path)
    with zipfile.ZipFile(source) as archive:
        name = next(n for n in archive.namelist() if n.endswith("model_weights_config.json"))
        config = json.loads(archive.read(name))
    for entry in config["config"].values():
        entry["use_pickle"] = True
    changed = {"data/weights/model_weights_config.json": json.dumps(config).encode()}
    bad = _rewrite(source, tmp_path / "bad.pt2", changed)
    with pytest.raises(UnsafeArtifactError, match="stored as a pickle"):
        check_pickle_free(bad)


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, ("raise SystemExit('payload ran')",))


def test_sample_inputs_that_need_a_full_unpickler_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(_Payload(), buffer)
    bad = _rewrite(_archive(tmp_path), tmp_path / "bad.pt2", {"data/sample_inputs/model.pt": buffer.getvalue()})
    with pytest.raises(UnsafeArtifactError, match="weights_only=True"):
        check_pickle_free(bad)


@pytest.mark.parametrize("extra", ["/serialized_state_dict.pt", "/small/data/weights/model.pt"])
def test_legacy_pickled_files_in_an_archive_are_refused(tmp_path: Path, extra: str) -> None:
    bad = _rewrite(_archive(tmp_path), tmp_path / "bad.pt2", {extra: b"not looked at"})
    with pytest.raises(UnsafeArtifactError):
        check_pickle_free(bad)


def test_a_file_that_is_no_archive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.pt2"
    path.write_bytes(b"\x80\x04not a zip")
    with pytest.raises(UnsafeArtifactError, match="not a PT2"):
        check_pickle_free(path)


# -- TensorRT plans: recognised and refused without TensorRT --------------------------------------------------------

H100 = Machine(gpus=(Gpu("NVIDIA H100 80GB HBM3", "9.0"),), tensorrt_version="10.3.0")
A100 = Machine(gpus=(Gpu("NVIDIA A100-SXM4-40GB", "8.0"),), tensorrt_version="8.2.4")
NOTHING = Machine(gpus=(), tensorrt_version=None)


def _plan_record(built_for: str | None = "NVIDIA A100", runtime: str | None = "TensorRT 8.2") -> DistributionRecord:
    return DistributionRecord("urn:plan", "tensorrt", "m.plan", "a/b", "0" * 64, 1, built_for=built_for,
                              runtime_version=runtime)


def _fake_plan(path: Path, tag: int, kernels: bytes = b"") -> Path:
    body = kernels + bytes(64)
    path.write_bytes(struct.pack("<4sIIIQ", b"ptrt", 0, tag, 0, len(body)) + body)
    return path


@needs_peer_model
def test_the_published_plan_is_recognised_from_its_bytes() -> None:
    header = read_plan_header(PLAN)
    assert header is not None
    assert header.serialization_tag == 205 and header.tensorrt_version == "8.2"
    assert header.compute_capabilities == ("8.0",)
    assert header.complete


def test_other_files_are_not_plans(tmp_path: Path) -> None:
    (tmp_path / "x.plan").write_bytes(b"ONNX" + bytes(100))
    assert read_plan_header(tmp_path / "x.plan") is None
    with pytest.raises(ForeignPlanError, match="not a TensorRT plan"):
        check_plan(tmp_path / "x.plan", _plan_record(), A100, device="cuda:0")


@pytest.mark.parametrize(
    ("record", "machine", "expected"),
    [
        (_plan_record(), NOTHING, "this machine has no CUDA GPU and no TensorRT"),
        (_plan_record(), H100, "it needs TensorRT 8.2, cuda:0 is a NVIDIA H100 80GB HBM3"),
        (_plan_record(runtime="TensorRT 10.3.0"), H100, "cuda:0 is a NVIDIA H100 80GB HBM3"),
        (_plan_record(built_for="NVIDIA H100 80GB HBM3", runtime="TensorRT 8.6"), H100, "it needs TensorRT 8.6"),
        (_plan_record(built_for=None, runtime=None), H100, "is not recorded, so it cannot be checked"),
        (_plan_record(), A100, None),
        (_plan_record(built_for="NVIDIA H100 80GB HBM3", runtime="TensorRT 10.3"), H100, None),
    ],
)
def test_plans_load_only_where_gpu_and_tensorrt_match(record: DistributionRecord, machine: Machine,
                                                      expected: str | None) -> None:
    reason = plan_refusal(record, machine)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason and "rebuild it from the model's ONNX" in reason


def test_the_header_is_checked_against_the_machine_too(tmp_path: Path) -> None:
    plan = _fake_plan(tmp_path / "m.plan", 205, b"sm80_xmma_gemm")
    record = _plan_record(built_for="NVIDIA H100 80GB HBM3", runtime="TensorRT 10.3")  # a record that lies
    with pytest.raises(ForeignPlanError, match="header is TensorRT 8.2's.*compute capability 9.0"):
        check_plan(plan, record, H100, device="cuda:0")
    truncated = tmp_path / "t.plan"
    truncated.write_bytes(plan.read_bytes()[:-10])
    with pytest.raises(ForeignPlanError, match="truncated"):
        check_plan(truncated, _plan_record(), A100, device="cuda:0")


@needs_peer_model
def test_the_tensorrt_runner_refuses_a_foreign_plan_before_touching_tensorrt() -> None:
    runner = TensorRTRunner()
    record = _plan_record(built_for="NVIDIA A100", runtime="TensorRT 8.x")
    assert "rebuild it from the model's ONNX" in (runner.unsupported(record, "cuda:0") or "")
    with pytest.raises(ForeignPlanError, match="NVIDIA A100 with TensorRT 8.x"):
        runner.load(record, "cuda:0", artifact=PLAN, spec=ModelSpec("urn:m", "m", (), ()))


def test_without_tensorrt_the_runner_offers_no_device() -> None:
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here")
    assert TensorRTRunner().available_devices() == []
    assert TensorRTRunner().version() is None


# -- the machine in the graph ---------------------------------------------------------------------------------------


def test_the_machine_and_its_runtimes_are_described_once(demo: Demo) -> None:
    machine = describe_machine(demo.store, base_iri=demo.base_iri)
    count = demo.store.count()
    assert describe_machine(demo.store, base_iri=demo.base_iri) == machine
    assert demo.store.count() == count
    described = demo.store.describe(str(machine))
    supported = {str(o) for o in described.objects(machine, FKG.supportsRuntime)}
    assert any(s.startswith("onnxruntime ") and s.endswith(" on cpu (CPUExecutionProvider)") for s in supported)
    assert any(s.startswith("torch ") and s.endswith(" on cpu") for s in supported)
    assert (machine, FKG.cpuCores, None) in described
    assert Literal("tensorrt") not in set(described.objects())

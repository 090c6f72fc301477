"""runners on a CUDA GPU: torch from safetensors weights and from torch.export programs, dispatch preferring the GPU,
onnxruntime's CUDA provider and TensorRT when installed, GPU memory released on eviction, and the consistency check
across CPU and GPU. Every test skips without a CUDA GPU; run them alone with ``pytest tests/test_runners_gpu.py``.

torch must be a CUDA build here (``pyproject.toml`` pins the CPU build 2.13.0, so on a GPU machine install the CUDA
wheel of the same version first).
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from _demo import MODELS, Demo, demo_registry

from fairkg.kg.distributions import inference_record
from fairkg.runners import ModelCache, check_model, load_model, select
from fairkg.runners.consistency import deviation, read_reference
from fairkg.runners.registry import runners

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="needs a CUDA GPU (torch.cuda.is_available() is False)"),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return demo_registry(tmp_path_factory.mktemp("gpu-home"))


def _reference(demo: Demo, name: str):  # noqa: ANN202 - (inputs, outputs, tolerance)
    record = inference_record(demo.store, demo.model(name))
    assert record.reference is not None
    inputs, outputs = read_reference(demo.home, record.reference)
    return inputs, outputs, record.reference.tolerance


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("fmt", ["safetensors", "torch-export"])
def test_torch_on_cuda_reproduces_the_reference(demo: Demo, name: str, fmt: str) -> None:
    inputs, expected, tolerance = _reference(demo, name)
    model = load_model(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model(name),
                       runtime="torch", device="cuda", format=fmt)
    try:
        assert model.device == "cuda:0" and model.format == fmt
        got = model.predict(inputs)
    finally:
        model.release()
    largest, _ = deviation(got, expected)
    # GPU kernels (TF32 convolutions included) differ from the CPU's in the last bits
    assert largest <= max(tolerance, 1e-3)


def test_dispatch_prefers_the_gpu(demo: Demo) -> None:
    selection = select(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model("digits-cnn"))
    assert selection.device.startswith("cuda:")
    expected = "tensorrt" if runners()["tensorrt"].available_devices() else (
        "onnxruntime" if "cuda:0" in runners()["onnxruntime"].available_devices() else "torch")
    assert selection.runtime == expected
    assert select(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model("digits-cnn"),
                  runtime="torch").device == "cuda:0"
    assert select(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model("digits-cnn"),
                  device="cpu").device == "cpu"


def test_eviction_frees_gpu_memory(demo: Demo) -> None:
    cache = ModelCache(max_size=1)
    args = {"home": demo.home, "base_iri": demo.base_iri, "runtime": "torch", "device": "cuda", "cache": cache}
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated(0)
    first = load_model(demo.store, model_iri=demo.model("braggnn"), **args)
    assert torch.cuda.memory_allocated(0) > before
    load_model(demo.store, model_iri=demo.model("digits-cnn"), **args)
    assert first.released
    cache.clear()
    assert torch.cuda.memory_allocated(0) <= before


def test_onnxruntime_on_cuda(demo: Demo) -> None:
    if "cuda:0" not in runners()["onnxruntime"].available_devices():
        pytest.skip("the installed onnxruntime has no CUDA execution provider (install onnxruntime-gpu)")
    inputs, expected, tolerance = _reference(demo, "braggnn")
    model = load_model(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model("braggnn"),
                       runtime="onnxruntime", device="cuda")
    try:
        got = model.predict(inputs)
    finally:
        model.release()
    assert deviation(got, expected)[0] <= max(tolerance, 1e-3)


def test_tensorrt_builds_a_plan_once_and_reuses_it(demo: Demo) -> None:
    if importlib.util.find_spec("tensorrt") is None:
        pytest.skip("TensorRT is not installed (pip install 'fairkg[tensorrt]')")
    inputs, expected, tolerance = _reference(demo, "interaction-network")
    args = {"home": demo.home, "base_iri": demo.base_iri, "model_iri": demo.model("interaction-network"),
            "runtime": "tensorrt"}
    first = load_model(demo.store, **args)
    try:
        got = first.predict(inputs)
    finally:
        first.release()
    assert deviation(got, expected)[0] <= max(tolerance, 1e-3)
    plans = [d for d in inference_record(demo.store, demo.model("interaction-network")).distributions
             if d.format == "tensorrt"]
    assert len(plans) == 1 and plans[0].built_for == torch.cuda.get_device_name(0)
    again = select(demo.store, **args)
    assert not again.build and again.distribution.iri == plans[0].iri


def test_the_consistency_check_covers_the_gpu(demo: Demo) -> None:
    report = check_model(demo.store, home=demo.home, base_iri=demo.base_iri, model_iri=demo.model("braggnn"))
    devices = {run.device for run in report.runs}
    assert "cpu" in devices and "cuda:0" in devices
    assert all(run.error is None for run in report.runs)

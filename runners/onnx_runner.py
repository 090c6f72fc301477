"""ONNX Runtime: ONNX models on the CPU, and on CUDA GPUs through the CUDA or TensorRT execution providers when
the installed onnxruntime build has them (``onnxruntime-gpu``).

An ONNX file is a protobuf graph with its weights as tensors: loading it runs no Python code and unpickles
nothing. Errors from onnxruntime (its own exception classes, not Python built-ins) are translated here.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from fairkg.kg.distributions import DistributionRecord
from fairkg.kg.environment import detect_gpus
from fairkg.runners.base import LoadedModel, ModelSpec, device_kind
from fairkg.runners.errors import ModelLoadError, PredictionError, RuntimeUnavailableError

__all__ = ["OnnxRuntimeRunner", "OnnxSession", "providers_for"]

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
_ORT_ERROR_NAMES = ("Fail", "InvalidArgument", "InvalidProtobuf", "NoSuchFile", "RuntimeException", "EPFail",
                    "InvalidGraph", "NotImplemented", "ModelLoaded", "EngineError")


@functools.cache
def _ort_errors() -> tuple[type[BaseException], ...]:
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    return tuple(getattr(state, name) for name in _ORT_ERROR_NAMES if hasattr(state, name))


def providers_for(device: str, available: list[str]) -> list[Any]:
    """The execution providers for ``device``, fastest first, from those the installed build ``available`` has.

    >>> providers_for("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    ['CPUExecutionProvider']
    >>> providers_for("cuda:1", ["CUDAExecutionProvider", "CPUExecutionProvider"])[0]
    ('CUDAExecutionProvider', {'device_id': 1})
    """
    if device_kind(device) == "cpu":
        return [CPU]
    index = int(device.partition(":")[2] or 0)
    chosen: list[Any] = []
    if TENSORRT in available:
        chosen.append((TENSORRT, {"device_id": index}))
    if CUDA in available:
        chosen.append((CUDA, {"device_id": index}))
    return [*chosen, CPU]


class OnnxSession(LoadedModel):
    """An ``onnxruntime.InferenceSession`` on one device."""

    def __init__(self, session: Any, *, device: str, distribution: DistributionRecord, spec: ModelSpec,
                 version: str | None) -> None:
        super().__init__(runtime=OnnxRuntimeRunner.name, device=device, distribution=distribution, spec=spec,
                         runtime_version=version)
        self._session = session
        graph_inputs = [i.name for i in session.get_inputs()]
        graph_outputs = [o.name for o in session.get_outputs()]
        spec_inputs = [s.name for s in spec.inputs]
        spec_outputs = [s.name for s in spec.outputs]
        # a graph whose tensor names differ from the card's is fed and read by position
        self._feed_names = dict(zip(spec_inputs, graph_inputs if set(graph_inputs) != set(spec_inputs)
                                    else spec_inputs, strict=False))
        self._fetch = graph_outputs if set(graph_outputs) != set(spec_outputs) else spec_outputs
        self._output_names = spec_outputs or graph_outputs
        self.providers = list(session.get_providers())

    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {self._feed_names[name]: array for name, array in inputs.items()}
        try:
            outputs = self._session.run(self._fetch, feed)
        except _ort_errors() as exc:
            raise PredictionError(f"onnxruntime failed to run {self.distribution.name}: {exc}") from exc
        return {name: np.asarray(value) for name, value in zip(self._output_names, outputs, strict=False)}

    def _release(self) -> None:
        self._session = None


class OnnxRuntimeRunner:
    """Runs ONNX distributions with onnxruntime."""

    name = "onnxruntime"
    formats = ("onnx",)

    def version(self) -> str | None:
        if importlib.util.find_spec("onnxruntime") is None:
            return None
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__}"

    def execution_providers(self) -> list[str]:
        """The execution providers the installed onnxruntime build has (empty when not installed)."""
        if importlib.util.find_spec("onnxruntime") is None:
            return []
        import onnxruntime

        return list(onnxruntime.get_available_providers())

    def available_devices(self) -> list[str]:
        providers = self.execution_providers()
        if not providers:
            return []
        devices = []
        if CUDA in providers or TENSORRT in providers:
            devices = [f"cuda:{i}" for i in range(len(detect_gpus()))]
        return [*devices, "cpu"]

    def unsupported(self, distribution: DistributionRecord, device: str) -> str | None:
        if distribution.format not in self.formats:
            return f"onnxruntime loads ONNX models, not {distribution.format}"
        if device not in self.available_devices():
            providers = ", ".join(self.execution_providers())
            return f"onnxruntime cannot use {device} here (execution providers: {providers})"
        return None

    def load(self, distribution: DistributionRecord, device: str, *, artifact: Path, spec: ModelSpec) -> OnnxSession:
        import onnxruntime

        available = self.execution_providers()
        providers = providers_for(device, available)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: the CUDA provider warns about every node it leaves to the CPU
        try:
            session = onnxruntime.InferenceSession(str(artifact), sess_options=options, providers=providers)
        except _ort_errors() as exc:
            raise ModelLoadError(f"onnxruntime could not load {distribution.name}: {exc}") from exc
        if device_kind(device) == "cuda" and not {CUDA, TENSORRT} & set(session.get_providers()):
            raise RuntimeUnavailableError(
                f"onnxruntime created no CUDA session for {device} (it fell back to {session.get_providers()}): "
                "check the CUDA and cuDNN libraries onnxruntime-gpu needs"
            )
        return OnnxSession(session, device=device, distribution=distribution, spec=spec, version=self.version())

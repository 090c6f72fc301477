"""The one protocol every runtime implements, and the loaded model it returns (Triton's explicit lifecycle: load,
predict on a batch, release).

A :class:`Runner` says which distribution formats it loads and on which devices; dispatch verifies the artifact's
SHA-256 before calling :meth:`Runner.load` with the verified path; :meth:`LoadedModel.predict` checks the inputs
against the tensor specs before the runtime sees them. Devices are strings: ``"cpu"``, ``"cuda:0"``, ``"cuda:1"``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from fairkg.kg.distributions import DistributionRecord, InferenceRecord, TensorSpecRecord
from fairkg.runners.inputs import check_inputs

__all__ = ["BuiltArtifact", "DistributionRecord", "LoadedModel", "ModelSpec", "PlanBuilder", "Runner",
           "TensorSpecRecord", "device_kind"]


@dataclass(frozen=True)
class ModelSpec:
    """A model's tensor specs as the graph declares them (Triton's per-model config)."""

    model_iri: str
    title: str
    inputs: tuple[TensorSpecRecord, ...]
    outputs: tuple[TensorSpecRecord, ...]

    @classmethod
    def from_record(cls, record: InferenceRecord) -> ModelSpec:
        """The spec part of an inference record."""
        return cls(record.model_iri, record.title, record.inputs, record.outputs)


def device_kind(device: str) -> str:
    """``"cuda"`` for ``"cuda:1"``, ``"cpu"`` for ``"cpu"``.

    >>> device_kind("cuda:1")
    'cuda'
    """
    return device.split(":", 1)[0]


@dataclass(frozen=True)
class BuiltArtifact:
    """A file a :class:`PlanBuilder` compiled, with what the graph should say about it."""

    path: Path
    format: str
    name: str
    runtime_version: str | None = None
    built_for: str | None = None


class LoadedModel(ABC):
    """A model loaded by one runtime on one device: call :meth:`predict` on batches, then :meth:`release`.

    ``predict`` may be called from several threads at once (the runtimes fairkg uses allow concurrent inference on
    a loaded model). After ``release`` it raises ``RuntimeError``.
    """

    def __init__(self, *, runtime: str, device: str, distribution: DistributionRecord, spec: ModelSpec,
                 runtime_version: str | None = None) -> None:
        self.runtime = runtime
        self.runtime_version = runtime_version  # e.g. "onnxruntime 1.20.1"
        self.device = device
        self.distribution = distribution
        self.spec = spec
        self._released = False
        self._lock = threading.Lock()

    @property
    def model_iri(self) -> str:
        return self.spec.model_iri

    @property
    def distribution_iri(self) -> str:
        return self.distribution.iri

    @property
    def format(self) -> str:
        return self.distribution.format

    @property
    def input_specs(self) -> tuple[TensorSpecRecord, ...]:
        return self.spec.inputs

    @property
    def output_specs(self) -> tuple[TensorSpecRecord, ...]:
        return self.spec.outputs

    @property
    def released(self) -> bool:
        return self._released

    def predict(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch: ``inputs`` maps every input spec's name to an array of its dtype and shape.

        Returns:
            Output name -> array, in the order of the output specs (always on the CPU, as numpy arrays).

        Raises:
            InputError: a missing or unexpected name, a wrong dtype or shape, or inconsistent batch sizes.
            RuntimeError: the model was released.
        """
        if self._released:
            raise RuntimeError(f"{self.model_iri} ({self.runtime} on {self.device}) was released; load it again")
        arrays = check_inputs(self.spec.inputs, inputs)
        return self._run(arrays)

    def release(self) -> None:
        """Free the runtime's memory (GPU memory included). Idempotent."""
        with self._lock:
            if self._released:
                return
            self._released = True
        self._release()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.model_iri} {self.runtime}/{self.format} on {self.device}"
                f"{' (released)' if self._released else ''}>")

    @abstractmethod
    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the checked inputs (input name -> array, in spec order) through the runtime."""

    @abstractmethod
    def _release(self) -> None:
        """Drop the runtime's objects and free device memory."""


@runtime_checkable
class Runner(Protocol):
    """One runtime: what it loads, where, and how.

    Runners read no environment variables and never unpickle; the device is always a parameter.
    """

    #: the runtime's name in requests and in the graph: "torch", "onnxruntime", "tensorrt"
    name: ClassVar[str]
    #: the distribution formats it loads
    formats: ClassVar[tuple[str, ...]]

    def version(self) -> str | None:
        """The installed runtime's name and version (e.g. ``"onnxruntime 1.20.1"``), None when not installed."""
        ...

    def available_devices(self) -> list[str]:
        """The devices this runtime can use here, fastest first (``"cuda:0"`` before ``"cpu"``); empty when the
        runtime is not installed."""
        ...

    def unsupported(self, distribution: DistributionRecord, device: str) -> str | None:
        """Why this runner cannot load ``distribution`` on ``device`` (without reading the file), or None."""
        ...

    def load(self, distribution: DistributionRecord, device: str, *, artifact: Path, spec: ModelSpec) -> LoadedModel:
        """Load the distribution from ``artifact``, a path whose SHA-256 dispatch has just verified.

        Raises:
            ModelLoadError: the runtime could not load it.
        """
        ...


@runtime_checkable
class PlanBuilder(Protocol):
    """A runner that can also compile another format into its own for the device at hand (TensorRT from ONNX)."""

    builds_from: ClassVar[tuple[str, ...]]

    def build(self, source: DistributionRecord, device: str, *, artifact: Path, spec: ModelSpec,
              out_dir: Path) -> BuiltArtifact:
        """Compile ``source`` (its verified file is ``artifact``) for ``device`` into a new file under ``out_dir``;
        dispatch then stores it and adds it to the model's record as a distribution."""
        ...

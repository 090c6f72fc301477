"""fairkg.runners' errors, one closed set (as Triton's error codes), each saying what to do::

    FairkgError (fairkg.kg)
    └── RunnerError                     base of everything the runners raise on purpose
        ├── DispatchError               the request cannot be met here; ``available`` lists what can run
        │   ├── RuntimeUnavailableError the named runtime is not installed or has no usable device
        │   └── ForeignPlanError        a TensorRT plan built for another GPU or TensorRT version
        ├── ChecksumError               an artifact missing or not matching its SHA-256 in the graph (never loaded;
        │                               also a fairkg.kg ArtifactError)
        ├── InputError                  inputs that do not match the tensor specs (also a ValueError)
        ├── ModelLoadError              a verified artifact the runtime failed to load
        │   └── ArchitectureError       safetensors naming an architecture that is not registered, or not fitting it
        ├── PredictionError             the runtime failed on inputs that matched the specs
        ├── WithdrawnModelError         the model was withdrawn: its files are gone
        └── UnsafeArtifactError         a file that would need unpickling arbitrary objects to load

Errors from the runtimes underneath (torch, onnxruntime, tensorrt) are translated where they are called, always
``raise ... from exc``. No HTTP status codes here; ``fairkg.api`` maps these classes to problem types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fairkg.kg.errors import ArtifactError, FairkgError

__all__ = [
    "ArchitectureError",
    "ChecksumError",
    "DispatchError",
    "ForeignPlanError",
    "InputError",
    "ModelLoadError",
    "PredictionError",
    "RunnerError",
    "RuntimeUnavailableError",
    "UnsafeArtifactError",
    "WithdrawnModelError",
]


class RunnerError(FairkgError):
    """Base of every error fairkg.runners raises on purpose."""


class DispatchError(RunnerError):
    """No runtime, device and distribution here can meet the request.

    ``available`` lists what can run this model here, each ``{"runtime", "device", "format"}``.
    """

    def __init__(self, message: str, *, available: Sequence[Mapping[str, str]] = ()) -> None:
        super().__init__(message)
        self.available = [dict(option) for option in available]


class RuntimeUnavailableError(DispatchError):
    """The runtime asked for is not installed here, or has no usable device."""


class ForeignPlanError(DispatchError):
    """A TensorRT plan built for another GPU or TensorRT version: it is never deserialized here."""


class ChecksumError(RunnerError, ArtifactError):
    """An artifact that is missing or whose SHA-256 differs from the graph's: refused, never loaded."""


class InputError(RunnerError, ValueError):
    """Inputs that do not match the model's tensor specs.

    ``expected`` lists the specs (``{"name", "dtype", "shape"}``), ``given`` what arrived (name ->
    ``{"dtype", "shape"}``), ``problems`` one sentence per mismatch.
    """

    def __init__(self, message: str, *, expected: Sequence[Mapping[str, object]],
                 given: Mapping[str, Mapping[str, object]], problems: Sequence[str]) -> None:
        super().__init__(message)
        self.expected = [dict(spec) for spec in expected]
        self.given = {name: dict(value) for name, value in given.items()}
        self.problems = list(problems)


class ModelLoadError(RunnerError):
    """A runtime failed to load a checksum-verified artifact (the runtime's own error is the ``__cause__``)."""


class ArchitectureError(ModelLoadError):
    """Safetensors weights name an architecture that is not registered here, or do not fit it."""


class PredictionError(RunnerError):
    """The runtime failed on inputs that matched the tensor specs (the runtime's error is the ``__cause__``)."""


class WithdrawnModelError(RunnerError):
    """The model was withdrawn: its metadata still resolves, its files are gone."""


class UnsafeArtifactError(RunnerError):
    """A file whose loading would unpickle arbitrary objects (e.g. a torch.export archive with pickled payloads)."""

"""The data plane: from a model's record to a loaded model on a device (kserve's DataPlane, without HTTP).

:func:`select` chooses a distribution, runtime and device: the caller's request when it can be met here, else a
:class:`DispatchError` listing what can run; with no request, the fastest available, in the order of
:data:`PREFERENCE` (TensorRT > ONNX Runtime on CUDA > torch on CUDA > ONNX Runtime on CPU > torch on CPU). Within
torch, safetensors weights with a registered architecture come before a torch.export program (nothing to unpickle).

:func:`load_selection` verifies the artifact's SHA-256 against the graph immediately before the runner loads it (a
mismatch raises :class:`ChecksumError` and nothing is loaded) and, when TensorRT was chosen without a plan for this
GPU, builds one from the ONNX and adds it to the model's record first.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fairkg.kg.artifacts import verified_path
from fairkg.kg.distributions import DistributionRecord, InferenceRecord, add_distribution, inference_record
from fairkg.kg.errors import ArtifactError
from fairkg.kg.store.base import Store
from fairkg.runners.base import LoadedModel, ModelSpec, PlanBuilder, Runner, device_kind
from fairkg.runners.errors import (
    ChecksumError,
    DispatchError,
    ForeignPlanError,
    RuntimeUnavailableError,
    WithdrawnModelError,
)
from fairkg.runners.plans import plan_refusal, this_machine
from fairkg.runners.registry import runner_table
from fairkg.runners.registry import runners as registered_runners

__all__ = ["FORMAT_PREFERENCE", "PREFERENCE", "RUNTIME_ALIASES", "Option", "Selection", "canonical_runtime",
           "load_selection", "options", "select", "verify_artifact"]

log = logging.getLogger(__name__)

#: (runtime, device kind), fastest first
PREFERENCE: tuple[tuple[str, str], ...] = (
    ("tensorrt", "cuda"),
    ("onnxruntime", "cuda"),
    ("torch", "cuda"),
    ("onnxruntime", "cpu"),
    ("torch", "cpu"),
)
#: within one runtime, which distribution format to prefer
FORMAT_PREFERENCE: dict[str, tuple[str, ...]] = {"torch": ("safetensors", "torch-export")}
RUNTIME_ALIASES = {"ort": "onnxruntime", "onnx": "onnxruntime", "pytorch": "torch", "trt": "tensorrt"}


@dataclass(frozen=True)
class Option:
    """One way to run the model here: a distribution on a runtime and device, or why not (``reason``).

    ``build`` means the runtime first compiles the distribution into its own format (TensorRT from ONNX).
    """

    runtime: str
    device: str
    distribution: DistributionRecord
    build: bool = False
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None

    def as_dict(self) -> dict[str, str]:
        """``{"runtime", "device", "format"}`` (format ``onnx->tensorrt`` for a build)."""
        fmt = f"{self.distribution.format}->tensorrt" if self.build else self.distribution.format
        return {"runtime": self.runtime, "device": self.device, "format": fmt}

    def describe(self) -> str:
        fmt = f"{self.distribution.format}, built into a plan" if self.build else self.distribution.format
        return f"{self.runtime} on {self.device} ({fmt})"


@dataclass(frozen=True)
class Selection:
    """What :func:`select` chose, and every option it weighed."""

    record: InferenceRecord
    runtime: str
    device: str
    distribution: DistributionRecord
    build: bool
    requested: bool  # the caller asked for a runtime, device or format
    options: tuple[Option, ...]
    unavailable_runtimes: tuple[tuple[str, str], ...] = ()  # (runtime, why it cannot run anything here)

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec.from_record(self.record)

    @property
    def model_iri(self) -> str:
        return self.record.model_iri


def canonical_runtime(name: str) -> str:
    """The runtime's name as dispatch knows it.

    >>> canonical_runtime("ORT")
    'onnxruntime'
    """
    lowered = name.strip().lower()
    return RUNTIME_ALIASES.get(lowered, lowered)


def _rank(option: Option) -> tuple[int, int, int, int]:
    kind = device_kind(option.device)
    try:
        place = PREFERENCE.index((option.runtime, kind))
    except ValueError:  # a runner from another package: after the built-ins, GPUs first
        place = len(PREFERENCE) + (0 if kind != "cpu" else 1)
    formats = FORMAT_PREFERENCE.get(option.runtime, ())
    fmt = formats.index(option.distribution.format) if option.distribution.format in formats else len(formats)
    index = int(option.device.partition(":")[2] or 0)
    return place, index, int(option.build), fmt


def _unavailable_reason(name: str, runner: Runner) -> str:
    version = runner.version()
    if version is None:
        extra = " (pip install 'fairkg[tensorrt]', on a machine with a CUDA GPU)" if name == "tensorrt" else ""
        return f"{name} is not installed{extra}"
    return f"{version} has no usable device here ({this_machine().describe()})"


def options(record: InferenceRecord, *, home: Path, runners: Mapping[str, Runner] | None = None
            ) -> tuple[list[Option], dict[str, str]]:
    """Every (runtime, device, distribution) for ``record``, best first, each with why it cannot run (if so), and
    the runtimes that cannot run anything here, with why."""
    table = registered_runners() if runners is None else runners
    found: list[Option] = []
    unavailable: dict[str, str] = {}
    for name, runner in table.items():
        devices = runner.available_devices()
        if not devices:
            unavailable[name] = _unavailable_reason(name, runner)
            continue
        for device in devices:
            native = [d for d in record.distributions if d.format in runner.formats]
            for dist in native:
                reason = runner.unsupported(dist, device)
                if reason is None and not (home / dist.location).is_file():
                    reason = f"{dist.name} is missing from the registry home"
                found.append(Option(name, device, dist, reason=reason))
            if isinstance(runner, PlanBuilder) and not any(o.available and o.runtime == name and o.device == device
                                                           for o in found):
                for dist in (d for d in record.distributions if d.format in runner.builds_from):
                    found.append(Option(name, device, dist, build=True, reason=runner.unsupported(dist, device)))
    found.sort(key=_rank)
    return found, unavailable


def _matches(option: Option, runtime: str | None, device: str | None, fmt: str | None) -> bool:
    if runtime is not None and option.runtime != runtime:
        return False
    if device is not None:
        wanted = "cuda" if device in ("gpu", "cuda") else device
        if wanted != option.device and wanted != device_kind(option.device):
            return False
    return fmt is None or option.distribution.format == fmt


def select(store: Store, *, home: Path, base_iri: str, model_iri: str, runtime: str | None = None,
           device: str | None = None, format: str | None = None,
           runners: Mapping[str, Runner] | None = None) -> Selection:
    """Choose distribution, runtime and device for ``model_iri``: the request, or else the fastest available.

    Args:
        runtime: ``"torch"``, ``"onnxruntime"``, ``"tensorrt"`` (or ``ort``, ``pytorch``, ``trt``); None: any.
        device: ``"cpu"``, ``"cuda"`` (any GPU), ``"cuda:1"``; None: any.
        format: a distribution format (``"safetensors"``, ``"torch-export"``, ``"onnx"``, ``"tensorrt"``); None: any.
        runners: runtime name -> runner (default: every registered runner).

    Raises:
        NotFoundError: no registered model has that IRI.
        WithdrawnModelError: the model was withdrawn.
        RuntimeUnavailableError: the runtime asked for is not installed or has no usable device here.
        ForeignPlanError: TensorRT was asked for and the only plan was built for another GPU or TensorRT version.
        DispatchError: nothing here can meet the request (``available`` lists what can run).
    """
    del base_iri  # IRIs in the graph are absolute already; kept so every entry point takes the same arguments
    record = inference_record(store, model_iri)
    if record.withdrawn:
        raise WithdrawnModelError(f"{record.title} ({model_iri}) was withdrawn: its files were removed")
    wanted = canonical_runtime(runtime) if runtime else None
    found, unavailable = options(record, home=home, runners=runners)
    usable = [o for o in found if o.available]
    chosen = [o for o in usable if _matches(o, wanted, device, format)]
    if chosen:
        best = chosen[0]
        return Selection(record, best.runtime, best.device, best.distribution, best.build,
                         requested=any(v is not None for v in (runtime, device, format)), options=tuple(found),
                         unavailable_runtimes=tuple(unavailable.items()))
    raise _refusal(record, found, unavailable, wanted, device, format, runners)


def _refusal(record: InferenceRecord, found: list[Option], unavailable: dict[str, str], runtime: str | None,
             device: str | None, fmt: str | None, runners: Mapping[str, Runner] | None) -> DispatchError:
    usable = [o for o in found if o.available]
    available = [o.as_dict() for o in usable]
    can = "; ".join(o.describe() for o in usable) or "nothing"
    asked = ", ".join(f"{k}={v}" for k, v in (("runtime", runtime), ("device", device), ("format", fmt)) if v)
    reasons = sorted({f"{o.describe()}: {o.reason}" for o in found
                      if not o.available and _matches(o, runtime, device, fmt)})
    known = set(runner_table()) | set(runners or {})
    head = f"cannot run {record.title} ({record.model_iri}) with {asked or 'any runtime'}"
    tail = f"available here: {can}"
    if runtime is not None and runtime not in known:
        return DispatchError(f"{head}: unknown runtime {runtime!r} (known: {', '.join(sorted(known))}); {tail}",
                             available=available)
    if runtime == "tensorrt" or fmt == "tensorrt":
        plans = [d for d in record.distributions if d.format == "tensorrt"]
        refusals = [plan_refusal(d, this_machine(), device=device if device and ":" in device else "cuda:0")
                    for d in plans]
        if plans and all(refusals):
            return ForeignPlanError(f"{head}: " + " | ".join(r for r in refusals if r) + f"; {tail}",
                                    available=available)
    if runtime is not None and runtime in unavailable:
        return RuntimeUnavailableError(f"{head}: {unavailable[runtime]}; {tail}", available=available)
    if not record.distributions:
        return DispatchError(f"{head}: the record has no distributions", available=available)
    why = "; ".join(reasons) if reasons else "no distribution of it matches"
    missing = "; ".join(f"{name}: {reason}" for name, reason in unavailable.items())
    return DispatchError(f"{head}: {why}{'; ' + missing if missing else ''}; {tail}", available=available)


def verify_artifact(home: Path, distribution: DistributionRecord) -> Path:
    """The path of the distribution's file after checking its SHA-256 against the graph's.

    Raises:
        ChecksumError: the file is missing, outside the home, or does not match (it is not loaded).
    """
    try:
        return verified_path(home, distribution.location, distribution.sha256)
    except ArtifactError as exc:
        raise ChecksumError(f"{distribution.name} ({distribution.iri}) was refused: {exc}") from exc


def load_selection(store: Store, selection: Selection, *, home: Path, base_iri: str,
                   runners: Mapping[str, Runner] | None = None) -> LoadedModel:
    """Load what :func:`select` chose, verifying the checksum first (and building a TensorRT plan when needed).

    Raises:
        ChecksumError: the artifact is missing or does not match its SHA-256 (nothing is loaded).
        ModelLoadError: the runtime could not load it.
    """
    table = registered_runners() if runners is None else runners
    runner = table[selection.runtime]
    distribution = selection.distribution
    artifact = verify_artifact(home, distribution)
    if selection.build:
        assert isinstance(runner, PlanBuilder)
        with tempfile.TemporaryDirectory(prefix="fairkg-build-") as scratch:
            built = runner.build(distribution, selection.device, artifact=artifact, spec=selection.spec,
                                 out_dir=Path(scratch))
            distribution = add_distribution(store, home, selection.model_iri, built.path, built.format,
                                             base_iri=base_iri, name=built.name,
                                             runtime_version=built.runtime_version, built_for=built.built_for)
        log.info("built %s for %s and added it to %s", distribution.name, selection.device, selection.model_iri)
        artifact = verify_artifact(home, distribution)
    return runner.load(distribution, selection.device, artifact=artifact, spec=selection.spec)

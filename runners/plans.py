"""Recognising TensorRT plans (serialized engines) and refusing foreign ones, with or without TensorRT installed.

A plan only deserializes on the TensorRT version that built it and runs only on the GPU architecture it was built
for; TensorRT's own refusal is an assertion deep in its deserializer (or a crash with old versions). fairkg checks
first, from what the graph records (``fkg:builtForGpu``, ``fkg:runtimeVersion``) and from the file itself, and
refuses with a message that says what the plan is, what this machine has, and to rebuild from the ONNX.

What the bytes say (read from real plans; TensorRT does not document its format)::

    offset 0   4 bytes  magic "ptrt"
    offset 8   uint32   engine serialization tag: TensorRT's "Serialized Engine Version" in its mismatch error
    offset 16  uint64   size of the rest of the file (file size - 24)

The tag identifies the TensorRT release line; the values below were seen in TensorRT's own error messages
("Current Version: N, Serialized Engine Version: M") next to a known release. The kernels embedded in the plan are
named after the GPU architecture they were compiled for (``sm80_xmma_...`` = compute capability 8.0: A100, A30).
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from fairkg.kg.distributions import DistributionRecord
from fairkg.kg.environment import detect_gpus
from fairkg.runners.errors import ForeignPlanError

__all__ = ["KNOWN_SERIALIZATION_TAGS", "PLAN_MAGIC", "Gpu", "Machine", "PlanHeader", "check_plan", "plan_refusal",
           "read_plan_header", "this_machine"]

PLAN_MAGIC = b"ptrt"
#: engine serialization tag -> TensorRT release, as observed in TensorRT's mismatch errors beside a known release
KNOWN_SERIALIZATION_TAGS: dict[int, str] = {205: "8.2", 239: "10.9", 240: "10.11"}
_HEADER = struct.Struct("<4sIIIQ")
_KERNEL_ARCH = re.compile(rb"(?<![A-Za-z0-9])sm_?(\d)(\d{1,2})_[a-z]")
_SCAN_LIMIT = 64 << 20
_TRT_VERSION = re.compile(r"TensorRT[\s-]*(\d+(?:\.\d+|\.x)*)", re.IGNORECASE)
_TRT_DISTRIBUTIONS = ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11", "tensorrt-lean",
                      "tensorrt-dispatch")
REBUILD = ("a plan only loads on the TensorRT version and GPU it was built for: rebuild it from the model's ONNX "
           "distribution (fairkg builds and caches one itself on a CUDA GPU with TensorRT >= 10: "
           "pip install 'fairkg[tensorrt]')")


@dataclass(frozen=True)
class PlanHeader:
    """What a plan's bytes say about it."""

    serialization_tag: int
    payload_bytes: int
    complete: bool  # the recorded payload size matches the file's
    compute_capabilities: tuple[str, ...]  # of the embedded kernels, e.g. ("8.0",)

    @property
    def tensorrt_version(self) -> str | None:
        """The TensorRT release line the tag belongs to, when fairkg knows it."""
        return KNOWN_SERIALIZATION_TAGS.get(self.serialization_tag)

    def describe(self) -> str:
        """e.g. ``engine serialization tag 205 (TensorRT 8.2), kernels for compute capability 8.0``."""
        version = f" (TensorRT {self.tensorrt_version})" if self.tensorrt_version else ""
        text = f"engine serialization tag {self.serialization_tag}{version}"
        if self.compute_capabilities:
            text += f", kernels for compute capability {' and '.join(self.compute_capabilities)}"
        return text


@dataclass(frozen=True)
class Gpu:
    name: str
    compute_capability: str | None


@dataclass(frozen=True)
class Machine:
    """The GPUs and the TensorRT version plans are checked against."""

    gpus: tuple[Gpu, ...]
    tensorrt_version: str | None

    def describe(self) -> str:
        gpus = ", ".join(f"{g.name} (compute capability {g.compute_capability})" for g in self.gpus)
        trt = f"TensorRT {self.tensorrt_version}" if self.tensorrt_version else "no TensorRT"
        return f"this machine has {gpus or 'no CUDA GPU'} and {trt}"


def read_plan_header(path: Path) -> PlanHeader | None:
    """The header of the TensorRT plan at ``path``, or None when the file is not one fairkg recognises.

    >>> read_plan_header(Path(__file__)) is None
    True
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return None
        magic, _, tag, _, payload = _HEADER.unpack(head)
        if magic != PLAN_MAGIC:
            return None
        body = handle.read(_SCAN_LIMIT)
    archs = sorted({f"{m.group(1).decode()}.{m.group(2).decode()}" for m in _KERNEL_ARCH.finditer(body)})
    return PlanHeader(serialization_tag=tag, payload_bytes=payload, complete=payload == size - _HEADER.size,
                      compute_capabilities=tuple(archs))


def _installed_tensorrt() -> str | None:
    for name in _TRT_DISTRIBUTIONS:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    if importlib.util.find_spec("tensorrt") is None:
        return None
    import tensorrt  # a system install without pip metadata (NVIDIA's containers)

    return str(tensorrt.__version__)


@functools.cache
def this_machine() -> Machine:
    """The GPUs (through torch) and the installed TensorRT version, detected once per process."""
    gpus = tuple(Gpu(g.name, g.compute_capability) for g in detect_gpus())
    return Machine(gpus=gpus, tensorrt_version=_installed_tensorrt())


def _version_parts(text: str) -> list[str]:
    return [p for p in text.split(".") if p and p != "x"]


def _same_release(recorded: str, installed: str) -> bool:
    """True when every component of the recorded version matches the installed one (``10.3`` vs ``10.3.0.26``)."""
    want, have = _version_parts(recorded), _version_parts(installed)
    return bool(want) and want == have[: len(want)]


def _gpu_matches(built_for: str, gpu: Gpu) -> bool:
    def tokens(text: str) -> set[str]:
        text = re.sub(r"\(.*?\)", " ", text.lower())
        return {t for t in re.split(r"[^a-z0-9]+", text) if t and t not in {"nvidia", "geforce", "tesla"}}

    wanted = tokens(built_for)
    return bool(wanted) and wanted <= tokens(gpu.name)


def _device_gpu(machine: Machine, device: str) -> Gpu | None:
    kind, _, index = device.partition(":")
    if kind != "cuda" or not machine.gpus:
        return None
    number = int(index) if index.isdigit() else 0
    return machine.gpus[number] if number < len(machine.gpus) else None


def plan_refusal(distribution: DistributionRecord, machine: Machine, *, device: str = "cuda:0",
                 header: PlanHeader | None = None) -> str | None:
    """Why the plan ``distribution`` must not be deserialized on ``device`` of ``machine``, or None when it may.

    Uses what the graph records and, when given, the plan's header.

    >>> plan = DistributionRecord("urn:x", "tensorrt", "m.plan", "a/m", "0" * 64, 1, built_for="NVIDIA A100",
    ...                           runtime_version="TensorRT 8.x (2022)")
    >>> print(plan_refusal(plan, Machine(gpus=(), tensorrt_version=None)))  # doctest: +ELLIPSIS
    m.plan is a TensorRT plan built for NVIDIA A100 with TensorRT 8.x (2022); this machine has no CUDA GPU and no \
TensorRT; a plan only loads on ...
    """
    built_for = distribution.built_for or "an unrecorded GPU"
    recorded = distribution.runtime_version or "an unrecorded TensorRT version"
    what = f"{distribution.name} is a TensorRT plan built for {built_for} with {recorded}"
    if header is not None:
        what += f" ({header.describe()})"
    problems: list[str] = []
    gpu = _device_gpu(machine, device)
    if header is not None and not header.complete:
        problems.append("the file is truncated or not a complete plan")
    if machine.tensorrt_version is None or gpu is None:
        return f"{what}; {machine.describe()}; {REBUILD}"
    installed = machine.tensorrt_version
    match = _TRT_VERSION.search(distribution.runtime_version or "")
    if match is None and (header is None or header.tensorrt_version is None):
        problems.append("its TensorRT version is not recorded, so it cannot be checked")
    if match is not None and not _same_release(match.group(1), installed):
        problems.append(f"it needs TensorRT {match.group(1)}")
    if header is not None and header.tensorrt_version and not _same_release(header.tensorrt_version, installed):
        problems.append(f"its header is TensorRT {header.tensorrt_version}'s")
    if distribution.built_for is None and (header is None or not header.compute_capabilities):
        problems.append("the GPU it was built for is not recorded, so it cannot be checked")
    if distribution.built_for is not None and not _gpu_matches(distribution.built_for, gpu):
        problems.append(f"{device} is a {gpu.name}")
    if header is not None and header.compute_capabilities and gpu.compute_capability not in \
            header.compute_capabilities:
        problems.append(f"{device} has compute capability {gpu.compute_capability}")
    if not problems:
        return None
    return f"{what}; {machine.describe()}: {', '.join(problems)}; {REBUILD}"


def check_plan(path: Path, distribution: DistributionRecord, machine: Machine, *, device: str) -> PlanHeader:
    """The plan's header, after checking the file is a plan that may be deserialized on ``device``.

    Raises:
        ForeignPlanError: not a TensorRT plan, or one built for another GPU or TensorRT version.
    """
    header = read_plan_header(path)
    if header is None:
        raise ForeignPlanError(f"{distribution.name} is not a TensorRT plan fairkg recognises (no 'ptrt' header)")
    reason = plan_refusal(distribution, machine, device=device, header=header)
    if reason is not None:
        raise ForeignPlanError(reason)
    return header

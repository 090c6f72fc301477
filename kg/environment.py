"""Describe the machine and the software a run executes on: detected, never typed by hand.

Training provenance (:mod:`fairkg.kg.provenance`) and inference runs record what this module finds: the CPU, cores
and memory (from ``/proc`` on Linux, portable fallbacks elsewhere), the GPUs with driver and CUDA versions (through
torch and ``nvidia-smi`` when present), and the versions of the packages that matter for reproducing a run.
The host name is recorded only as its SHA-256, which identifies the machine without revealing it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import platform
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from fairkg.kg.cards import Gpu, Hardware, Package

__all__ = [
    "DEFAULT_PACKAGES",
    "detect_gpus",
    "detect_hardware",
    "detect_software",
    "parse_cpu_model",
    "parse_memory_bytes",
    "python_version",
]

log = logging.getLogger(__name__)

#: the distributions whose versions decide whether a model trains and runs the same way again
DEFAULT_PACKAGES = (
    "torch",
    "numpy",
    "onnx",
    "onnxruntime",
    "safetensors",
    "h5py",
    "scikit-learn",
    "fairkg",
    "pyoxigraph",
    "rdflib",
)
#: cpuinfo keys naming the processor, most specific first ("model name" on x86, others on ARM and POWER)
_CPU_MODEL_KEYS = ("model name", "cpu model", "hardware", "processor", "cpu")
_NVIDIA_SMI_TIMEOUT_S = 5.0


def _read_proc(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def parse_cpu_model(cpuinfo: str) -> str | None:
    """The processor's model name in the text of ``/proc/cpuinfo``, or None when it names none.

    >>> parse_cpu_model("processor\\t: 0\\nmodel name\\t: AMD EPYC 7763 64-Core Processor\\n")
    'AMD EPYC 7763 64-Core Processor'
    """
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if sep and value and key not in fields:
            fields[key] = value
    for key in _CPU_MODEL_KEYS:
        # "processor" is the CPU's index (0, 1...) on x86, a name on some ARM kernels
        if key in fields and not fields[key].isdigit():
            return fields[key]
    return None


def parse_memory_bytes(meminfo: str) -> int | None:
    """Total memory in bytes from the text of ``/proc/meminfo`` (its ``MemTotal`` line), or None.

    >>> parse_memory_bytes("MemTotal:       16315340 kB\\nMemFree:         1021876 kB\\n")
    16706908160
    """
    units = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
    for line in meminfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() != "MemTotal":
            continue
        parts = value.split()
        if not parts or not parts[0].isdigit():
            return None
        unit = parts[1].lower() if len(parts) > 1 else "b"
        return int(parts[0]) * units.get(unit, 1)
    return None


def _sysconf_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def _nvidia_driver_version() -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=_NVIDIA_SMI_TIMEOUT_S,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("nvidia-smi gave no driver version: %s", exc)
        return None
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return lines[0] if lines else None


def detect_gpus() -> list[Gpu]:
    """The CUDA GPUs torch can see, with memory, compute capability, CUDA and driver versions.

    Empty when torch is not installed or sees no GPU; torch is imported only here, so ``kg`` never needs it.

    >>> isinstance(detect_gpus(), list)
    True
    """
    if importlib.util.find_spec("torch") is None:
        return []
    import torch

    if not torch.cuda.is_available():
        return []
    driver = _nvidia_driver_version()
    gpus = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        gpus.append(
            Gpu(
                name=props.name,
                memory_bytes=int(props.total_memory),
                driver_version=driver,
                cuda_version=torch.version.cuda,
                compute_capability=f"{props.major}.{props.minor}",
            )
        )
    return gpus


def detect_hardware(
    *,
    read_proc: Callable[[str], str | None] = _read_proc,
    gpus: Callable[[], list[Gpu]] = detect_gpus,
) -> Hardware:
    """The machine this process runs on.

    Args:
        read_proc: reads a ``/proc`` file's text (None when absent); tests pass fake texts.
        gpus: lists the GPUs; tests pass a stub.

    >>> detect_hardware().cpu_cores >= 1
    True
    """
    cpu_model = parse_cpu_model(read_proc("/proc/cpuinfo") or "") or platform.processor() or platform.machine()
    memory = parse_memory_bytes(read_proc("/proc/meminfo") or "")
    return Hardware(
        hostname_hash=hashlib.sha256(socket.gethostname().encode("utf-8")).hexdigest(),
        cpu_model=cpu_model or "unknown",
        cpu_cores=os.cpu_count() or 1,
        memory_bytes=memory if memory is not None else _sysconf_memory_bytes(),
        architecture=platform.machine() or "unknown",
        operating_system=platform.platform(),
        gpus=gpus(),
    )


def detect_software(packages: Iterable[str] = DEFAULT_PACKAGES) -> list[Package]:
    """The installed versions of ``packages`` (distribution names); those not installed are left out.

    >>> [p.name for p in detect_software(["pyyaml", "no-such-distribution"])]
    ['pyyaml']
    """
    found = []
    for name in packages:
        try:
            found.append(Package(name=name, version=importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def python_version() -> str:
    """The running interpreter's implementation and version, e.g. ``CPython 3.11.7``.

    >>> python_version().split()[1] == platform.python_version()
    True
    """
    return f"{platform.python_implementation()} {platform.python_version()}"

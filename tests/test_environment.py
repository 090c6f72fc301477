"""kg.environment: parsing /proc texts, and what it detects on this machine."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import socket

import pytest
import torch

from fairkg.kg.cards import Gpu, Hardware
from fairkg.kg.environment import (
    detect_gpus,
    detect_hardware,
    detect_software,
    parse_cpu_model,
    parse_memory_bytes,
    python_version,
)

X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 106
model name\t: Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz
cpu cores\t: 2

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz
"""
ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 48.00
CPU implementer\t: 0x41
CPU part\t: 0xd0c

Hardware\t: BCM2835
"""
MEMINFO = """MemTotal:       16315340 kB
MemFree:         1021876 kB
MemAvailable:    9876543 kB
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (X86_CPUINFO, "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz"),
        (ARM_CPUINFO, "BCM2835"),  # no "model name"; "processor" is only an index there
        ("processor\t: 0\n", None),
        ("", None),
    ],
)
def test_parse_cpu_model(text: str, expected: str | None) -> None:
    assert parse_cpu_model(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MEMINFO, 16315340 * 1024),
        ("MemFree: 10 kB\nMemTotal: 3 MB\n", 3 * 1024**2),
        ("MemFree: 10 kB\n", None),
        ("MemTotal: unknown\n", None),
    ],
)
def test_parse_memory_bytes(text: str, expected: int | None) -> None:
    assert parse_memory_bytes(text) == expected


def test_detect_hardware_reads_proc_texts() -> None:
    fake = {"/proc/cpuinfo": X86_CPUINFO, "/proc/meminfo": MEMINFO}
    gpu = Gpu(name="NVIDIA H100 80GB HBM3", memory_bytes=85_000_000_000, compute_capability="9.0")

    hardware = detect_hardware(read_proc=fake.get, gpus=lambda: [gpu])

    assert hardware.cpu_model == "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz"
    assert hardware.memory_bytes == 16315340 * 1024
    assert hardware.gpus == [gpu]


def test_detect_hardware_falls_back_without_proc() -> None:
    hardware = detect_hardware(read_proc=lambda path: None, gpus=list)

    assert hardware.cpu_model  # platform.processor() or the machine type
    assert hardware.memory_bytes > 0  # from sysconf
    assert hardware.gpus == []


def test_detect_hardware_describes_this_machine() -> None:
    hardware = detect_hardware()

    assert hardware.cpu_cores == os.cpu_count()
    assert hardware.memory_bytes > 0
    assert hardware.architecture == platform.machine()
    assert hardware.hostname_hash == hashlib.sha256(socket.gethostname().encode()).hexdigest()
    assert socket.gethostname() not in hardware.model_dump_json()
    assert Hardware.model_validate(hardware.model_dump(mode="json")) == hardware


def test_detect_gpus_matches_torch() -> None:
    gpus = detect_gpus()

    assert len(gpus) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_detect_gpus_describes_cuda_devices() -> None:
    gpu = detect_gpus()[0]
    props = torch.cuda.get_device_properties(0)

    assert gpu.name == props.name
    assert gpu.memory_bytes == props.total_memory
    assert gpu.compute_capability == f"{props.major}.{props.minor}"
    assert gpu.cuda_version == torch.version.cuda


def test_detect_software_finds_installed_versions() -> None:
    found = {p.name: p.version for p in detect_software(["torch", "numpy", "no-such-distribution-xyz"])}

    assert found == {"torch": torch.__version__, "numpy": importlib.metadata.version("numpy")}


def test_detect_software_default_list_includes_fairkg_and_torch() -> None:
    names = [p.name for p in detect_software()]

    assert "torch" in names and "fairkg" in names


def test_python_version() -> None:
    assert python_version() == f"{platform.python_implementation()} {platform.python_version()}"

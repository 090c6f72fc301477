"""What every benchmark shares: machine and package description, latency statistics, results files, tables."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
CACHE_DIR = BENCH_DIR / ".cache"
BASE_IRI = "http://localhost:8000"

#: package versions recorded with every result (those not installed are left out)
PACKAGES = ("fairkg", "pyoxigraph", "rdflib", "pyshacl", "pydantic", "pyyaml", "fastapi", "starlette", "uvicorn",
            "httpx", "anyio", "SPARQLWrapper", "rich")

console = Console(stderr=True)
if not console.is_terminal:  # logs and CI: wide enough for the tables
    console = Console(stderr=True, width=160)


def machine_info(*, gpus: bool = False) -> dict[str, Any]:
    """The machine (``fairkg.kg.environment.detect_hardware``), Python, package versions and the load average.

    ``gpus``: also look for GPUs (imports torch: seconds); the benchmarks are CPU-only, so off by default.
    """
    from fairkg.kg.environment import detect_hardware, detect_software

    hardware = detect_hardware() if gpus else detect_hardware(gpus=list)
    info = hardware.model_dump(mode="json")
    info.pop("hostname_hash", None)  # identifies the machine; not needed to read a result
    try:
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        info["cpus_usable"] = os.cpu_count()
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return {
        "machine": info,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {p.name: p.version for p in detect_software(PACKAGES)},
    }


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of already sorted values, by linear interpolation."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(seconds: Iterable[float]) -> dict[str, float | int]:
    """Latency statistics in milliseconds: n, median (= p50), p90, p99, min, max, mean."""
    values = sorted(s * 1000 for s in seconds)
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median_ms": statistics.median(values),
        "p50_ms": percentile(values, 50),
        "p90_ms": percentile(values, 90),
        "p99_ms": percentile(values, 99),
        "min_ms": values[0],
        "max_ms": values[-1],
        "mean_ms": statistics.fmean(values),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``fn()`` took, and what it returned."""
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def write_results(name: str, payload: dict[str, Any], results_dir: Path | None = None) -> Path:
    """Write ``payload`` (with the date and the machine added) to ``{results_dir}/{name}.json``."""
    out_dir = Path(results_dir) if results_dir is not None else RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {"benchmark": name, "date": datetime.now(UTC).replace(microsecond=0).isoformat(), **machine_info(),
                **payload}
    path = out_dir / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    console.print(f"[dim]results written to {path}[/dim]")
    return path


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a rich table (to stderr, so stdout stays free)."""
    out = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        out.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        out.add_row(*(fmt(v) for v in row))
    console.print(out)


def fmt(value: Any) -> str:
    """A number as a short string (ms-style precision), anything else as str."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)

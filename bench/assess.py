"""How long the FAIR assessment takes: 1, 100 and 1,000 synthetic models, each assessed against all fifteen shapes
files (registry evidence, record gathering, one pySHACL validation, the split by principle), then its verdict
stored.

The registry is the synthetic one of ``bench.generate`` (records built with ``fairkg.kg.records`` from cards shaped
like the test cards: one in ten without a licence, one in twenty without a training run, half without a reference
example), bulk-loaded into an in-memory store, with its catalogue, and with a Passed observation for every HTTP
probe (the probes themselves are not timed here), so each model is judged on its record.

Two ways, side by side: ``one-by-one`` (``fairkg.kg.fair.assess`` then ``store_verdict`` per model: what
``fairkg assess ID`` and the model pages do; the 100 ms target) and ``batched`` (``fairkg.kg.fair_batch.assess_many``:
what ``fairkg assess --all`` does; records validated 50 at a time, in worker processes from 200 models; the 30 s
target). One-by-one runs for n <= 100 only (1,000 would take ~1 min to say the same).

Usage::

    python -m bench.assess                 # n = 1, 100 and 1000
    python -m bench.assess --n 1000 --workers 0   # batched, all in this process

Writes ``bench/results/assess.json`` (with the machine, from ``fairkg.kg.environment.detect_hardware``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BASE_IRI, CACHE_DIR, console, summarize, table, write_results

#: targets from the issue: one model, and 1,000 models on 2 cores
TARGET_ONE_MS = 100.0
TARGET_THOUSAND_S = 30.0
_MODELS = "SELECT ?model WHERE { GRAPH ?model { ?model a <http://www.w3.org/ns/mls#Model> } } ORDER BY ?model"


def synthetic_registry(n_models: int, *, cache_dir: Path = CACHE_DIR) -> tuple[Any, list[str], float]:
    """An in-memory store with the synthetic registry of ``n_models`` models, its catalogue and a Passed
    observation for every HTTP probe; the model IRIs; seconds it took."""
    from bench.generate import cached_nquads
    from fairkg.kg.catalog import refresh_catalog
    from fairkg.kg.evidence import PROBES, REGISTRY_PROBES, observe, record_observations
    from fairkg.kg.store import open_store

    start = time.perf_counter()
    nquads, _stats = cached_nquads(n_models, cache_dir=cache_dir, progress=n_models >= 1000)
    store = open_store("oxigraph:", timeout=600)
    store.restore(nquads.read_bytes())
    refresh_catalog(store, BASE_IRI)
    models = [str(row["model"]) for row in store.query(_MODELS).bindings()]
    probes = [p for p in PROBES if p not in REGISTRY_PROBES]
    record_observations(store, [observe(m, p, "passed", detail="synthetic") for m in models for p in probes])
    return store, models, time.perf_counter() - start


def run_sequential(store: Any, models: list[str]) -> tuple[list[Any], list[float], float]:
    """Assess and store every model in this process: assessments, seconds per model (assess + store), seconds
    spent storing verdicts."""
    from fairkg.kg.fair import assess, store_verdict

    done, seconds, storing = [], [], 0.0
    for model in models:
        t0 = time.perf_counter()
        assessment = assess(store, model, base_iri=BASE_IRI)
        t1 = time.perf_counter()
        store_verdict(store, assessment)
        t2 = time.perf_counter()
        done.append(assessment)
        seconds.append(t2 - t0)
        storing += t2 - t1
    return done, seconds, storing


def run_batched(store: Any, models: list[str], workers: int | None) -> tuple[list[Any], list[float], float]:
    """Assess and store every model with ``fairkg.kg.fair_batch.assess_many`` (records validated together, in
    ``workers`` processes; None: its default): assessments, seconds per model (each chunk's wall time spread over
    its models), and 0 (storing is part of each chunk)."""
    from fairkg.kg.fair_batch import assess_many

    done: list[Any] = []
    seconds: list[float] = []
    last = time.perf_counter()

    def progress(n: int) -> None:
        nonlocal last
        now = time.perf_counter()
        seconds.extend([(now - last) / n] * n)
        last = now

    done.extend(assess_many(store, models, base_iri=BASE_IRI, workers=workers, progress=progress))
    return done, seconds, 0.0


def measure(n_models: int, *, mode: str, workers: int | None, cache_dir: Path) -> dict[str, Any]:
    """Assess the synthetic registry of ``n_models`` models; timings and what the assessments found."""
    from fairkg.kg.fair import PRINCIPLES, assess

    store, models, seconds_setup = synthetic_registry(n_models, cache_dir=cache_dir)
    warm = time.perf_counter()
    assess(store, models[0], base_iri=BASE_IRI)  # parses and caches the shapes (once per process), not timed
    seconds_warmup = time.perf_counter() - warm
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if mode == "batched":
        done, seconds, storing = run_batched(store, models, workers)
    else:
        done, seconds, storing = run_sequential(store, models)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    store.close()
    passes = Counter(p for a in done for p in PRINCIPLES if a.status(p) == "pass")
    return {
        "n_models": len(models), "mode": mode, "workers": workers, "seconds_setup": seconds_setup,
        "seconds_warmup": seconds_warmup, "cpu_ms_per_model_parent": cpu / max(1, len(models)) * 1000,
        "seconds_total": wall, "cpu_seconds_parent": cpu, "seconds_storing_verdicts": storing,
        "models_per_second": len(models) / max(1e-9, wall), "per_model": summarize(seconds),
        "passing_all_fifteen": sum(a.passed == a.total for a in done),
        "passes_per_principle": {p: passes[p] for p in PRINCIPLES},
        "statuses": dict(Counter(a.status(p) for a in done for p in PRINCIPLES)),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 100, 1000], help="registry sizes (models)")
    parser.add_argument("--workers", type=int, default=None,
                        help="batched: validating processes (0: all in this process; default: assess_many's)")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--results-dir", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    runs = []
    for n in args.n:
        modes = (["one-by-one"] if n <= 100 else []) + (["batched"] if n > 1 else [])
        for mode in modes:
            console.print(f"[bold]assessing {n:,} models, {mode}[/]")
            runs.append(measure(n, mode=mode, workers=args.workers, cache_dir=args.cache_dir))
    one = next((r for r in runs if r["n_models"] == 1), None)
    thousand = next((r for r in runs if r["n_models"] == 1000 and r["mode"] == "batched"), None)
    payload = {
        "parameters": {"n": args.n, "workers": args.workers, "cpus_usable": len(os.sched_getaffinity(0))},
        "targets": {"one_model_ms": TARGET_ONE_MS, "thousand_models_s": TARGET_THOUSAND_S,
                    "one_model_met": one["per_model"]["median_ms"] < TARGET_ONE_MS if one else None,
                    "thousand_models_met": thousand["seconds_total"] < TARGET_THOUSAND_S if thousand else None},
        "runs": runs,
    }
    table("bench.assess", ["models", "mode", "total (s)", "models/s", "median ms", "p90 ms", "CPU ms/model", "15/15"],
          [(r["n_models"], r["mode"], r["seconds_total"], r["models_per_second"], r["per_model"]["median_ms"],
            r["per_model"]["p90_ms"], r["cpu_ms_per_model_parent"], r["passing_all_fifteen"]) for r in runs])
    write_results("assess", payload, args.results_dir)
    return payload


if __name__ == "__main__":
    main()

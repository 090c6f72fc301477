"""Registration throughput: ``fairkg.kg.register.register`` on N synthetic model cards (and N/10 dataset cards),
one by one, into an on-disk Oxigraph store, as ``fairkg register`` does with one card; or, with ``--batched``,
``register_many`` on all of them, as ``fairkg register`` does with many. Target: 10k models in under 60 s.

The card folders (``card.yaml`` and small files) are written first and not timed. One by one, registrations are
timed one at a time; past ``--time-limit`` the run stops and the total for N is projected from the latencies so far
(they grow with the registry's size when a registration does work proportional to it). Batched, only the whole call
is timed (a chunk of cards is written at once, so a registration has no latency of its own): seconds,
registrations/s and models/s, the CPU time of this process and of the ``--workers`` worker processes.
``--profile K`` then profiles K more registrations at the final size with cProfile (CPU time) and attributes the
time to the steps of ``register`` (batched: one ``register_many`` call on the K cards, in process).

Usage::

    python -m bench.register --quick            # 1000 models, one by one
    python -m bench.register --n 10000          # the target, one by one
    python -m bench.register --n 10000 --batched               # register_many, as `fairkg register` with many cards
    python -m bench.register --n 10000 --batched --workers 0   # register_many without worker processes
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import shutil
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BASE_IRI, CACHE_DIR, console, summarize, table, write_results
from bench.generate import dataset_count, model_dataset_indices, write_card_folders

TARGET_SECONDS_10K = 60.0

#: steps of kg.register, by the function that does them (file under the repository, function name) -> label
STEPS = {
    ("kg/register.py", "_read"): "read: card, file hashes (kg.register._read)",
    ("kg/cards.py", "load_card"): "  of which: card: YAML + validation",
    ("kg/artifacts.py", "sha256_file"): "  of which: SHA-256 of the files",
    ("kg/register.py", "content_hash"): "  of which: content hash (card JSON)",
    ("kg/register.py", "_decide"): "decide against the store (kg.register._decide)",
    ("kg/register.py", "_registered_datasets"): "  of which: dataset lookups (kg.identifiers.lookup + ASK)",
    ("kg/register.py", "_latest_version"): "  of which: existing versions (get_graph)",
    ("kg/register.py", "_build"): "build: artifacts, record (kg.register._build)",
    ("kg/artifacts.py", "store_artifact"): "  of which: artifacts: copy, fsync",
    ("kg/records.py", "model_graph"): "  of which: kg.records.model_graph",
    ("kg/records.py", "dataset_graph"): "  of which: kg.records.dataset_graph",
    ("kg/records.py", "hardware_graph"): "  of which: kg.records.hardware_graph",
    ("kg/register.py", "_write"): "write (kg.register._write)",
    ("kg/store/oxigraph.py", "load_graphs"): "  of which: OxigraphStore.load_graphs (all callers)",
    ("kg/catalog.py", "refresh_catalog"): "catalogue refresh",
}


def projected_total(latencies: list[float], total: int) -> float:
    """Seconds all ``total`` registrations would take, from the first ones' latencies (in order), assuming each
    grows linearly with the number registered before it (least squares), which it does when a registration
    rebuilds something the size of the registry. (Models cost more than datasets, so projecting from datasets
    alone underestimates.)"""
    k = len(latencies)
    if k >= total:
        return sum(latencies)
    if k < 10:
        return sum(latencies) / max(1, k) * total
    xs = range(k)
    mean_x, mean_y = (k - 1) / 2, sum(latencies) / k
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, latencies, strict=True)) / sxx
    slope = max(0.0, slope)
    intercept = mean_y - slope * mean_x
    rest = range(k, total)
    return sum(latencies) + sum(intercept + slope * x for x in rest)


def attribute(profile: cProfile.Profile, registrations: int, *, root: str = "register") -> list[dict[str, Any]]:
    """Milliseconds per registration spent in each step of :data:`STEPS` (cumulative, so nested steps overlap);
    ``root``: the function of ``kg/register.py`` profiled (``register`` or ``register_many``), the 100%."""
    stats = pstats.Stats(profile)
    found: dict[str, float] = {}
    for (filename, _, function), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        for (file_suffix, name), label in STEPS.items():
            if function == name and filename.endswith("/" + file_suffix):
                found[label] = found.get(label, 0.0) + cumulative
    total = sum(v for (f, _, fn), (_, _, _, v, _) in stats.stats.items()  # type: ignore[attr-defined]
                if fn == root and f.endswith("/kg/register.py"))
    rows = [{"step": f"kg.register.{root} (all)", "ms_per_registration": 1000 * total / registrations,
             "share": 1.0}]
    for label in STEPS.values():
        if label in found:
            rows.append({"step": label, "ms_per_registration": 1000 * found[label] / registrations,
                         "share": found[label] / total if total else None})
    return rows


def top_functions(profile: cProfile.Profile, limit: int = 25) -> list[dict[str, Any]]:
    stats = pstats.Stats(profile)
    entries = sorted(stats.stats.items(), key=lambda item: item[1][3], reverse=True)  # type: ignore[attr-defined]
    out = []
    for (filename, line, function), (calls, _, own, cumulative, _) in entries[:limit]:
        out.append({"function": f"{_short(filename)}:{line}({function})", "calls": calls,
                    "own_seconds": own, "cumulative_seconds": cumulative})
    return out


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.register", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="models (datasets: a tenth); default 10000")
    parser.add_argument("--quick", action="store_true", help="n=1000 unless --n is given")
    parser.add_argument("--time-limit", type=float, default=900.0,
                        help="one by one: stop registering after this many seconds and project the total "
                        "(900; quick: 120). Batched runs go to the end")
    parser.add_argument("--profile", type=int, default=100,
                        help="registrations to profile (CPU time) at the final size (0: none); 100, quick: 20")
    parser.add_argument("--batched", action="store_true",
                        help="register_many (as `fairkg register` with several cards) instead of one by one")
    parser.add_argument("--workers", type=int, default=None,
                        help="batched: register_many's worker processes (0: in process; default: its own, one "
                        "per CPU from 200 cards)")
    parser.add_argument("--results-dir", type=Path, default=None, help="default bench/results")
    parser.add_argument("--work-dir", type=Path, default=CACHE_DIR, help="where the temporary home goes")
    parser.add_argument("--name", default=None, help="results file name (default register, register-batched)")
    args = parser.parse_args(argv)
    given = argv if argv is not None else sys.argv[1:]
    if args.workers is not None and not args.batched:
        parser.error("--workers needs --batched")
    if args.quick and "--n" not in given:
        args.n = 1000
    if args.quick and "--time-limit" not in given:
        args.time_limit = 120.0
    if args.quick and "--profile" not in given:
        args.profile = 20
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the registration benchmark; write ``register.json`` (or ``register-batched.json``); return it."""
    from fairkg.kg.register import register, register_many
    from fairkg.kg.store import OxigraphStore

    args = parse_args(argv)
    n = args.n
    name = args.name or ("register-batched" if args.batched else "register")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-register-", dir=args.work_dir))
    try:
        console.print(f"[bold]bench.register: {n:,} models, {dataset_count(n):,} datasets"
                      f"{', batched' if args.batched else ', one by one'}[/bold]")
        start = time.perf_counter()
        dataset_dirs, model_dirs = write_card_folders(n, work / "cards")
        seconds_cards = time.perf_counter() - start
        home = work / "home"
        store = OxigraphStore(home / "graph")
        folders = [("dataset", d) for d in dataset_dirs] + [("model", m) for m in model_dirs]
        registered = {"dataset": 0, "model": 0}
        latencies: dict[str, list[float]] = {"dataset": [], "model": []}
        cpu: dict[str, list[float]] = {"dataset": [], "model": []}
        cpu_parent = cpu_workers = None
        stopped_early = False
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        begin = time.perf_counter()
        with Progress(TextColumn("registering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, disable=n < 500) as bar:
            task = bar.add_task("register", total=len(folders))
            if args.batched:
                def progress(outcome: Any) -> None:
                    assert outcome.status == "created", outcome
                    registered[outcome.kind] += 1
                    bar.advance(task)

                c0, w0 = time.process_time(), _children_cpu()
                register_many(store, [f for _, f in folders], home=home, base_iri=BASE_IRI, workers=args.workers,
                              progress=progress)
                cpu_parent, cpu_workers = time.process_time() - c0, _children_cpu() - w0
            for kind, folder in ([] if args.batched else folders):
                t0, c0 = time.perf_counter(), time.process_time()
                outcome = register(store, folder, home=home, base_iri=BASE_IRI)
                latencies[kind].append(time.perf_counter() - t0)
                cpu[kind].append(time.process_time() - c0)
                assert outcome.status == "created", outcome
                registered[kind] += 1
                bar.advance(task)
                if time.perf_counter() - begin > args.time_limit:
                    stopped_early = True
                    break
        seconds_registering = time.perf_counter() - begin
        done_models, done_datasets = registered["model"], registered["dataset"]
        profile_rows: list[dict[str, Any]] = []
        top: list[dict[str, Any]] = []
        profiled = 0
        if args.profile:
            # models beyond the N registered, on datasets already registered (the run may have stopped early)
            candidates = range(n, n + 100_000) if done_datasets else range(0)
            indices = list(islice((i for i in candidates if max(model_dataset_indices(i, n)) < done_datasets),
                                  args.profile))
            extra = write_card_folders(n, work / "profile-cards", models=indices, datasets=False)[1]
            profiler = cProfile.Profile(time.process_time)  # CPU time: others' load does not inflate it
            if args.batched:  # in process, so that the profile sees the steps the workers would run
                profiler.enable()
                profiled = len(register_many(store, extra, home=home, base_iri=BASE_IRI, workers=0))
                profiler.disable()
            else:
                for folder in extra:
                    profiler.enable()
                    register(store, folder, home=home, base_iri=BASE_IRI)
                    profiler.disable()
                    profiled += 1
            profile_rows = attribute(profiler, profiled, root="register_many" if args.batched else "register")
            top = top_functions(profiler)
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
            (work / "profile.txt").write_text(text.getvalue())
        quads = store.count()
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    total_registered = done_datasets + done_models
    model_lat = latencies["model"]
    sequence = latencies["dataset"] + model_lat  # in the order registered
    total_projected = projected_total(sequence, dataset_count(n) + n) if stopped_early else None
    if args.batched:
        models_per_second = done_models / max(1e-9, seconds_registering)
        seconds: dict[str, Any] = {"total": seconds_registering, "cpu_parent": cpu_parent,
                                   "cpu_workers": cpu_workers, "projected_total_for_n": None}
        latency: dict[str, Any] = {"note": "none: register_many writes a chunk of cards at a time, so a "
                                   "registration has no latency of its own; see seconds and throughput"}
    else:
        models_per_second = done_models / max(1e-9, sum(model_lat))
        deciles = []
        if model_lat:
            size = max(1, len(model_lat) // 10)
            for d in range(0, len(model_lat), size):
                chunk = model_lat[d:d + size]
                deciles.append({"from_model": d, "to_model": d + len(chunk), **summarize(chunk)})
        seconds = {"total": seconds_registering, "datasets": sum(latencies["dataset"]), "models": sum(model_lat),
                   "cpu_datasets": sum(cpu["dataset"]), "cpu_models": sum(cpu["model"]),
                   "projected_total_for_n": total_projected}
        latency = {"datasets": summarize(latencies["dataset"]), "models": summarize(model_lat),
                   "models_cpu": summarize(cpu["model"]), "models_by_decile": deciles}
    payload = {
        "parameters": {"n_models": n, "n_datasets": dataset_count(n), "batched": args.batched,
                       "workers": args.workers if args.batched else None,
                       "time_limit_seconds": None if args.batched else args.time_limit,
                       "profile_registrations": args.profile, "store": "oxigraph on disk"},
        "setup": {"seconds_writing_card_folders": seconds_cards},
        "registered": {"datasets": done_datasets, "models": done_models, "quads_in_store": quads,
                       "stopped_early": stopped_early},
        "seconds": seconds,
        "throughput": {"models_per_second": models_per_second,
                       "registrations_per_second": total_registered / max(1e-9, seconds_registering)},
        "latency": latency,
        "target": {"description": "10k models registered in under 60 s", "seconds": TARGET_SECONDS_10K,
                   "value_seconds_for_n": total_projected if stopped_early else seconds_registering,
                   "n_models": n,
                   "met": None if n != 10_000 else (not stopped_early and seconds_registering < TARGET_SECONDS_10K)},
        "latencies_ms": None if args.batched else {kind: [round(1000 * x, 2) for x in values]
                                                   for kind, values in latencies.items()},
        "profile": {"registrations": profiled, "batched": args.batched, "at_registry_size": done_models,
                    "at_registry_datasets": done_datasets, "steps": profile_rows, "top_functions": top},
    }
    rows: list[tuple[str, Any]] = [("models registered", done_models), ("datasets registered", done_datasets),
                                   ("quads in store", quads), ("seconds (all)", seconds_registering),
                                   ("registrations / s", payload["throughput"]["registrations_per_second"]),
                                   ("models / s", models_per_second)]
    if args.batched:
        rows += [("CPU s, this process", cpu_parent), ("CPU s, worker processes", cpu_workers)]
    else:
        rows += [("model latency p50 (ms)", latency["models"].get("p50_ms")),
                 ("model latency p99 (ms)", latency["models"].get("p99_ms")),
                 ("model CPU p50 (ms)", latency["models_cpu"].get("p50_ms"))]
        if latency["models_by_decile"]:
            rows += [("first 10% p50 (ms)", latency["models_by_decile"][0].get("p50_ms")),
                     ("last 10% p50 (ms)", latency["models_by_decile"][-1].get("p50_ms"))]
    if stopped_early:
        rows.append((f"stopped at the time limit; projected for {n:,} (s)", total_projected))
    mode = f"batched, workers: {'default' if args.workers is None else args.workers}" if args.batched else "one by one"
    table(f"bench.register (n={n:,}, {mode})", ["", "value"], rows)
    if profile_rows:
        table(f"where a model registration's time goes ({profiled} registrations at {done_models:,} models, "
              f"{done_datasets:,} datasets{', one register_many call in process' if args.batched else ''}; CPU, "
              "cumulative: nested rows overlap)",
              ["step", "ms / registration", "share"],
              [(r["step"], r["ms_per_registration"], None if r["share"] is None else f"{100 * r['share']:.0f}%")
               for r in profile_rows])
    write_results(name, payload, args.results_dir)
    return payload


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's children that have ended (worker processes, once their pool
    is shut down)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()

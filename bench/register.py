"""Registration throughput: ``fairkg.kg.register.register`` on N synthetic model cards (and N/10 dataset cards),
one by one, into an on-disk Oxigraph store, as ``fairkg register`` does. Target: 10k models in under 60 s.

The card folders (``card.yaml`` and small files) are written first and not timed. Registrations are timed one by
one; past ``--time-limit`` the run stops and the total for N is projected from the latencies so far (they grow
with the registry's size when a registration does work proportional to it). ``--profile K`` then profiles K more
registrations at the final size with cProfile and attributes the time to the steps of ``register``.

``--what-if`` measures the proposal of bench/README.md in this process only (nothing in ``kg/`` changes):
``kg.records`` builds graphs without the per-triple ``bind_prefixes(Graph())`` (``bench.generate.fast_kg_records``)
and cards are parsed with libyaml; ``--what-if catalogue,records,yaml`` also skips the catalogue refresh (which
rebuilt a graph as large as the registry after every registration until commit 6ba9dbf). See :func:`what_if`.

Usage::

    python -m bench.register --quick            # 1000 models
    python -m bench.register --n 10000          # the target
    python -m bench.register --n 10000 --what-if
    python -m bench.register --quick --what-if catalogue      # one change at a time
    python -m bench.register --n 10000 --batched   # register_many, as `fairkg register` with many cards
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BASE_IRI, CACHE_DIR, console, summarize, table, write_results
from bench.generate import dataset_count, fast_kg_records, model_dataset_indices, write_card_folders

TARGET_SECONDS_10K = 60.0

#: steps of kg.register.register, by the function that does them (file, function name) -> label
STEPS = {
    ("catalog.py", "refresh_catalog"): "catalogue refresh",
    ("catalog.py", "build_catalog"): "  of which: building the whole catalogue graph",
    ("records.py", "model_graph"): "record graph: kg.records.model_graph",
    ("records.py", "dataset_graph"): "record graph: kg.records.dataset_graph",
    ("records.py", "split_shared"): "  of which: split_shared",
    ("namespaces.py", "bind_prefixes"): "  of which: bind_prefixes (all callers)",
    ("oxigraph.py", "replace_graph"): "store writes: OxigraphStore.replace_graph (all callers)",
    ("graph.py", "serialize"): "  of which: rdflib N-Triples serialisation (all callers)",
    ("oxigraph.py", "update"): "  of which: pyoxigraph update (parse + write)",
    ("oxigraph.py", "get_graph"): "existing versions: OxigraphStore.get_graph",
    ("register.py", "_registered_datasets"): "dataset lookups (kg.identifiers.lookup + ASK)",
    ("cards.py", "load_card"): "card: YAML + validation",
    ("artifacts.py", "store_artifact"): "artifacts: copy, fsync, hash",
    ("artifacts.py", "sha256_file"): "artifacts: SHA-256 (all callers)",
    ("register.py", "content_hash"): "content hash (card JSON)",
    ("records.py", "hardware_graph"): "hardware graph",
}


WHAT_IF = ("catalogue", "records", "yaml")
#: what ``--what-if`` alone simulates: the proposals that still apply (since commit 6ba9dbf the catalogue no longer
#: grows with the registry: ``catalogue`` only matters on older code)
WHAT_IF_DEFAULT = ("records", "yaml")


class _LibYaml:
    """Stands in for the ``yaml`` module inside ``kg.cards``: ``safe_load`` with libyaml's CSafeLoader, everything
    else from ``yaml`` (since commit 801ebf5 ``kg.cards`` uses the CSafeLoader itself: then this changes nothing)."""

    @staticmethod
    def safe_load(stream: Any) -> Any:
        return yaml.load(stream, Loader=yaml.CSafeLoader)

    def __getattr__(self, name: str) -> Any:
        return getattr(yaml, name)


@contextlib.contextmanager
def what_if(changes: tuple[str, ...]) -> Iterator[None]:
    """Within this block, in this process only (nothing in ``kg/`` changes), ``register`` behaves as the proposal of
    bench/README.md would make it:

    * ``catalogue``: no catalogue refresh after each registration (the caller refreshes once at the end);
    * ``records``: ``kg.records`` without the per-triple ``bind_prefixes(Graph())`` (:func:`fast_kg_records`);
    * ``yaml``: cards parsed with libyaml (``yaml.CSafeLoader``) instead of pure-Python ``yaml.safe_load``.
    """
    import fairkg.kg.cards as kg_cards
    import fairkg.kg.register as kg_register

    unknown = set(changes) - set(WHAT_IF)
    if unknown:
        raise ValueError(f"unknown what-if change(s) {sorted(unknown)}; known: {', '.join(WHAT_IF)}")
    saved_refresh, saved_yaml = kg_register.refresh_catalog, kg_cards.yaml
    if "catalogue" in changes:
        kg_register.refresh_catalog = lambda store, base_iri, **_: None
    if "yaml" in changes and getattr(yaml, "__with_libyaml__", False):
        kg_cards.yaml = _LibYaml()  # type: ignore[assignment]
    try:
        with fast_kg_records("records" in changes):
            yield
    finally:
        kg_register.refresh_catalog, kg_cards.yaml = saved_refresh, saved_yaml


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


def attribute(profile: cProfile.Profile, registrations: int) -> list[dict[str, Any]]:
    """Milliseconds per registration spent in each step of :data:`STEPS` (cumulative, so nested steps overlap)."""
    stats = pstats.Stats(profile)
    found: dict[str, float] = {}
    for (filename, _, function), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        for (file_suffix, name), label in STEPS.items():
            if function == name and filename.endswith(file_suffix) and ("rdflib" in filename) == (
                    file_suffix == "graph.py"):
                found[label] = found.get(label, 0.0) + cumulative
    total = sum(v for (f, _, fn), (_, _, _, v, _) in stats.stats.items()  # type: ignore[attr-defined]
                if fn == "register" and f.endswith("register.py"))
    rows = [{"step": "kg.register.register (all)", "ms_per_registration": 1000 * total / registrations,
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
                        help="stop registering after this many seconds and project the total (900; quick: 120)")
    parser.add_argument("--profile", type=int, default=100,
                        help="registrations to profile (CPU time) at the final size (0: none); 100, quick: 20")
    parser.add_argument("--what-if", nargs="?", const=",".join(WHAT_IF_DEFAULT), default="",
                        help="measure the proposal, in this process only: a comma-separated subset of "
                        f"{','.join(WHAT_IF)} (alone: {','.join(WHAT_IF_DEFAULT)}); see what_if()")
    parser.add_argument("--batched", action="store_true",
                        help="register_many (as `fairkg register` with several cards) instead of one by one")
    parser.add_argument("--results-dir", type=Path, default=None, help="default bench/results")
    parser.add_argument("--work-dir", type=Path, default=CACHE_DIR, help="where the temporary home goes")
    parser.add_argument("--name", default=None,
                        help="results file name (default register, register-what-if, register-what-if-<changes>)")
    args = parser.parse_args(argv)
    args.what_if = tuple(c for c in args.what_if.split(",") if c)
    given = argv if argv is not None else sys.argv[1:]
    if args.quick and "--n" not in given:
        args.n = 1000
    if args.quick and "--time-limit" not in given:
        args.time_limit = 120.0
    if args.quick and "--profile" not in given:
        args.profile = 20
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the registration benchmark; write ``register.json`` (or ``register-what-if.json``); return it."""
    from fairkg.kg.catalog import refresh_catalog
    from fairkg.kg.register import register
    from fairkg.kg.store import OxigraphStore

    args = parse_args(argv)
    n = args.n
    changes: tuple[str, ...] = args.what_if
    name = args.name or ("register-batched" if args.batched else "register" if not changes
                         else "register-what-if" if set(changes) == set(WHAT_IF_DEFAULT)
                         else "register-what-if-" + "-".join(changes))
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-register-", dir=args.work_dir))
    try:
        console.print(f"[bold]bench.register: {n:,} models, {dataset_count(n):,} datasets"
                      f"{' (what-if: ' + ', '.join(changes) + ')' if changes else ''}[/bold]")
        start = time.perf_counter()
        dataset_dirs, model_dirs = write_card_folders(n, work / "cards")
        seconds_cards = time.perf_counter() - start
        home = work / "home"
        store = OxigraphStore(home / "graph")
        folders = [("dataset", d) for d in dataset_dirs] + [("model", m) for m in model_dirs]
        latencies: dict[str, list[float]] = {"dataset": [], "model": []}
        cpu: dict[str, list[float]] = {"dataset": [], "model": []}
        stopped_early = False
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        begin = time.perf_counter()
        with what_if(changes), Progress(TextColumn("registering"), BarColumn(), MofNCompleteColumn(),
                                             TimeElapsedColumn(), console=console, disable=n < 500) as bar:
            task = bar.add_task("register", total=len(folders))
            if args.batched:
                _register_batched(store, [f for _, f in folders], home, latencies, cpu, lambda: bar.advance(task))
            for kind, folder in ([] if args.batched else folders):
                t0, c0 = time.perf_counter(), time.process_time()
                outcome = register(store, folder, home=home, base_iri=BASE_IRI)
                latencies[kind].append(time.perf_counter() - t0)
                cpu[kind].append(time.process_time() - c0)
                assert outcome.status == "created", outcome
                bar.advance(task)
                if time.perf_counter() - begin > args.time_limit:
                    stopped_early = True
                    break
        seconds_registering = time.perf_counter() - begin
        seconds_final_refresh = None
        if "catalogue" in changes:
            seconds_final_refresh, _ = _timed(lambda: refresh_catalog(store, BASE_IRI))
        done_models = len(latencies["model"])
        profile_rows: list[dict[str, Any]] = []
        top: list[dict[str, Any]] = []
        profiled = 0
        if args.profile:
            # models beyond the N registered, on datasets already registered (the run may have stopped early)
            ready = len(latencies["dataset"])
            candidates = range(n, n + 100_000) if ready else range(0)
            indices = list(islice((i for i in candidates if max(model_dataset_indices(i, n)) < ready), args.profile))
            extra = write_card_folders(n, work / "profile-cards", models=indices, datasets=False)[1]
            profiler = cProfile.Profile(time.process_time)  # CPU time: others' load does not inflate it
            with what_if(changes):
                for folder in extra:
                    profiler.enable()
                    register(store, folder, home=home, base_iri=BASE_IRI)
                    profiler.disable()
                    profiled += 1
            profile_rows = attribute(profiler, profiled)
            top = top_functions(profiler)
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
            (work / "profile.txt").write_text(text.getvalue())
        quads = store.count()
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    model_lat = latencies["model"]
    sequence = latencies["dataset"] + model_lat  # in the order registered
    total_projected = projected_total(sequence, dataset_count(n) + n) if stopped_early else None
    deciles = []
    if model_lat:
        size = max(1, len(model_lat) // 10)
        for d in range(0, len(model_lat), size):
            chunk = model_lat[d:d + size]
            deciles.append({"from_model": d, "to_model": d + len(chunk), **summarize(chunk)})
    registered_seconds = seconds_registering + (seconds_final_refresh or 0.0)
    models_per_second = done_models / max(1e-9, sum(model_lat))
    payload = {
        "parameters": {"n_models": n, "n_datasets": dataset_count(n), "what_if": list(changes),
                       "batched": args.batched,
                       "time_limit_seconds": args.time_limit, "profile_registrations": args.profile,
                       "store": "oxigraph on disk"},
        "setup": {"seconds_writing_card_folders": seconds_cards},
        "registered": {"datasets": len(latencies["dataset"]), "models": done_models, "quads_in_store": quads,
                       "stopped_early": stopped_early},
        "seconds": {"total": registered_seconds, "datasets": sum(latencies["dataset"]), "models": sum(model_lat),
                    "cpu_datasets": sum(cpu["dataset"]), "cpu_models": sum(cpu["model"]),
                    "final_catalogue_refresh": seconds_final_refresh,
                    "projected_total_for_n": total_projected},
        "throughput": {"models_per_second": models_per_second,
                       "registrations_per_second": (len(latencies["dataset"]) + done_models) / max(
                           1e-9, seconds_registering)},
        "latency": {"datasets": summarize(latencies["dataset"]), "models": summarize(model_lat),
                    "models_cpu": summarize(cpu["model"]),
                    "models_by_decile": deciles},
        "target": {"description": "10k models registered in under 60 s", "seconds": TARGET_SECONDS_10K,
                   "value_seconds_for_n": total_projected if stopped_early else registered_seconds,
                   "n_models": n,
                   "met": None if n != 10_000 else (not stopped_early and registered_seconds < TARGET_SECONDS_10K)},
        "latencies_ms": {kind: [round(1000 * x, 2) for x in values] for kind, values in latencies.items()},
        "profile": {"registrations": profiled, "at_registry_size": done_models,
                    "at_registry_datasets": len(latencies["dataset"]), "steps": profile_rows,
                    "top_functions": top},
    }
    rows = [("models registered", done_models), ("datasets registered", len(latencies["dataset"])),
            ("quads in store", quads), ("seconds (all)", registered_seconds),
            ("models / s", models_per_second),
            ("model latency p50 (ms)", summarize(model_lat).get("p50_ms")),
            ("model latency p99 (ms)", summarize(model_lat).get("p99_ms")),
            ("model CPU p50 (ms)", summarize(cpu["model"]).get("p50_ms"))]
    if deciles:
        rows += [("first 10% p50 (ms)", deciles[0].get("p50_ms")), ("last 10% p50 (ms)", deciles[-1].get("p50_ms"))]
    if seconds_final_refresh is not None:
        rows.append(("final catalogue refresh (s)", seconds_final_refresh))
    if stopped_early:
        rows.append((f"stopped at the time limit; projected for {n:,} (s)", total_projected))
    table(f"bench.register (n={n:,}{', what-if: ' + ', '.join(changes) if changes else ''})", ["", "value"], rows)
    if profile_rows:
        table(f"where a model registration's time goes ({profiled} registrations at {done_models:,} models, "
              f"{len(latencies['dataset']):,} datasets; CPU, cumulative: nested rows overlap)",
              ["step", "ms / registration", "share"],
              [(r["step"], r["ms_per_registration"], None if r["share"] is None else f"{100 * r['share']:.0f}%")
               for r in profile_rows])
    write_results(name, payload, args.results_dir)
    return payload


def _register_batched(store: Any, folders: list[Path], home: Path, latencies: dict[str, list[float]],
                      cpu: dict[str, list[float]], advance: Any) -> None:
    """``fairkg.kg.register.register_many`` on every folder; each registration's share of the time (the time since
    the previous one was reported: bursty, as graphs are written a chunk at a time; the sums are exact)."""
    from fairkg.kg.register import register_many

    last = [time.perf_counter(), time.process_time()]

    def progress(outcome: Any) -> None:
        assert outcome.status == "created", outcome
        now, now_cpu = time.perf_counter(), time.process_time()
        latencies[outcome.kind].append(now - last[0])
        cpu[outcome.kind].append(now_cpu - last[1])
        last[:] = [now, now_cpu]
        advance()

    register_many(store, folders, home=home, base_iri=BASE_IRI, progress=progress)


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


if __name__ == "__main__":
    main()

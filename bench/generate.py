"""Synthetic registered models for benchmarks: N models (with N/10 datasets) as fairkg would store them.

Two paths build the same records from the same synthetic cards:

* the **fast path** (:func:`records`, :func:`cached_nquads`, :func:`load_store`): ``fairkg.kg.records.dataset_graph``
  / ``model_graph`` / ``hardware_graph`` on validated cards with synthetic
  :class:`~fairkg.kg.artifacts.StoredArtifact` values (no files), written once as N-Quads straight from the
  records' N-Triples terms (one named graph per record, shared resources in graphs of their own, as
  ``kg.register`` stores them) and cached under ``bench/.cache/``; loading is pyoxigraph's bulk loader. For query
  benchmarks.
* the **realistic path** (:func:`write_card_folders`): card folders with small files, for
  ``fairkg.kg.register.register`` / ``register_many`` (validation, hashing, artifact store, lookups, catalogue
  refresh). For registration throughput (``bench/register.py``).

Usage::

    python -m bench.generate --n 10000          # build (or reuse) the cached N-Quads and bulk-load a store
    python -m bench.generate --quick            # n=1000
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from bench._common import BASE_IRI, CACHE_DIR, console, table, write_results

if TYPE_CHECKING:
    from fairkg.kg.ntriples import Triples

#: bump when the synthetic data changes, so stale caches are not reused
GENERATOR_VERSION = 1
SEED = 20260101
#: the code that decides the triples: a change to any of them rebuilds the cached registry
TRIPLE_SOURCES = ("kg/records.py", "kg/cards.py", "kg/ntriples.py", "kg/catalog.py")

LICENCES = ("MIT", "Apache-2.0", "CC-BY-4.0", "BSD-3-Clause", "GPL-3.0-only", None)
LICENCE_WEIGHTS = (30, 25, 20, 10, 5, 10)
ARCHITECTURES = ("convolutional network", "interaction network", "transformer", "graph network",
                 "multilayer perceptron", "U-Net", "residual network", "autoencoder", "recurrent network",
                 "gradient-boosted ensemble")
TASKS = ("classification", "regression", "segmentation", "peak finding", "tagging", "denoising", "forecasting",
         "anomaly detection")
TOPICS = ("jet", "bragg peak", "handwritten digit", "galaxy", "protein", "crystal", "neutrino", "climate", "seismic",
          "tokamak", "cosmic ray", "electron microscopy", "x-ray diffraction", "battery", "catalyst", "genome",
          "radio telescope", "particle track", "calorimeter", "plasma", "weather", "ocean", "polymer", "alloy",
          "photon", "muon", "lattice", "spectrum", "tomography", "hydrology", "wildfire", "solar flare", "asteroid",
          "exoplanet", "molecule", "enzyme", "cell", "neuron", "retina", "turbulence", "combustion", "detector",
          "beamline", "magnet", "superconductor", "semiconductor", "laser", "fusion", "reactor", "material")
KEYWORDS = tuple(sorted({w for t in TOPICS for w in t.split()} | {"deep learning", "hep", "hedm", "cnn", "gnn",
                                                                  "surrogate", "simulation", "benchmark", "fair"}))
ORGANISATIONS = tuple(f"{place} National Laboratory" for place in (
    "Argonne", "Brookhaven", "Fermi", "Lawrence Berkeley", "Oak Ridge", "Pacific Northwest", "SLAC", "Sandia",
    "Los Alamos", "Idaho", "Ames", "Jefferson")) + ("CERN", "DESY", "Diamond Light Source", "ESRF", "PSI", "RIKEN")
GIVEN = ("Ada", "Alan", "Grace", "Emmy", "Marie", "Niels", "Lise", "Enrico", "Chien-Shiung", "Paul", "Dorothy",
         "Richard", "Rosalind", "Max", "Vera", "Subrahmanyan", "Katherine", "John", "Barbara", "Erwin")
FAMILY = ("Lovelace", "Turing", "Hopper", "Noether", "Curie", "Bohr", "Meitner", "Fermi", "Wu", "Dirac", "Hodgkin",
          "Feynman", "Franklin", "Planck", "Rubin", "Chandrasekhar", "Johnson", "Bardeen", "McClintock",
          "Schroedinger")
OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop")
MACHINES = 5
CODES = 20
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def dataset_doi(i: int) -> str:
    return f"10.5072/bench.data-{i:06d}"


def model_doi(i: int) -> str:
    return f"10.5072/bench.model-{i:07d}"


def dataset_count(n_models: int) -> int:
    """How many datasets go with ``n_models`` models: a tenth, at least one."""
    return max(1, n_models // 10)


def _orcid(k: int) -> str:
    digits = f"{k:015d}"
    return f"{digits[:4]}-{digits[4:8]}-{digits[8:12]}-{digits[12:15]}{k % 10}"


def _creator(k: int) -> dict[str, Any]:
    person: dict[str, Any] = {"name": f"{GIVEN[k % len(GIVEN)]} {FAMILY[(k // len(GIVEN)) % len(FAMILY)]} {k}"}
    if k % 5:  # one in five has no ORCID iD
        person["orcid"] = _orcid(100_000_000 + k)
    if k % 3 == 0:
        person["affiliation"] = ORGANISATIONS[k % len(ORGANISATIONS)]
    return person


def _hardware(k: int) -> dict[str, Any]:
    gpus = [{"name": "NVIDIA H100 80GB HBM3", "memory_bytes": 80 << 30, "driver_version": "550.54.15",
             "cuda_version": "12.4", "compute_capability": "9.0"}] if k % 2 else []
    return {"hostname_hash": hashlib.sha256(f"bench-machine-{k}".encode()).hexdigest(),
            "cpu_model": f"Synthetic CPU {k}", "cpu_cores": 2 ** (1 + k % 6), "memory_bytes": (8 << 30) * (1 + k),
            "architecture": "x86_64", "operating_system": "Linux-6.1-x86_64", "gpus": gpus}


def dataset_card(i: int, n_models: int) -> dict[str, Any]:
    """The card of synthetic dataset ``i`` (deterministic)."""
    rng = random.Random(SEED * 31 + i)
    n_people = max(10, n_models // 20)
    topic = TOPICS[i % len(TOPICS)]
    card: dict[str, Any] = {
        "kind": "dataset", "doi": dataset_doi(i), "title": f"Synthetic {topic} dataset {i}",
        "description": f"Generated {topic} samples for benchmarking fairkg (dataset {i}).",
        "creators": [_creator(rng.randrange(n_people)) for _ in range(rng.randint(1, 3))],
        "publisher": ORGANISATIONS[i % len(ORGANISATIONS)], "publication_year": 2015 + i % 12,
        "keywords": rng.sample(KEYWORDS, 3),
        "files": [{"path": "train.h5", "splits": ["train", "validation"], "description": "training split"},
                  {"path": "test.h5", "splits": ["test"]}][: 1 + i % 2],
        "provenance": f"Simulated with the {topic} generator, seed {i}.", "record_count": 1000 * (1 + i % 50),
        "features": "x: float32[11, 11], y: float32[2]",
    }
    if (licence := rng.choices(LICENCES, LICENCE_WEIGHTS)[0]) is not None:
        card["license"] = licence
    return card


def model_card(i: int, n_models: int) -> dict[str, Any]:
    """The card of synthetic model ``i`` (deterministic): DOI, creators, licence (one in ten has none),
    keywords, tensor specs, 2 distributions, a training run with hyperparameters and a dataset link (19 in 20), an
    evaluation, a reference example (half of them)."""
    rng = random.Random(SEED + i)
    n_data = dataset_count(n_models)
    n_people = max(10, n_models // 20)
    arch, task, topic = ARCHITECTURES[i % len(ARCHITECTURES)], rng.choice(TASKS), rng.choice(TOPICS)
    train_data = dataset_doi(rng.randrange(n_data))
    features = rng.choice((4, 16, 64, 121, 1800))
    classes = rng.choice((2, 5, 10))
    card: dict[str, Any] = {
        "kind": "model", "doi": model_doi(i), "title": f"{arch.capitalize()} for {topic} {task}, model {i}",
        "description": f"A synthetic {arch} trained for {topic} {task}; registered by fairkg's benchmarks.",
        "creators": [_creator(rng.randrange(n_people)) for _ in range(rng.randint(1, 4))],
        "publisher": ORGANISATIONS[rng.randrange(len(ORGANISATIONS))], "publication_year": 2018 + i % 9,
        "version": f"1.{i % 3}.0", "keywords": rng.sample(KEYWORDS, rng.randint(2, 4)), "task": task,
        "framework": "PyTorch 2.13",
        "inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", features],
                    "description": f"{features} standardised features"}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", classes],
                     "description": "class scores", "semantics": "logits"}],
        "distributions": [{"path": "model.onnx", "format": "onnx", "runtime_version": "onnx opset 18"},
                          {"path": "model.pt2", "format": "torch-export", "runtime_version": "torch 2.13.0"}],
        "evaluations": [{"metric": rng.choice(("accuracy", "roc_auc", "f1")), "value": round(rng.random(), 4),
                         "dataset": dataset_doi(rng.randrange(n_data)), "split": "test"}],
    }
    if (licence := rng.choices(LICENCES, LICENCE_WEIGHTS)[0]) is not None:
        card["license"] = licence
    if i % 2 == 0:
        card["reference"] = {"path": "reference.safetensors", "tolerance": 1e-4}
    if i % 20 != 19:
        started = EPOCH + timedelta(minutes=i)
        card["training"] = {
            "started": started.isoformat(), "ended": (started + timedelta(seconds=rng.randint(30, 36000))).isoformat(),
            "datasets": [train_data],
            "dataset_checksums": {train_data: hashlib.sha256(train_data.encode()).hexdigest()},
            "hyperparameters": {"optimizer": rng.choice(OPTIMIZERS), "lr": rng.choice((0.1, 0.01, 1e-3, 3e-4)),
                                "epochs": rng.randint(3, 100), "batch_size": rng.choice((16, 32, 64, 256)),
                                "seed": i, "weight_decay": rng.choice((0.0, 1e-4))},
            "preprocessing": ["standardised to zero mean, unit variance"],
            "epoch_metrics": [{"epoch": e, "name": "loss", "value": round(1 / (e + 1), 4)} for e in range(3)],
            "code": {"name": f"bench.train_{i % CODES}", "version": f"0.{i % CODES % 4}.0",
                     "repository": f"https://github.com/example/train-{i % CODES}"},
            "software": [{"name": "torch", "version": "2.13.0"},
                         {"name": "numpy", "version": rng.choice(("1.26.4", "2.0.0", "2.1.3"))}],
            "python_version": "CPython 3.12.3", "hardware": _hardware(rng.randrange(MACHINES)),
        }
    else:
        card["trained_on"] = [train_data]
    return card


def model_dataset_indices(i: int, n_models: int) -> set[int]:
    """The indices of the datasets synthetic model ``i`` names (training and evaluation)."""
    card = model_card(i, n_models)
    dois = [*card.get("trained_on", []), *card.get("training", {}).get("datasets", []),
            *(e["dataset"] for e in card["evaluations"])]
    return {int(doi.rsplit("-", 1)[1]) for doi in dois}


def card_file_paths(card: dict[str, Any]) -> list[str]:
    paths = [f["path"] for f in card.get("files", [])] + [d["path"] for d in card.get("distributions", [])]
    if card.get("reference"):
        paths.append(card["reference"]["path"])
    return paths


# -- the fast path: records -> N-Quads -> bulk load -------------------------------------------------------------
@dataclass
class GenerationStats:
    datasets: int = 0
    models: int = 0
    quads: int = 0
    seconds_cards: float = 0.0  # building and validating cards, content hashes
    seconds_records: float = 0.0  # kg.records.dataset_graph / model_graph (+ hardware_graph)
    seconds_serialise: float = 0.0  # N-Quads lines from the records' terms


def _stored(doi: str, path: str) -> Any:
    from fairkg.kg.artifacts import StoredArtifact, location_for

    digest = hashlib.sha256(f"{doi}:{path}".encode()).hexdigest()
    return StoredArtifact(digest, 1000 + int(digest[:6], 16), location_for(digest))


def records(n_models: int, *, base_iri: str = BASE_IRI, stats: GenerationStats | None = None
            ) -> Iterator[tuple[str, Triples, bool]]:
    """``(graph name, triples, shared)`` for every graph of the synthetic registry of ``n_models`` models: its
    datasets, then its models, each preceded by its shared resources (persons, organisations, licences, software,
    machines...; ``shared`` true), which live in graphs of their own. These are the graphs ``kg.register`` writes,
    built without files (:class:`~fairkg.kg.ntriples.Triples`: N-Triples terms)."""
    from fairkg.kg.cards import parse_card
    from fairkg.kg.identifiers import resource_iri, uuid_for
    from fairkg.kg.records import dataset_graph, hardware_graph, model_graph
    from fairkg.kg.register import content_hash

    stats = stats if stats is not None else GenerationStats()
    machines: set[str] = set()
    for kind, count in (("dataset", dataset_count(n_models)), ("model", n_models)):
        for i in range(count):
            t0 = time.perf_counter()
            data = dataset_card(i, n_models) if kind == "dataset" else model_card(i, n_models)
            card = parse_card(data)
            doi = data["doi"]
            files = {p: _stored(doi, p) for p in card_file_paths(data)}
            digest = content_hash(card, {p: s.sha256 for p, s in files.items()})
            key = uuid_for(doi)
            registered = EPOCH + timedelta(seconds=i)
            t1 = time.perf_counter()
            if kind == "dataset":
                record = dataset_graph(card, base_iri=base_iri, key=key, doi=doi, files=files, content_hash=digest,
                                       registered_at=registered)
                stats.datasets += 1
            else:
                hardware = None
                if card.training is not None:
                    hardware, machine = hardware_graph(card.training.hardware, base_iri=base_iri)
                    if hardware not in machines:
                        machines.add(hardware)
                        yield hardware, machine, True
                datasets = {ident: str(resource_iri(base_iri, uuid_for(ident)))
                            for ident in [*card.training_datasets, *(e.dataset for e in card.evaluations)]}
                record = model_graph(card, base_iri=base_iri, key=key, doi=doi, files=files, datasets=datasets,
                                     hardware=hardware, content_hash=digest, registered_at=registered)
                stats.models += 1
            stats.seconds_cards += t1 - t0
            stats.seconds_records += time.perf_counter() - t1
            yield from ((name, shared, True) for name, shared in record.shared.items())
            yield record.iri, record.graph, False


def write_nquads(n_models: int, target: Path, *, base_iri: str = BASE_IRI, progress: bool = False
                 ) -> GenerationStats:
    """Write the synthetic registry of ``n_models`` models to ``target`` as N-Quads, one named graph per record.
    A shared resource's graph is written once, with the union of what the records said about it (what replacing
    it at every registration leaves, give or take an affiliation a later card drops)."""
    stats = GenerationStats()
    shared_quads: dict[str, set[str]] = {}
    tmp = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    total = dataset_count(n_models) + n_models
    with tmp.open("w", encoding="utf-8") as out, _progress(progress, total) as advance:
        for name, graph, shared in records(n_models, base_iri=base_iri, stats=stats):
            t0 = time.perf_counter()
            quads = [f"{s} {p} {o} <{name}> ." for s, p, o in graph]
            if shared:
                shared_quads.setdefault(name, set()).update(quads)
            else:
                out.write("\n".join(quads))
                out.write("\n")
                stats.quads += len(quads)
                advance()
            stats.seconds_serialise += time.perf_counter() - t0
        for quads in shared_quads.values():
            out.write("\n".join(sorted(quads)))
            out.write("\n")
            stats.quads += len(quads)
    tmp.replace(target)
    return stats


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Any]:
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as bar:
        task = bar.add_task("records", total=total)
        yield lambda: bar.advance(task)


def cache_key(n_models: int) -> str:
    """A name for the cached registry of ``n_models`` models: it changes when the generator or the code that
    decides the triples (:data:`TRIPLE_SOURCES`) does, so a stale cache is never reused."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(str(GENERATOR_VERSION).encode())
    for rel in TRIPLE_SOURCES:
        path = root / rel
        digest.update(path.read_bytes() if path.exists() else rel.encode())
    return f"registry-{n_models}-{digest.hexdigest()[:12]}"


def cached_nquads(n_models: int, *, cache_dir: Path = CACHE_DIR, progress: bool = False, reuse_any: bool = False
                  ) -> tuple[Path, GenerationStats | None]:
    """The N-Quads file of the synthetic registry of ``n_models`` models, built if not cached yet (older caches
    for the same ``n_models`` are removed). The stats are None when the cache was reused.

    ``reuse_any``: take the newest cached registry of ``n_models`` models even if the code that decides the
    triples (:data:`TRIPLE_SOURCES`) changed since it was built (rebuilding 100k models takes a while)."""
    target = cache_dir / f"{cache_key(n_models)}.nq"
    if target.exists():
        return target, None
    if reuse_any:
        older = sorted(cache_dir.glob(f"registry-{n_models}-*.nq"), key=lambda p: p.stat().st_mtime)
        if older:
            console.print(f"[yellow]reusing {older[-1].name}: built before {', '.join(TRIPLE_SOURCES)} changed"
                          "[/yellow]")
            return older[-1], None
    for stale in cache_dir.glob(f"registry-{n_models}-*.nq"):
        stale.unlink()
    stats = write_nquads(n_models, target, progress=progress)
    return target, stats


def load_store(nquads: Path, path: Path | None) -> tuple[Any, float]:
    """A pyoxigraph store at ``path`` (None: in memory) holding ``nquads`` (bulk-loaded), and the seconds it took.
    An existing store at ``path`` is replaced."""
    import pyoxigraph as ox

    if path is not None and path.exists():
        shutil.rmtree(path)
    start = time.perf_counter()
    store = ox.Store(str(path)) if path is not None else ox.Store()
    store.bulk_load(path=str(nquads), format=ox.RdfFormat.N_QUADS)
    store.flush()
    return store, time.perf_counter() - start


def _store_path(nquads: Path) -> tuple[Path, Path]:
    path = nquads.with_name(f"{nquads.stem}.oxigraph")
    return path, path.with_name(path.name + ".complete")


def _build_cached_store(nquads: Path, n_models: int, cache_dir: Path) -> float:
    """Bulk-load ``nquads`` into its cached store (older stores for ``n_models`` are removed); seconds taken."""
    path, done = _store_path(nquads)
    for stale in cache_dir.glob(f"registry-{n_models}-*.oxigraph*"):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    store, seconds = load_store(nquads, path)
    del store
    done.write_text("ok\n")
    return seconds


def cached_store_path(n_models: int, *, cache_dir: Path = CACHE_DIR, progress: bool = False,
                      reuse_any: bool = False) -> Path:
    """A closed on-disk pyoxigraph store holding the synthetic registry of ``n_models`` models, built (and
    cached beside its N-Quads) if needed. Open it with ``pyoxigraph.Store.read_only`` for concurrent readers."""
    nquads, _ = cached_nquads(n_models, cache_dir=cache_dir, progress=progress, reuse_any=reuse_any)
    path, done = _store_path(nquads)
    if not done.exists():
        _build_cached_store(nquads, n_models, cache_dir)
    return path


# -- the realistic path: card folders -> kg.register.register -----------------------------------------------------
def write_card_folders(n_models: int, root: Path, *, models: Iterable[int] | None = None, datasets: bool = True
                       ) -> tuple[list[Path], list[Path]]:
    """Card folders (``card.yaml`` plus small files with distinct content) for the synthetic registry of
    ``n_models`` models under ``root``: (dataset folders, model folders). Register the datasets first.
    ``models``: which models (default all); more than ``n_models`` is fine (they use the same datasets)."""
    dataset_dirs: list[Path] = []
    model_dirs: list[Path] = []
    plan = [("dataset", range(dataset_count(n_models)) if datasets else range(0), dataset_dirs),
            ("model", models if models is not None else range(n_models), model_dirs)]
    for kind, indices, dirs in plan:
        for i in indices:
            card = dataset_card(i, n_models) if kind == "dataset" else model_card(i, n_models)
            folder = root / f"{kind}s" / f"{i:07d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "card.yaml").write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
            for rel in card_file_paths(card):
                (folder / rel).write_bytes(f"{card['doi']}:{rel}\n".encode())
            dirs.append(folder)
    return dataset_dirs, model_dirs


# -- main -----------------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="models (datasets: a tenth); default 10000")
    parser.add_argument("--quick", action="store_true", help="n=1000 unless --n is given")
    parser.add_argument("--results-dir", type=Path, default=None, help="default bench/results")
    parser.add_argument("--name", default="generate", help="results file name (default: generate)")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help="default bench/.cache")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached N-Quads and store")
    parser.add_argument("--reuse-cache", action="store_true",
                        help="reuse a cached registry built before the code deciding its triples last changed")
    args = parser.parse_args(argv)
    if args.quick and "--n" not in (argv if argv is not None else sys.argv[1:]):
        args.n = 1000
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Build (or reuse) the cached synthetic registry of ``--n`` models, bulk-load it, write
    ``generate.json``; returns what was written."""
    args = parse_args(argv)
    n = args.n
    cache_dir: Path = args.cache_dir
    if args.rebuild:
        for stale in cache_dir.glob(f"registry-{n}-*"):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    console.print(f"[bold]synthetic registry: {n:,} models, {dataset_count(n):,} datasets[/bold]")
    t0 = time.perf_counter()
    nquads, stats = cached_nquads(n, cache_dir=cache_dir, progress=n >= 1000, reuse_any=args.reuse_cache)
    seconds_generate = time.perf_counter() - t0
    import pyoxigraph as ox

    cached_path, done = _store_path(nquads)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix="load-") as tmp:
        if done.exists():  # measure the load on a copy: the cached store stays as it is
            target = Path(tmp) / "store"
            store, seconds_load = load_store(nquads, target)
            del store
        else:  # the load that builds the cache is the measurement
            target = cached_path
            seconds_load = _build_cached_store(nquads, n, cache_dir)
        store = ox.Store.read_only(str(target))
        quads = len(store)
        named_graphs = sum(1 for _ in store.named_graphs())
        del store
        disk_bytes = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    generation: dict[str, Any] = {"cached": stats is None, "nquads_file": str(nquads),
                                  "nquads_bytes": nquads.stat().st_size}
    if stats is not None:
        records_total = stats.datasets + stats.models
        generation.update({
            "seconds_total": seconds_generate, "seconds_cards": stats.seconds_cards,
            "seconds_kg_records": stats.seconds_records, "seconds_serialise": stats.seconds_serialise,
            "records_per_second": records_total / max(1e-9, seconds_generate), "quads_written": stats.quads,
        })
    payload = {
        "parameters": {"n_models": n, "n_datasets": dataset_count(n), "generator_version": GENERATOR_VERSION,
                       "cache_key": nquads.stem},
        "generation": generation,
        "bulk_load": {"seconds": seconds_load, "quads": quads, "named_graphs": named_graphs,
                      "quads_per_model": quads / max(1, n), "store_bytes_on_disk": disk_bytes,
                      "quads_per_second": quads / max(1e-9, seconds_load)},
    }
    rows = [("models", n), ("datasets", dataset_count(n)), ("quads", quads), ("named graphs", named_graphs),
            ("quads per model", quads / max(1, n)),
            ("generation (s)", "cached" if stats is None else generation["seconds_total"]),
            ("bulk load (s)", seconds_load), ("store on disk (MB)", disk_bytes / 1e6)]
    table(f"bench.generate (n={n:,})", ["", "value"], rows)
    write_results(args.name, payload, args.results_dir)
    return payload


if __name__ == "__main__":
    main()

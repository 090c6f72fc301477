"""Synthetic registered models for benchmarks: N models (with N/10 datasets) as fairkg would store them.

Two paths build the same records from the same synthetic cards:

* the **fast path** (:func:`nquads`, :func:`load_store`): ``fairkg.kg.records.dataset_graph`` / ``model_graph``
  on validated cards with synthetic :class:`~fairkg.kg.artifacts.StoredArtifact` values (no files), written once as
  N-Quads (one named graph per record, shared resources in graphs of their own, as ``kg.register`` stores them)
  and cached under ``bench/.cache/``; loading is pyoxigraph's bulk loader. For query benchmarks.
* the **realistic path** (:func:`write_card_folders`, :func:`register_all`): card folders with small files,
  registered one by one with ``fairkg.kg.register.register`` (validation, hashing, artifact store, lookups,
  catalogue refresh). For registration throughput (``bench/register.py``).

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
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from bench._common import BASE_IRI, CACHE_DIR, console, summarize, table, write_results

#: bump when the synthetic data changes, so stale caches are not reused
GENERATOR_VERSION = 1
SEED = 20260101

LICENCES = ("MIT", "Apache-2.0", "CC-BY-4.0", "BSD-3-Clause", "GPL-3.0-only", None)
LICENCE_WEIGHTS = (30, 25, 20, 10, 5, 10)
ARCHITECTURES = ("convolutional network", "interaction network", "transformer", "graph network", "multilayer perceptron",
                 "U-Net", "residual network", "autoencoder", "recurrent network", "gradient-boosted ensemble")
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
            "datasets": [train_data], "dataset_checksums": {train_data: hashlib.sha256(train_data.encode()).hexdigest()},
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
    seconds_cards: float = 0.0  # validating cards
    seconds_records: float = 0.0  # kg.records.*_graph
    seconds_serialise: float = 0.0  # N-Triples + graph names


def _stored(doi: str, path: str) -> Any:
    from fairkg.kg.artifacts import StoredArtifact, location_for

    digest = hashlib.sha256(f"{doi}:{path}".encode()).hexdigest()
    return StoredArtifact(digest, 1000 + int(digest[:6], 16), location_for(digest))


def records(n_models: int, *, base_iri: str = BASE_IRI, stats: GenerationStats | None = None
            ) -> Iterator[tuple[str, Any]]:
    """``(graph name, rdflib Graph)`` for every record of the synthetic registry: datasets, then models, each with
    its shared resources (persons, organisations, licences, software, machines...) as graphs of their own — the
    same graphs ``kg.register.register`` writes, built without files."""
    from fairkg.kg.cards import parse_card
    from fairkg.kg.identifiers import resource_iri, uuid_for
    from fairkg.kg.records import dataset_graph, hardware_graph, model_graph
    from fairkg.kg.register import content_hash

    stats = stats if stats is not None else GenerationStats()
    machines: dict[str, Any] = {}
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
                    if str(hardware) not in machines:
                        machines[str(hardware)] = machine
                        yield str(hardware), machine
                datasets = {ident: resource_iri(base_iri, uuid_for(ident))
                            for ident in [*card.training_datasets, *(e.dataset for e in card.evaluations)]}
                record = model_graph(card, base_iri=base_iri, key=key, doi=doi, files=files, datasets=datasets,
                                     hardware=hardware, content_hash=digest, registered_at=registered)
                stats.models += 1
            t2 = time.perf_counter()
            stats.seconds_cards += t1 - t0
            stats.seconds_records += t2 - t1
            for shared_iri, shared in record.shared.items():
                yield str(shared_iri), shared
            yield str(record.iri), record.graph


def write_nquads(n_models: int, target: Path, *, base_iri: str = BASE_IRI) -> GenerationStats:
    """Write the synthetic registry of ``n_models`` models to ``target`` as N-Quads. A shared resource's graph is
    written once, with the union of what every record said about it."""
    stats = GenerationStats()
    shared: dict[str, set[str]] = {}
    tmp = target.with_suffix(".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8") as out:
        own = None
        for name, graph in records(n_models, base_iri=base_iri, stats=stats):
            t0 = time.perf_counter()
            lines = graph.serialize(format="nt").splitlines()
            suffix = f" <{name}> ."
            quads = [line[:-2] + suffix for line in lines if line.endswith(" .")]
            if "/id/" in name and _is_record(name, own):
                out.write("\n".join(quads))
                out.write("\n")
                stats.quads += len(quads)
            else:
                shared.setdefault(name, set()).update(quads)
            stats.seconds_serialise += time.perf_counter() - t0
        for quads in shared.values():
            out.write("\n".join(sorted(quads)))
            out.write("\n")
            stats.quads += len(quads)
    tmp.replace(target)
    return stats


_RECORD_IRIS: set[str] = set()


def _is_record(name: str, _: object) -> bool:
    return name in _RECORD_IRIS


def record_iris(n_models: int, base_iri: str = BASE_IRI) -> set[str]:
    from fairkg.kg.identifiers import resource_iri, uuid_for

    names = {str(resource_iri(base_iri, uuid_for(dataset_doi(i)))) for i in range(dataset_count(n_models))}
    names |= {str(resource_iri(base_iri, uuid_for(model_doi(i)))) for i in range(n_models)}
    return names

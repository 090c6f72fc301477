"""The benchmarks in bench/ still run: each main function at a tiny N into a temporary results folder, and its JSON
has the expected keys and positive numbers; the synthetic registry is what it says. No Virtuoso; rdflib on 20
models only; 10 registrations one by one, 10 batched. (The benchmarks themselves are never run as tests: see
bench/README.md.)"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
N = 20
TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"


def bench(name: str) -> ModuleType:
    """``bench.<name>``, importable from the repository root (bench/ is not an installed package)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"bench.{name}")


def results(folder: Path, name: str) -> dict:
    document = json.loads((folder / f"{name}.json").read_text())
    assert document["benchmark"] == name
    assert document["date"]
    assert document["machine"]["cpu_cores"] >= 1
    assert document["packages"]["pyoxigraph"]
    return document


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-cache")


def test_generate(tmp_path: Path, cache: Path) -> None:
    generate = bench("generate")
    generate.main(["--n", str(N), "--rebuild", "--results-dir", str(tmp_path), "--cache-dir", str(cache)])
    document = results(tmp_path, "generate")
    assert document["parameters"]["n_models"] == N
    load = document["bulk_load"]
    assert load["quads"] > 100 * N and load["named_graphs"] > N and load["seconds"] > 0
    generation = document["generation"]
    assert generation["cached"] is False and generation["seconds_kg_records"] > 0
    # every quad written is loaded (no line lost, none written twice)
    assert generation["quads_written"] == load["quads"]


def test_synthetic_registry(tmp_path: Path) -> None:
    """The N-Quads of the fast path parse, hold every model and dataset in a named graph of its own (named by its
    IRI), and the shared resources in graphs of their own, as kg.register writes them."""
    import pyoxigraph as ox

    generate = bench("generate")
    n = 12
    graphs = list(generate.records(n))
    own = [(name, triples) for name, triples, shared in graphs if not shared]
    assert len(own) == n + generate.dataset_count(n)
    model = "<http://www.w3.org/ns/mls#Model>"
    typed_models = [name for name, triples in own if (f"<{name}>", TYPE, model) in triples]
    assert len(typed_models) == n
    target = tmp_path / "registry.nq"
    stats = generate.write_nquads(n, target)
    assert (stats.models, stats.datasets) == (n, generate.dataset_count(n))
    store = ox.Store()
    store.bulk_load(path=str(target), format=ox.RdfFormat.N_QUADS)
    assert len(store) == stats.quads
    count = "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ GRAPH ?x {{ ?x a <{cls}> }} }}"
    for cls, expected in (("http://www.w3.org/ns/mls#Model", n),
                          ("http://www.w3.org/ns/mls#Dataset", generate.dataset_count(n))):
        assert int(next(iter(store.query(count.format(cls=cls))))["n"].value) == expected, cls
    # a shared resource (here: people) is described in its own graph, not in the records that name it
    people = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?p a <http://schema.org/Person> } FILTER(?g != ?p) }"
    assert int(next(iter(store.query(people)))["n"].value) == 0
    assert any(shared for _, _, shared in graphs)


def test_sparql(tmp_path: Path, cache: Path) -> None:
    sparql = bench("sparql")
    sparql.main(["--n", str(N), "--reps", "3", "--warmup", "1", "--budget", "2", "--rdflib-max-n", str(N),
                 "--no-virtuoso", "--no-nodelay-twin", "--results-dir", str(tmp_path), "--cache-dir", str(cache)])
    document = results(tmp_path, "sparql")
    backends = set(document["parameters"]["backends"])
    assert {"raw", "kg_store", "minimal_http", "fairkg_http", "rdflib"} <= backends
    assert set(document["results"]) == {"ask_empty", "lookup", "by_dataset", "count_by_licence", "text_search",
                                        "provenance_3hop"}
    for query, cells in document["results"].items():
        for backend, cell in cells.items():
            assert cell["status"] == "ok", (query, backend, cell["status"])
            assert cell["n"] >= 3 and cell["median_ms"] > 0 and cell["p99_ms"] >= cell["p50_ms"] > 0
    assert all(document["rows_agree"].values()), document["rows_agree"]
    assert document["results"]["lookup"]["raw"]["rows"] == 1
    assert document["ratios"]["lookup: fairkg_http / minimal_http"] > 0
    assert "virtuoso" in document["parameters"]["skipped"]
    assert {t["ratio"] for t in document["targets"]} >= {"lookup: fairkg_http / minimal_http"}


def test_register(tmp_path: Path) -> None:
    register = bench("register")
    n = 10  # a registration takes ~0.1-0.3 s
    register.main(["--n", str(n), "--profile", "2", "--results-dir", str(tmp_path), "--work-dir", str(tmp_path)])
    document = results(tmp_path, "register")
    registered = document["registered"]
    assert (registered["datasets"], registered["models"], registered["stopped_early"]) == (1, n, False)
    assert registered["quads_in_store"] > 100 * n
    assert document["throughput"]["models_per_second"] > 0
    assert document["latency"]["models"]["p50_ms"] > 0
    steps = {row["step"]: row for row in document["profile"]["steps"]}
    assert steps["kg.register.register (all)"]["ms_per_registration"] > 0
    assert document["profile"]["registrations"] == 2
    assert {"kg.register._read", "kg.register._decide", "kg.register._build", "kg.register._write"} <= {
        step.split("(")[-1].rstrip(")") for step in steps}, "the profile finds the steps of kg.register"
    assert not list(tmp_path.glob("bench-register-*")), "the temporary home is removed"


def test_register_batched(tmp_path: Path) -> None:
    register = bench("register")
    n = 10
    register.main(["--n", str(n), "--batched", "--workers", "0", "--profile", "2", "--results-dir", str(tmp_path),
                   "--work-dir", str(tmp_path)])
    document = results(tmp_path, "register-batched")
    assert (document["parameters"]["batched"], document["parameters"]["workers"]) == (True, 0)
    registered = document["registered"]
    assert (registered["datasets"], registered["models"], registered["stopped_early"]) == (1, n, False)
    assert registered["quads_in_store"] > 100 * n
    assert document["seconds"]["total"] > 0 and document["seconds"]["cpu_parent"] > 0
    throughput = document["throughput"]
    assert throughput["registrations_per_second"] > throughput["models_per_second"] > 0
    assert "models" not in document["latency"], "no per-registration latencies for a batched run"
    assert document["profile"]["registrations"] == 2
    assert document["profile"]["steps"][0]["step"] == "kg.register.register_many (all)"
    assert not list(tmp_path.glob("bench-register-*")), "the temporary home is removed"

"""The store interface on the embedded backend (the remote backend will run the same suite)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef

from fairkg.kg.errors import ConfigurationError, QuerySyntaxError, QueryTimeoutError, StoreError
from fairkg.kg.store import open_store

EX = "http://example.org/"


def _graph(*objects: str) -> Graph:
    graph = Graph()
    for i, value in enumerate(objects):
        graph.add((URIRef(f"{EX}s{i}"), URIRef(f"{EX}p"), Literal(value)))
    return graph


@pytest.fixture(params=["memory", "disk"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    store = open_store("oxigraph:" if request.param == "memory" else f"oxigraph:{tmp_path / 'graph'}", timeout=5)
    yield store
    store.close()


def test_replacing_a_named_graph_never_duplicates(store) -> None:
    store.replace_graph(f"{EX}g1", _graph("a", "b"))
    store.replace_graph(f"{EX}g1", _graph("a", "c"))
    assert store.count() == 2
    assert {str(o) for o in store.get_graph(f"{EX}g1").objects()} == {"a", "c"}
    assert store.graph_names() == [f"{EX}g1"]


def test_queries_see_the_union_of_named_graphs_unless_a_dataset_is_named(store) -> None:
    store.replace_graph(f"{EX}g1", _graph("a"))
    store.replace_graph(f"{EX}g2", _graph("x", "y"))
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert int(next(store.query(count).bindings())["n"]) == 3
    assert int(next(store.query(count, default_graph_uris=[f"{EX}g2"]).bindings())["n"]) == 2
    named = "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert {str(r["g"]) for r in store.query(named, named_graph_uris=[f"{EX}g1"]).bindings()} == {f"{EX}g1"}


def test_query_kinds_and_result_cap(store) -> None:
    store.replace_graph(f"{EX}g", _graph(*"abcdef"))
    assert store.query("ASK { ?s ?p 'a' }").boolean is True
    constructed = store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }").graph
    assert constructed is not None and len(constructed) == 6
    capped = store.query("SELECT ?o WHERE { ?s ?p ?o }", limit=4).select
    assert capped is not None and len(capped.rows) == 4 and capped.truncated
    full = store.query("SELECT ?o WHERE { ?s ?p ?o }").select
    assert full is not None and len(full.rows) == 6 and not full.truncated


def test_syntax_errors_are_translated(store) -> None:
    with pytest.raises(QuerySyntaxError):
        store.query("SELEKT * WHERE { ?s ?p ?o }")
    with pytest.raises(QuerySyntaxError):
        store.update("INSERT DATTA { <a:b> <a:c> <a:d> }")


def test_describe_collects_triples_about_a_resource_across_graphs(store) -> None:
    g1 = Graph()
    g1.add((URIRef(f"{EX}m"), URIRef(f"{EX}title"), Literal("M")))
    g2 = Graph()
    g2.add((URIRef(f"{EX}run"), URIRef(f"{EX}output"), URIRef(f"{EX}m")))
    store.replace_graph(f"{EX}g1", g1)
    store.replace_graph(f"{EX}g2", g2)
    assert len(store.describe(f"{EX}m")) == 2


def test_dump_and_restore_round_trip_exactly(store) -> None:
    store.replace_graph(f"{EX}g1", _graph("a", "b"))
    store.replace_graph(f"{EX}g2", _graph("c"))
    data = store.dump()
    other = open_store("oxigraph:")
    other.replace_graph(f"{EX}junk", _graph("z"))
    other.restore(data)
    assert other.count() == 3 and other.graph_names() == [f"{EX}g1", f"{EX}g2"]
    assert other.dump() == data or sorted(other.dump().splitlines()) == sorted(data.splitlines())


def _load_many(store, n: int) -> None:
    graph = Graph()
    for i in range(n):
        graph.add((URIRef(f"{EX}s{i}"), URIRef(f"{EX}p"), Literal(i)))
    store.replace_graph(f"{EX}big", graph)


def test_a_runaway_query_is_cut_at_its_deadline_and_others_still_run(store) -> None:
    _load_many(store, 250)  # the cross product below runs ~6 s here: past the deadline, but it ends
    runaway = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?x . ?b ?q ?y . ?c ?r ?z }"  # 1.6e7 rows
    answers: dict[str, float] = {}

    def quick() -> None:
        time.sleep(0.2)
        start = time.perf_counter()
        store.query("ASK { ?s ?p 1 }", timeout=5)
        answers["quick"] = time.perf_counter() - start

    helper = threading.Thread(target=quick)
    helper.start()
    start = time.perf_counter()
    with pytest.raises(QueryTimeoutError, match="deadline"):
        store.query(runaway, timeout=1.0)
    waited = time.perf_counter() - start
    helper.join()
    assert 0.9 <= waited < 3.0
    assert answers["quick"] < waited  # answered while the runaway was still running


def test_unknown_store_urls_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="oxigraph:PATH"):
        open_store("postgres://x")


def test_a_locked_home_says_what_to_do(tmp_path: Path) -> None:
    first = open_store(f"oxigraph:{tmp_path / 'g'}")
    try:
        with pytest.raises(StoreError, match="fairkg serve"):
            open_store(f"oxigraph:{tmp_path / 'g'}")
    finally:
        first.close()

"""The store interface, one suite for every backend: the embedded store in memory and on disk, and the remote store
on a real Virtuoso started on loopback (tests/_virtuoso.py; skipped without Debian's virtuoso-opensource, except in
CI, where a missing Virtuoso fails the run)."""

from __future__ import annotations

import os
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from _virtuoso import INSTALL_HINT, VirtuosoServer, running_virtuoso, virtuoso_installed
from rdflib import BNode, Graph, Literal, URIRef

from fairkg.kg.errors import ConfigurationError, QuerySyntaxError, QueryTimeoutError, StoreError
from fairkg.kg.store import SparqlStore, open_store

EX = "http://example.org/"
# Not rdflib's XSD: pytest looks up attributes on test modules' globals, and XSD warns about unknown names.
XSD_DATE = URIRef("http://www.w3.org/2001/XMLSchema#date")


def _graph(*objects: str) -> Graph:
    graph = Graph()
    for i, value in enumerate(objects):
        graph.add((URIRef(f"{EX}s{i}"), URIRef(f"{EX}p"), Literal(value)))
    return graph


@pytest.fixture(scope="session")
def virtuoso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtuosoServer]:
    """One Virtuoso for the whole session (it takes ~10 s to start)."""
    if not virtuoso_installed():
        if os.environ.get("CI") == "true":  # CI installs it (.ci/run): missing there is a failure, not a skip
            pytest.fail(f"virtuoso-t is not installed on CI: {INSTALL_HINT}")
        pytest.skip(INSTALL_HINT)
    with running_virtuoso(tmp_path_factory.mktemp("virtuoso")) as server:
        yield server


@pytest.fixture(params=["memory", "disk", "virtuoso"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "virtuoso":
        server: VirtuosoServer = request.getfixturevalue("virtuoso")
        store = open_store(server.store_url, timeout=5, user=server.user, password=server.password)
        store.clear()  # each test starts from an empty store: drop every graph but Virtuoso's own
    else:
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
    # The cross product below runs ~6 s in Oxigraph (past the deadline, but it ends) and over 60 s in Virtuoso,
    # which stops it server-side too (test_virtuoso_stops_a_runaway_query_itself).
    _load_many(store, 250)
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
    """Embedded store only: RocksDB lets one process open a home."""
    first = open_store(f"oxigraph:{tmp_path / 'g'}")
    try:
        with pytest.raises(StoreError, match="fairkg serve"):
            open_store(f"oxigraph:{tmp_path / 'g'}")
    finally:
        first.close()


def test_terms_survive_a_round_trip(store) -> None:
    graph = Graph()
    s, b = URIRef(f"{EX}s"), BNode()
    for value in [Literal("Alpha", lang="en"), Literal("2024-01-31", datatype=XSD_DATE), Literal(True),
                  Literal(False), Literal(3), Literal(2.5), Literal("x", datatype=URIRef(f"{EX}dt")),
                  Literal('comma, "quote"\ttab\nnewline\r\\ é 😀'), Literal("control \x01\x1f char"), Literal(""),
                  URIRef(f"{EX}é?a=1&b=2"), b]:
        graph.add((s, URIRef(f"{EX}p"), value))
    graph.add((b, URIRef(f"{EX}label"), Literal("inner")))
    store.replace_graph(f"{EX}g", graph)
    assert store.get_graph(f"{EX}g").isomorphic(graph)
    literals = store.query(f"SELECT ?o WHERE {{ <{EX}s> ?p ?o FILTER(isLiteral(?o)) }}").bindings()
    selected = {row["o"] for row in literals}
    assert selected == {o for o in graph.objects(s) if isinstance(o, Literal)}
    other = open_store("oxigraph:")
    other.restore(store.dump())
    assert other.get_graph(f"{EX}g").isomorphic(graph)


def test_restore_replaces_everything_on_the_same_backend(store) -> None:
    store.replace_graph(f"{EX}g1", _graph("a", "b"))
    store.replace_graph(f"{EX}g2", _graph("c"))
    data = store.dump()
    store.replace_graph(f"{EX}junk", _graph("z"))
    store.restore(data)
    assert store.count() == 3 and store.graph_names() == [f"{EX}g1", f"{EX}g2"]


def test_readers_never_see_a_record_half_replaced(store) -> None:
    store.replace_graph(f"{EX}g", _graph("a", "b", "c"))
    count = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{EX}g> {{ ?s ?p ?o }} }}"
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(int(next(store.query(count).bindings())["n"]))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(30):
            store.replace_graph(f"{EX}g", _graph(f"x{i}", "y", "z"))
    finally:
        stop.set()
        reader.join()
    assert seen == {3}


def test_sparql_store_urls_are_parsed_without_connecting() -> None:
    store = open_store("sparql:http://h:8890/sparql,http://h:8890/sparql-auth", user="u", password="p")
    assert isinstance(store, SparqlStore)
    assert (store.query_url, store.update_url, store.user) == ("http://h:8890/sparql", "http://h:8890/sparql-auth", "u")
    assert open_store("sparql:http://h/sparql").update_url == "http://h/sparql"
    with pytest.raises(ConfigurationError, match="QUERY_URL"):
        open_store("sparql:")
    with pytest.raises(ConfigurationError, match="http"):
        open_store("sparql:h:8890/sparql")


def test_an_unreachable_endpoint_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot reach"):
        open_store("sparql:http://127.0.0.1:9/sparql").count()


# -- the remote store on Virtuoso only ------------------------------------------------------------------------------
@pytest.fixture
def remote(virtuoso: VirtuosoServer) -> Iterator[SparqlStore]:
    """A remote store with tiny requests and pages, so that small graphs take the chunked and paged paths."""
    store = SparqlStore(virtuoso.query_url, virtuoso.update_url, user=virtuoso.user, password=virtuoso.password,
                        default_timeout=5, chunk_triples=7, page_rows=5)
    store.clear()
    yield store
    store.clear()


def test_large_graphs_travel_in_chunks_and_pages(remote: SparqlStore) -> None:
    graph = _graph(*(f"v{i}" for i in range(23)))
    node = URIRef(f"{EX}root")
    for _ in range(12):  # a chain of blank nodes, which must all land in one request
        nxt = BNode()
        graph.add((node, URIRef(f"{EX}next"), nxt))
        node = nxt
    remote.replace_graph(f"{EX}big", graph)
    assert remote.count() == 35 and remote.get_graph(f"{EX}big").isomorphic(graph)
    assert len(remote.describe(f"{EX}root")) == 1
    remote.load_graphs({f"{EX}m{i}": _graph(f"m{i}") for i in range(12)})
    assert len(remote.graph_names()) == 13 and remote.count() == 47
    data = remote.dump()
    assert len(data.splitlines()) == 47
    remote.restore(data)
    assert remote.count() == 47 and remote.get_graph(f"{EX}big").isomorphic(graph)


def test_virtuoso_own_graphs_stay_out_of_fairkg_views(remote: SparqlStore) -> None:
    remote.replace_graph(f"{EX}g", _graph("a"))
    assert remote.graph_names() == [f"{EX}g"] and remote.count() == 1
    assert int(next(remote.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").bindings())["n"]) == 1


def test_virtuoso_stops_a_runaway_query_itself(remote: SparqlStore, virtuoso: VirtuosoServer) -> None:
    _load_many(remote, 250)
    runaway = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?x . ?b ?q ?y . ?c ?r ?z }"
    url = f"{virtuoso.query_url}?{urllib.parse.urlencode({'query': runaway, 'timeout': 1000})}"
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:  # no client deadline: only the server's
        state = response.headers.get("X-SQL-State")
    assert state == "S1TAT" and time.perf_counter() - start < 5  # stopped by the server, partial answer flagged


def test_updates_need_the_update_user(virtuoso: VirtuosoServer) -> None:
    anonymous = SparqlStore(virtuoso.query_url)
    with pytest.raises(StoreError, match="SR186"):
        anonymous.update(f"INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}s> <{EX}p> 1 }} }}")
    wrong = SparqlStore(virtuoso.query_url, virtuoso.update_url, user=virtuoso.user, password="wrong")
    with pytest.raises(StoreError, match="FAIRKG_STORE_PASSWORD"):
        wrong.update(f"INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}s> <{EX}p> 1 }} }}")


def test_virtuoso_xml_results_with_control_characters_parse() -> None:
    """Virtuoso writes U+0001 as ``&#1;``, which XML 1.0 forbids and Python's parser rejects: read it back as the
    character (and leave an escaped ``&amp;#1;`` alone)."""
    from fairkg.kg.store.sparql import _parse_xml

    body = ('<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#"><head><variable name="x"/>'
            '</head><results><result><binding name="x"><literal>a&#1;b&#x1F;c&#9;d&amp;#1;\uE000e</literal>'
            '</binding></result></results></sparql>').encode()
    _boolean, variables, rows = _parse_xml(body, None, lambda kind, text, lang, datatype: text)
    assert variables == ["x"] and rows == [{"x": "a\x01b\x1fc\td&#1;\uE000e"}]

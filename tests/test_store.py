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
from fairkg.kg.store.oxigraph import OxigraphStore

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


def _nt(*objects: str, subject: str = "s") -> bytes:
    """N-Triples as kg/ntriples.py and pyoxigraph write them: one triple a line, each ending in " .\\n"."""
    return "".join(f'<{EX}{subject}{i}> <{EX}p> "{value}" .\n' for i, value in enumerate(objects)).encode()


def _objects(store, name: str) -> set[str]:
    return {str(o) for o in store.get_graph(name).objects()}


def test_load_graphs_replaces_graphs_exactly_from_bytes_and_graphs(store) -> None:
    store.load_graphs({f"{EX}g1": _graph("a", "b"), f"{EX}g2": _nt("x"), f"{EX}gone": _nt("old")})
    store.load_graphs({f"{EX}g1": _nt("a", "c"), f"{EX}g2": _graph("y", "x"), f"{EX}g3": _nt("z", "w"),
                       f"{EX}gone": b""})
    assert _objects(store, f"{EX}g1") == {"a", "c"}
    assert _objects(store, f"{EX}g2") == {"y", "x"}
    assert _objects(store, f"{EX}g3") == {"z", "w"}
    assert store.graph_names() == [f"{EX}g1", f"{EX}g2", f"{EX}g3"] and store.count() == 6
    store.load_graphs({f"{EX}g3": _nt("z", "w"), f"{EX}g4": _nt("q") + _nt("q")})  # unchanged; duplicate lines
    assert store.count() == 7 and _objects(store, f"{EX}g4") == {"q"}


def test_load_graphs_reads_n_triples_not_written_one_triple_a_line(store) -> None:
    # Not the " .\n" layout the fast path rewrites: a comment after a triple, CRLF, blank and comment-only lines.
    data = (f'<{EX}s> <{EX}p> "a" . # a comment .\n'
            f'# only a comment\n\n<{EX}s> <{EX}p> "b" .\r\n<{EX}s> <{EX}p> "c" .').encode()
    store.load_graphs({f"{EX}g": data})
    assert _objects(store, f"{EX}g") == {"a", "b", "c"} and store.count() == 3
    assert store.graph_names() == [f"{EX}g"]


def test_load_graphs_with_blank_nodes(store) -> None:
    data = f'<{EX}s> <{EX}p> _:b1 .\n_:b1 <{EX}label> "inner" .\n'.encode()
    for _ in range(2):
        store.load_graphs({f"{EX}g": data, f"{EX}plain": _nt("a")})
        graph = store.get_graph(f"{EX}g")
        assert len(graph) == 2 and store.count() == 3
        (inner,) = graph.objects(URIRef(f"{EX}s"), URIRef(f"{EX}p"))
        assert isinstance(inner, BNode) and graph.value(inner, URIRef(f"{EX}label")) == Literal("inner")


def test_malformed_n_triples_are_a_store_error_and_nothing_is_written(store) -> None:
    store.load_graphs({f"{EX}changed": _nt("before")})
    bad = _nt("fine") + f'<{EX}s> <{EX}p> "unterminated .\n'.encode()
    with pytest.raises(StoreError):
        store.load_graphs({f"{EX}changed": _nt("after"), f"{EX}new": _nt("n"), f"{EX}bad": bad})
    assert store.graph_names() == [f"{EX}changed"] and _objects(store, f"{EX}changed") == {"before"}


# -- the embedded store's fast path ---------------------------------------------------------------------------------
class _Spy:
    """Stands in for a pyoxigraph Store, noting the writes load_graphs makes through it."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.writes: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def __len__(self) -> int:
        return len(self.inner)  # type: ignore[arg-type]

    def update(self, sparql: str) -> None:
        self.writes.append(("update", sparql))
        self.inner.update(sparql)  # type: ignore[attr-defined]

    def bulk_load(self, data: bytes, **kwargs: object) -> None:
        self.writes.append(("bulk_load", data.decode()))
        self.inner.bulk_load(data, **kwargs)  # type: ignore[attr-defined]

    def load(self, data: bytes, **kwargs: object) -> None:
        self.writes.append(("load", data.decode()))
        self.inner.load(data, **kwargs)  # type: ignore[attr-defined]


@pytest.fixture(params=["memory", "disk"])
def embedded(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[tuple[OxigraphStore, _Spy]]:
    """An embedded store whose writes are noted, bulk-loading new graphs however few (as many records would)."""
    monkeypatch.setattr("fairkg.kg.store.oxigraph.BULK_LOAD_FROM", 1)
    store = open_store("oxigraph:" if request.param == "memory" else f"oxigraph:{tmp_path / 'graph'}")
    assert isinstance(store, OxigraphStore)
    spy = _Spy(store._store)
    store._store = spy
    yield store, spy
    store._store = spy.inner
    store.close()


def _written(spy: _Spy, kind: str) -> set[str]:
    """The graphs among g* named in the writes of ``kind``."""
    return {g for k, text in spy.writes if k == kind for g in ("g1", "g2", "g3", "g4") if f"<{EX}{g}>" in text}


def test_a_few_new_graphs_go_in_one_transaction_many_through_the_bulk_loader(embedded, monkeypatch) -> None:
    store, spy = embedded
    monkeypatch.setattr("fairkg.kg.store.oxigraph.BULK_LOAD_FROM", 3)
    store.load_graphs({f"{EX}g1": _nt("a", "b")})  # 2 quads: below the threshold
    store.load_graphs({f"{EX}g2": _nt("c", "d"), f"{EX}g3": _nt("e")})  # 3 quads
    assert [kind for kind, _ in spy.writes] == ["load", "bulk_load"]
    assert _written(spy, "load") == {"g1"} and _written(spy, "bulk_load") == {"g2", "g3"}
    assert store.count() == 5 and _objects(store, f"{EX}g2") == {"c", "d"}


def test_unchanged_graphs_are_not_written_again(embedded) -> None:
    store, spy = embedded
    typed = (f'<{EX}s> <{EX}n> "01"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'  # stored as "1"
             f'<{EX}s> <{EX}t> "2024-01-31T10:00:00+00:00"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n'
             f'<{EX}s> <{EX}l> "x"@EN .\n').encode()
    graphs = {f"{EX}g1": _nt("a", "b"), f"{EX}g2": _graph("c"), f"{EX}g3": typed}
    store.load_graphs(graphs)
    assert [kind for kind, _ in spy.writes] == ["bulk_load"] and _written(spy, "bulk_load") == {"g1", "g2", "g3"}
    spy.writes.clear()
    store.load_graphs(graphs)
    store.load_graphs({f"{EX}g1": b"".join(reversed(_nt("a", "b").splitlines(keepends=True)))})  # same, reordered
    assert spy.writes == []
    store.load_graphs({f"{EX}g3": typed.replace(b'"01"', b'"02"')})  # a changed value is no longer the same
    assert _written(spy, "update") == {"g3"} and store.count() == 6


def test_a_mixed_call_replaces_changed_graphs_then_bulk_loads_new_ones(embedded) -> None:
    store, spy = embedded
    store.load_graphs({f"{EX}g1": _nt("same"), f"{EX}g2": _nt("old", "older")})
    spy.writes.clear()
    store.load_graphs({f"{EX}g1": _nt("same"), f"{EX}g2": _graph("new"), f"{EX}g3": _nt("fresh"),
                       f"{EX}g4": _graph("also", "fresh")})
    assert [kind for kind, _ in spy.writes] == ["update", "bulk_load"]
    assert _written(spy, "update") == {"g2"} and _written(spy, "bulk_load") == {"g3", "g4"}
    assert (_objects(store, f"{EX}g1"), _objects(store, f"{EX}g2")) == ({"same"}, {"new"})
    assert (_objects(store, f"{EX}g3"), _objects(store, f"{EX}g4")) == ({"fresh"}, {"also", "fresh"})
    assert store.count() == 5


def test_blank_nodes_take_the_transactional_way(embedded) -> None:
    store, spy = embedded
    graph = Graph()
    graph.add((URIRef(f"{EX}s"), URIRef(f"{EX}p"), BNode()))
    store.load_graphs({f"{EX}g1": graph, f"{EX}g2": f"_:x <{EX}p> <{EX}o> .\n".encode(), f"{EX}g3": _nt("a")})
    assert _written(spy, "update") == {"g1", "g2"} and _written(spy, "bulk_load") == {"g3"}
    assert store.count() == 3


def test_bad_input_names_its_graph_and_writes_nothing(embedded) -> None:
    store, spy = embedded
    store.load_graphs({f"{EX}g1": _nt("before")})
    spy.writes.clear()
    with pytest.raises(StoreError, match=f"<{EX}g3> is not valid N-Triples"):
        store.load_graphs({f"{EX}g1": _nt("after"), f"{EX}g2": _nt("n"), f"{EX}g3": b"<a> <b> <c> .\n"})
    with pytest.raises(StoreError, match=f"<{EX}g1> is not valid N-Triples"):
        store.load_graphs({f"{EX}g2": _nt("n"), f"{EX}g1": _nt("x").replace(b" .\n", b"\n")})
    with pytest.raises(StoreError, match="no absolute IRI|cannot name a graph"):
        store.load_graphs({f"{EX}g2": _nt("n"), "not an iri": _nt("x")})
    assert spy.writes == [] and store.graph_names() == [f"{EX}g1"] and _objects(store, f"{EX}g1") == {"before"}


def test_the_load_holds_the_write_lock(embedded) -> None:
    store, spy = embedded
    with store._write_lock:
        writer = threading.Thread(target=store.load_graphs, args=({f"{EX}g1": _nt("a")},))
        writer.start()
        writer.join(timeout=0.3)
        assert writer.is_alive() and spy.writes == []
    writer.join()
    assert _written(spy, "bulk_load") == {"g1"}


def test_a_read_only_store_refuses_loads(tmp_path: Path) -> None:
    open_store(f"oxigraph:{tmp_path / 'g'}").close()
    store = open_store(f"oxigraph:{tmp_path / 'g'}", read_only=True)
    try:
        with pytest.raises(StoreError, match="read-only"):
            store.load_graphs({f"{EX}g1": _nt("a")})
    finally:
        store.close()


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

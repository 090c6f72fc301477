"""The /sparql endpoint against the SPARQL 1.1 Protocol (https://www.w3.org/TR/sparql11-protocol/), over real HTTP."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from conftest import ADMIN_TOKEN, EX, GRAPH_A, GRAPH_B, load_sample, sample_graphs
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDFS
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import JSON, POST, POSTDIRECTLY, XML, SPARQLWrapper

import fairkg.api.sparql as sparql_module
from fairkg.api.app import create_app
from fairkg.kg.settings import Settings
from fairkg.kg.store import open_store

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
RES = "{http://www.w3.org/2005/sparql-results#}"
SELECT_THINGS = f"SELECT ?s ?label WHERE {{ ?s a <{EX.Thing}> ; <{RDFS.label}> ?label }} ORDER BY ?s"
SELECT_ALL_A1 = f"SELECT ?p ?o WHERE {{ <{EX.a1}> ?p ?o }} ORDER BY ?p"
CONSTRUCT_A = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{GRAPH_A}> {{ ?s ?p ?o }} }}"
ASK_A1 = f"ASK {{ <{EX.a1}> a <{EX.Thing}> }}"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def things(answer: httpx.Response) -> list[tuple[str, str]]:
    doc = answer.json()
    assert doc["head"]["vars"] == ["s", "label"]
    return [(b["s"]["value"], b["label"]["value"]) for b in doc["results"]["bindings"]]


EXPECTED_THINGS = [(str(EX.a1), "Alpha"), (str(EX.b1), "Beta")]


# -- the three ways to send a query (§2.1.1 - §2.1.3) ---------------------------------------------------------------
def test_query_via_get(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.get(f"{base}/sparql", params={"query": SELECT_THINGS})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/sparql-results+json"
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "accept" in answer.headers["vary"].lower()
    assert things(answer) == EXPECTED_THINGS


def test_query_via_post_form(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.post(f"{base}/sparql", data={"query": SELECT_THINGS})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert things(answer) == EXPECTED_THINGS


def test_query_via_post_directly(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.post(f"{base}/sparql", content=SELECT_THINGS.encode(),
                        headers={"Content-Type": "application/sparql-query; charset=UTF-8"})
    assert answer.status_code == 200
    assert things(answer) == EXPECTED_THINGS


# -- the dataset (§2.1.4) ------------------------------------------------------------------------------------------
def test_default_graph_uri_restricts_the_default_graph(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    by_get = httpx.get(f"{base}/sparql", params={"query": SELECT_THINGS, "default-graph-uri": GRAPH_A})
    assert things(by_get) == EXPECTED_THINGS[:1]
    by_form = httpx.post(f"{base}/sparql", data={"query": SELECT_THINGS, "default-graph-uri": GRAPH_B})
    assert things(by_form) == EXPECTED_THINGS[1:]
    direct = httpx.post(f"{base}/sparql", params={"default-graph-uri": GRAPH_B}, content=SELECT_THINGS,
                        headers={"Content-Type": "application/sparql-query"})
    assert things(direct) == EXPECTED_THINGS[1:]
    both = httpx.get(f"{base}/sparql", params=[("query", SELECT_THINGS), ("default-graph-uri", GRAPH_A),
                                               ("default-graph-uri", GRAPH_B)])
    assert things(both) == EXPECTED_THINGS


def test_named_graph_uri_limits_the_named_graphs(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g"
    every = httpx.get(f"{base}/sparql", params={"query": query}).json()["results"]["bindings"]
    assert [b["g"]["value"] for b in every] == [GRAPH_A, GRAPH_B]
    one = httpx.get(f"{base}/sparql", params={"query": query, "named-graph-uri": GRAPH_B}).json()
    assert [b["g"]["value"] for b in one["results"]["bindings"]] == [GRAPH_B]


def test_protocol_dataset_overrides_from(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    query = SELECT_THINGS.replace("WHERE", f"FROM <{GRAPH_A}> WHERE")
    assert things(httpx.get(f"{base}/sparql", params={"query": query})) == EXPECTED_THINGS[:1]
    overridden = httpx.get(f"{base}/sparql", params={"query": query, "default-graph-uri": GRAPH_B})
    assert things(overridden) == EXPECTED_THINGS[1:]


# -- result formats (§2.1.5 and the result format Recommendations) --------------------------------------------------
def test_json_terms(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    doc = httpx.get(f"{base}/sparql", params={"query": SELECT_ALL_A1}).json()
    objects = {b["p"]["value"]: b["o"] for b in doc["results"]["bindings"]}
    assert objects[str(RDFS.label)] == {"type": "literal", "value": "Alpha", "xml:lang": "en"}
    assert objects[str(EX.size)] == {"type": "literal", "value": "3",
                                      "datatype": "http://www.w3.org/2001/XMLSchema#integer"}
    assert objects[str(RDFS.comment)] == {"type": "literal", "value": 'comma, "quote"\ttab\nnewline'}
    assert objects["http://www.w3.org/1999/02/22-rdf-syntax-ns#type"] == {"type": "uri", "value": str(EX.Thing)}
    bnode = httpx.get(f"{base}/sparql", params={"query": f"SELECT ?o WHERE {{ <{EX.b1}> <{RDFS.seeAlso}> ?o }}"})
    assert bnode.json()["results"]["bindings"][0]["o"]["type"] == "bnode"


def test_unbound_variables_are_absent(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    query = f"SELECT ?s ?n WHERE {{ ?s a <{EX.Thing}> OPTIONAL {{ ?s <{EX.size}> ?n }} }} ORDER BY ?s"
    for accept, check in [
        ("application/sparql-results+json",
         lambda r: [sorted(b) for b in r.json()["results"]["bindings"]] == [["n", "s"], ["s"]]),
        ("text/csv", lambda r: r.text.split("\r\n")[2] == f"{EX.b1},"),
        ("text/tab-separated-values", lambda r: r.text.split("\n")[2] == f"<{EX.b1}>\t"),
    ]:
        answer = httpx.get(f"{base}/sparql", params={"query": query}, headers={"Accept": accept})
        assert check(answer), (accept, answer.text)


def test_xml_results(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.get(f"{base}/sparql", params={"query": SELECT_ALL_A1},
                       headers={"Accept": "application/sparql-results+xml"})
    assert answer.headers["content-type"].startswith("application/sparql-results+xml")
    root = ET.fromstring(answer.content)
    assert root.tag == f"{RES}sparql"
    assert [v.get("name") for v in root.find(f"{RES}head")] == ["p", "o"]
    objects = {}
    for result in root.find(f"{RES}results"):
        bindings = {b.get("name"): b[0] for b in result}
        objects[bindings["p"].text] = bindings["o"]
    label = objects[str(RDFS.label)]
    assert (label.tag, label.text, label.get("{http://www.w3.org/XML/1998/namespace}lang")) == (
        f"{RES}literal", "Alpha", "en")
    assert objects[str(EX.size)].get("datatype") == "http://www.w3.org/2001/XMLSchema#integer"
    assert objects[str(RDFS.comment)].text == 'comma, "quote"\ttab\nnewline'
    assert objects["http://www.w3.org/1999/02/22-rdf-syntax-ns#type"].tag == f"{RES}uri"


def test_csv_results(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.get(f"{base}/sparql", params={"query": SELECT_ALL_A1}, headers={"Accept": "text/csv"})
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.text.startswith("p,o\r\n") and answer.text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(answer.text, newline="")))
    assert rows[0] == ["p", "o"]
    values = dict(rows[1:])
    assert values[str(RDFS.label)] == "Alpha"  # CSV is lossy: no language tag, no datatype
    assert values[str(EX.size)] == "3"
    assert values[str(RDFS.comment)] == 'comma, "quote"\ttab\nnewline'
    assert '"comma, ""quote""\ttab\nnewline"' in answer.text


def test_tsv_results(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.get(f"{base}/sparql", params={"query": SELECT_ALL_A1},
                       headers={"Accept": "text/tab-separated-values"})
    assert answer.headers["content-type"].startswith("text/tab-separated-values")
    lines = answer.text.split("\n")
    assert lines[0] == "?p\t?o" and lines[-1] == ""
    values = dict(line.split("\t") for line in lines[1:-1])
    assert values[f"<{RDFS.label}>"] == '"Alpha"@en'
    assert values[f"<{EX.size}>"] == '"3"^^<http://www.w3.org/2001/XMLSchema#integer>'
    assert values[f"<{RDFS.comment}>"] == '"comma, \\"quote\\"\\ttab\\nnewline"'
    assert values["<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"] == f"<{EX.Thing}>"


@pytest.mark.parametrize(("accept", "expected"), [
    ("application/json", "application/json"),
    ("text/csv, application/sparql-results+json", "text/csv"),
    ("application/sparql-results+json;q=0.5, text/tab-separated-values", "text/tab-separated-values"),
    ("text/csv;q=0, */*", "application/sparql-results+json"),
    ("application/*", "application/sparql-results+json"),
    ("text/*;q=0.9, application/sparql-results+xml;q=0.1", "text/csv"),
    ("*/*", "application/sparql-results+json"),
])
def test_accept_with_q_values(live_server: tuple[str, Settings], accept: str, expected: str) -> None:
    base, _ = live_server
    answer = httpx.get(f"{base}/sparql", params={"query": SELECT_THINGS}, headers={"Accept": accept})
    assert answer.status_code == 200
    assert answer.headers["content-type"].split(";")[0] == expected


def test_ask(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    as_json = httpx.get(f"{base}/sparql", params={"query": ASK_A1})
    assert as_json.json() == {"head": {}, "boolean": True}
    as_xml = httpx.get(f"{base}/sparql", params={"query": ASK_A1}, headers={"Accept": "application/sparql-results+xml"})
    assert ET.fromstring(as_xml.content).find(f"{RES}boolean").text == "true"
    # The CSV/TSV Recommendation covers SELECT only.
    as_csv = httpx.get(f"{base}/sparql", params={"query": ASK_A1}, headers={"Accept": "text/csv"})
    assert as_csv.status_code == 406
    assert "application/sparql-results+json" in as_csv.json()["available"]


@pytest.mark.parametrize(("accept", "rdflib_format"), [
    (None, "turtle"), ("text/turtle", "turtle"), ("application/n-triples", "nt"),
    ("application/ld+json", "json-ld"), ("application/rdf+xml", "xml"),
])
def test_construct_formats(live_server: tuple[str, Settings], accept: str | None, rdflib_format: str) -> None:
    base, _ = live_server
    headers = {"Accept": accept} if accept else {}
    answer = httpx.get(f"{base}/sparql", params={"query": CONSTRUCT_A}, headers=headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"].split(";")[0] == (accept or "text/turtle")
    graph = Graph().parse(data=answer.content, format=rdflib_format)
    assert isomorphic(graph, sample_graphs()[GRAPH_A])


def test_describe(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.get(f"{base}/sparql", params={"query": f"DESCRIBE <{EX.a1}>"})
    graph = Graph().parse(data=answer.content, format="turtle")
    assert (EX.a1, RDFS.label, Literal("Alpha", lang="en")) in graph


def test_not_acceptable(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.get(f"{base}/sparql", params={"query": SELECT_THINGS}, headers={"Accept": "image/png"})
    assert answer.status_code == 406
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 406 and "image/png" in problem["detail"]
    graph_for_select = httpx.get(f"{base}/sparql", params={"query": SELECT_THINGS}, headers={"Accept": "text/turtle"})
    assert graph_for_select.status_code == 406


def test_truncated_results_are_marked(live_server: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = live_server
    whole = httpx.get(f"{base}/sparql", params={"query": SELECT_ALL_A1})
    assert "x-fairkg-truncated" not in whole.headers
    monkeypatch.setattr(sparql_module, "MAX_RESULT_ROWS", 2)  # the server runs in this process
    cut = httpx.get(f"{base}/sparql", params={"query": SELECT_ALL_A1})
    assert cut.headers["x-fairkg-truncated"] == "true"
    assert len(cut.json()["results"]["bindings"]) == 2
    assert "X-Fairkg-Truncated" in cut.headers["access-control-expose-headers"]


# -- failures (§2.1.7) ----------------------------------------------------------------------------------------------
def test_syntax_error_is_400(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.get(f"{base}/sparql", params={"query": "SELEKT * WHERE { ?s ?p ?o }"})
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.json()["title"] == "Malformed SPARQL"


@pytest.mark.parametrize("request_kwargs", [
    {"method": "GET", "params": [("query", ASK_A1), ("query", ASK_A1)]},
    {"method": "POST", "content": urlencode([("query", ASK_A1), ("query", ASK_A1)]), "headers": FORM},
    {"method": "POST", "data": {"query": ASK_A1, "update": "CLEAR ALL"}, "headers": ADMIN},
    {"method": "POST", "params": {"query": ASK_A1}, "content": ASK_A1,
     "headers": {"Content-Type": "application/sparql-query"}},
    {"method": "POST", "data": {"default-graph-uri": GRAPH_A}},
    {"method": "GET", "params": {"update": "CLEAR ALL"}, "headers": ADMIN},
], ids=["two-queries-get", "two-queries-form", "query-and-update", "query-in-url-and-body", "no-query", "update-get"])
def test_bad_requests_are_400(live_server: tuple[str, Settings], request_kwargs: dict) -> None:
    base, _ = live_server
    answer = httpx.request(url=f"{base}/sparql", **request_kwargs)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    # Nothing was cleared by the update that came with a query.
    assert httpx.get(f"{base}/sparql", params={"query": ASK_A1}).json()["boolean"] is True


@pytest.mark.parametrize("headers", [
    {"Content-Type": "text/plain"},
    {},
    {"Content-Type": "application/sparql-query; charset=UTF-16"},
    {"Content-Type": "application/json"},
], ids=["text-plain", "none", "utf-16", "json"])
def test_unsupported_media_type_is_415(live_server: tuple[str, Settings], headers: dict[str, str]) -> None:
    base, _ = live_server
    body = ASK_A1.encode("utf-16") if "UTF-16" in headers.get("Content-Type", "") else ASK_A1.encode()
    answer = httpx.post(f"{base}/sparql", content=body, headers=headers)
    assert answer.status_code == 415, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(live_server: tuple[str, Settings], method: str) -> None:
    base, _ = live_server
    answer = httpx.request(method, f"{base}/sparql", params={"query": ASK_A1})
    assert answer.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in answer.headers["allow"].split(",")}
    assert answer.headers["content-type"] == "application/problem+json"


def test_unknown_path_is_a_problem_document(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.get(f"{base}/no-such-thing")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 404


# -- service description --------------------------------------------------------------------------------------------
def test_service_description(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.get(f"{base}/sparql")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/turtle")
    graph = Graph().parse(data=answer.text, format="turtle")
    service = graph.value(predicate=SD.endpoint, object=URIRef(f"{base}/sparql"))
    assert service is not None
    assert {SD.SPARQL11Query, SD.SPARQL11Update} <= set(graph.objects(service, SD.supportedLanguage))
    assert SD.UnionDefaultGraph in set(graph.objects(service, SD.feature))
    assert URIRef("http://www.w3.org/ns/formats/SPARQL_Results_JSON") in set(graph.objects(service, SD.resultFormat))
    assert graph.value(service, SD.defaultDataset) is not None
    as_jsonld = httpx.get(f"{base}/sparql", headers={"Accept": "application/ld+json"})
    assert isomorphic(Graph().parse(data=as_jsonld.text, format="json-ld"), graph)


# -- CORS ----------------------------------------------------------------------------------------------------------
def test_cors_preflight_allows_reads_not_tokens(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.options(f"{base}/sparql", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert "content-type" in answer.headers["access-control-allow-headers"].lower()
    assert "authorization" not in answer.headers["access-control-allow-headers"].lower()


# -- update (§2.2) ---------------------------------------------------------------------------------------------------
INSERT_C1 = f"INSERT DATA {{ GRAPH <{GRAPH_B}> {{ <{EX.c1}> a <{EX.Thing}> ; <{RDFS.label}> \"Gamma\" }} }}"
ASK_C1 = f"ASK {{ <{EX.c1}> a <{EX.Thing}> }}"


def _ask(base: str, query: str) -> bool:
    return httpx.get(f"{base}/sparql", params={"query": query}).json()["boolean"]


def test_update_needs_a_token(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    anonymous = httpx.post(f"{base}/sparql", data={"update": INSERT_C1})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="fairkg"'
    assert anonymous.headers["content-type"] == "application/problem+json"
    wrong = httpx.post(f"{base}/sparql", data={"update": INSERT_C1}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    not_bearer = httpx.post(f"{base}/sparql", data={"update": INSERT_C1}, headers={"Authorization": "Basic eDp5"})
    assert not_bearer.status_code == 401
    assert _ask(base, ASK_C1) is False


def test_update_via_form_and_directly(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    answer = httpx.post(f"{base}/sparql", data={"update": INSERT_C1}, headers=ADMIN)
    assert answer.status_code in (200, 204)
    assert "access-control-allow-origin" not in answer.headers  # CORS is for reads only
    assert _ask(base, ASK_C1) is True
    delete = f"DELETE WHERE {{ GRAPH ?g {{ <{EX.c1}> ?p ?o }} }}"  # updates see the store's graphs, not the union
    direct = httpx.post(f"{base}/sparql", content=delete,
                        headers={**ADMIN, "Content-Type": "application/sparql-update"})
    assert direct.status_code in (200, 204)
    assert "access-control-allow-origin" not in direct.headers
    assert _ask(base, ASK_C1) is False


def test_update_errors(live_server: tuple[str, Settings]) -> None:
    base, _ = live_server
    syntax = httpx.post(f"{base}/sparql", data={"update": "INSERT NONSENSE"}, headers=ADMIN)
    assert syntax.status_code == 400
    assert "access-control-allow-origin" not in syntax.headers
    two = httpx.post(f"{base}/sparql", content=urlencode([("update", INSERT_C1), ("update", INSERT_C1)]),
                     headers={**ADMIN, **FORM})
    assert two.status_code == 400
    using = httpx.post(f"{base}/sparql", data={"update": INSERT_C1, "using-graph-uri": GRAPH_A}, headers=ADMIN)
    assert using.status_code == 400
    utf16 = httpx.post(f"{base}/sparql", content=INSERT_C1.encode("utf-16"),
                       headers={**ADMIN, "Content-Type": "application/sparql-update; charset=UTF-16"})
    assert utf16.status_code == 415
    assert _ask(base, ASK_C1) is False


def test_updates_need_an_admin_token_from_the_token_store(tmp_path: Path, serve_app: Callable[..., str]) -> None:
    from fairkg.kg.tokens import create_token

    store = load_sample(open_store("oxigraph:"))
    try:
        base = serve_app(create_app(Settings(home=tmp_path, admin_token=None), store=store))
        answer = httpx.post(f"{base}/sparql", data={"update": INSERT_C1}, headers=ADMIN)
        assert answer.status_code == 403
        assert "admin right" in answer.json()["detail"]
        publisher = create_token(tmp_path, name="pub", role="publisher").token
        answer = httpx.post(f"{base}/sparql", data={"update": INSERT_C1},
                            headers={"Authorization": f"Bearer {publisher}"})
        assert answer.status_code == 403
        admin = create_token(tmp_path, name="ops", role="admin").token
        answer = httpx.post(f"{base}/sparql", data={"update": INSERT_C1}, headers={"Authorization": f"Bearer {admin}"})
        assert answer.status_code in (200, 204)
        description = Graph().parse(data=httpx.get(f"{base}/sparql").text, format="turtle")
        assert SD.SPARQL11Update in set(description.objects(None, SD.supportedLanguage))
    finally:
        store.close()


# -- real clients: SPARQLWrapper and rdflib's SPARQLStore answer as the store itself -----------------------------------
@pytest.fixture
def reference_store():
    store = load_sample(open_store("oxigraph:"))
    yield store
    store.close()


def _rows(store, query: str) -> set[tuple[str, ...]]:
    result = store.query(query).select
    return {tuple(str(row.get(v, "")) for v in result.variables) for row in result.rows}


def test_sparqlwrapper_agrees_with_the_store(live_server: tuple[str, Settings], reference_store) -> None:
    base, _ = live_server
    expected = _rows(reference_store, SELECT_ALL_A1)
    for method, request_method, return_format in [("GET", None, JSON), (POST, None, JSON), (POST, POSTDIRECTLY, XML)]:
        client = SPARQLWrapper(f"{base}/sparql")
        client.setMethod(method)
        if request_method:
            client.setRequestMethod(request_method)
        client.setQuery(SELECT_ALL_A1)
        client.setReturnFormat(return_format)
        if return_format == JSON:
            bindings = client.queryAndConvert()["results"]["bindings"]
            got = {(b["p"]["value"], b["o"]["value"]) for b in bindings}
        else:
            doc = client.queryAndConvert()  # an xml.dom document
            got = set()
            for result in doc.getElementsByTagName("result"):
                values = {b.getAttribute("name"): b.firstChild.firstChild.data for b in result.getElementsByTagName(
                    "binding")}
                got.add((values["p"], values["o"]))
        assert got == expected, (method, request_method, return_format)

    ask = SPARQLWrapper(f"{base}/sparql")
    ask.setQuery(ASK_A1)
    ask.setReturnFormat(JSON)
    assert ask.queryAndConvert()["boolean"] is reference_store.query(ASK_A1).boolean

    construct = SPARQLWrapper(f"{base}/sparql")
    construct.setQuery(CONSTRUCT_A)
    assert isomorphic(construct.queryAndConvert(), reference_store.query(CONSTRUCT_A).graph)

    update = SPARQLWrapper(f"{base}/sparql")
    update.setMethod(POST)
    update.addCustomHttpHeader("Authorization", f"Bearer {ADMIN_TOKEN}")
    update.setQuery(INSERT_C1)
    update.query()
    assert _ask(base, ASK_C1) is True


def test_rdflib_sparqlstore_agrees_with_the_store(live_server: tuple[str, Settings], reference_store) -> None:
    base, _ = live_server
    graph = Graph(store=SPARQLStore(f"{base}/sparql"))
    got = {tuple(str(v) for v in row) for row in graph.query(SELECT_ALL_A1)}
    assert got == _rows(reference_store, SELECT_ALL_A1)
    assert bool(graph.query(ASK_A1)) is reference_store.query(ASK_A1).boolean
    assert isomorphic(graph.query(CONSTRUCT_A).graph, reference_store.query(CONSTRUCT_A).graph)
    assert set(graph.triples((EX.a1, None, None))) == set(reference_store.describe(str(EX.a1)).triples(
        (EX.a1, None, None)))


# -- deadline: a runaway query is answered on time, and does not hold up the others ---------------------------------
RUNAWAY_GRAPH = "http://localhost:8000/graph/runaway"
# 3000 triples, 6 per predicate: this cross product counts 54 million rows, about 11 s in pyoxigraph (measured on a
# 2-core machine); it is bounded so that the thread it leaves behind (pyoxigraph cannot stop it) ends soon after.
RUNAWAY = ("SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?q ?d . ?e <http://localhost:8000/id/p0> ?f }")


def test_runaway_query_times_out_while_others_are_served(live_server: tuple[str, Settings]) -> None:
    base, settings = live_server
    triples = "\n".join(f"<{EX}s{i}> <{EX}p{i % 500}> \"{i}\" ." for i in range(3000))
    loaded = httpx.post(f"{base}/sparql", headers=ADMIN,
                        data={"update": f"INSERT DATA {{ GRAPH <{RUNAWAY_GRAPH}> {{ {triples} }} }}"})
    assert loaded.status_code == 204

    events: list[tuple[str, float]] = []
    answers: dict[str, httpx.Response] = {}
    start = time.monotonic()

    def runaway() -> None:
        with httpx.Client(timeout=60) as client:  # its own connection
            answers["runaway"] = client.get(f"{base}/sparql", params={"query": RUNAWAY})
        events.append(("runaway", time.monotonic() - start))

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.5)  # the runaway query is running now
    with httpx.Client(timeout=60) as client:
        simple_start = time.monotonic()
        answers["simple"] = client.get(f"{base}/sparql", params={"query": ASK_A1})
        simple_elapsed = time.monotonic() - simple_start
    events.append(("simple", time.monotonic() - start))
    thread.join(timeout=30)

    assert answers["simple"].json()["boolean"] is True
    assert simple_elapsed < 1.0, simple_elapsed
    assert [name for name, _ in events] == ["simple", "runaway"]
    runaway_answer, runaway_elapsed = answers["runaway"], dict(events)["runaway"]
    assert runaway_answer.status_code == 503, runaway_answer.text
    assert runaway_answer.headers["content-type"] == "application/problem+json"
    assert runaway_answer.headers["retry-after"] == "2"
    assert runaway_answer.headers["access-control-allow-origin"] == "*"
    assert settings.query_timeout - 0.1 <= runaway_elapsed <= settings.query_timeout + 1.5, runaway_elapsed
    # ... and the service still answers afterwards.
    assert httpx.get(f"{base}/sparql", params={"query": ASK_A1}).json()["boolean"] is True


def test_json_results_are_json(live_server: tuple[str, Settings]) -> None:
    # A smoke test of escaping: every literal of the sample round-trips through the JSON writer.
    base, _ = live_server
    doc = json.loads(httpx.get(f"{base}/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"}).content)
    assert len(doc["results"]["bindings"]) == sum(len(g) for g in sample_graphs().values())


def test_every_error_is_a_problem_document(serve_app: Callable[..., str]) -> None:
    # Request validation errors and unexpected exceptions too, not only the SPARQL routes' own problems.
    from fastapi import FastAPI

    from fairkg.api.problems import install_problem_handlers

    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/square")
    def square(n: int) -> int:
        return n * n

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    base = serve_app(app)
    invalid = httpx.get(f"{base}/square", params={"n": "two"})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert invalid.json()["errors"][0]["loc"] == ["query", "n"]
    failed = httpx.get(f"{base}/boom")
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    assert "secret" not in failed.text

"""HTML browsing over real HTTP: the home page, resource pages (models, datasets, runs), the catalogue and the query
page. Resource pages are reached through a small test route calling ``resource_page`` directly, so these tests do
not depend on the resolver."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from _cards import dataset_card, model_card, write_card
from fastapi import Request
from fastapi.responses import HTMLResponse
from rdflib import Graph, URIRef

from fairkg.api.app import create_app
from fairkg.api.deps import SettingsDep, StoreDep
from fairkg.api.pages import resource_page
from fairkg.kg.catalog import catalog_iri
from fairkg.kg.namespaces import DCAT, PROV, RDF
from fairkg.kg.register import Registration, register, withdraw
from fairkg.kg.settings import Settings
from fairkg.kg.store import Store, open_store

BASE = "http://localhost:8000"
HREF = re.compile(r'href="([^"]*)"')
DCTERMS = "PREFIX dcterms: <http://purl.org/dc/terms/>\n"


@dataclass
class Registry:
    url: str
    store: Store
    settings: Settings
    dataset: Registration
    model: Registration

    def page(self, iri: str) -> httpx.Response:
        return httpx.get(f"{self.url}/_test/page/{iri.rsplit('/', 1)[-1]}")

    def run_iri(self) -> str:
        return str(self.store.get_graph(self.model.iri).value(URIRef(self.model.iri), PROV.wasGeneratedBy))


@pytest.fixture
def registry(tmp_path: Path, serve_app: Callable[..., str]) -> Iterator[Registry]:
    settings = Settings(home=tmp_path / "home", base_iri=BASE, query_timeout=5)
    store = open_store("oxigraph:")
    data = register(store, write_card(tmp_path / "data", dataset_card()), home=settings.home, base_iri=BASE)
    model = register(store, write_card(tmp_path / "model", model_card()), home=settings.home, base_iri=BASE)
    app = create_app(settings, store=store)

    @app.get("/_test/page/{key}", response_class=HTMLResponse)
    def page(key: str, request: Request, store: StoreDep, settings: SettingsDep) -> HTMLResponse:
        return resource_page(request, store, settings, URIRef(f"{settings.base_iri}/id/{key}"))

    yield Registry(serve_app(app), store, settings, data, model)
    store.close()


def _key(iri: str) -> str:
    return iri.rsplit("/", 1)[-1]


def _internal_links_are_relative(html: str) -> None:
    hrefs = HREF.findall(html)
    assert hrefs
    assert not [h for h in hrefs if h.startswith(BASE)], "internal IRIs must link relatively"


def test_home_lists_the_registered_model_and_dataset_a_search_box_and_example_queries(registry: Registry) -> None:
    response = httpx.get(registry.url + "/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert f'href="/id/{registry.model.key}"' in html and "Test model" in html
    assert f'href="/id/{registry.dataset.key}"' in html and "Test data" in html
    assert 'action="/search"' in html and 'name="q"' in html
    examples = [h.replace("&amp;", "&") for h in HREF.findall(html) if h.startswith("/query?query=")]
    assert len(examples) >= 3
    answer = httpx.get(registry.url + examples[0])
    assert answer.status_code == 200 and "<table" in answer.text and "Test model" in answer.text
    for label in ("Home", "Search", "Query", "Catalog"):
        assert f">{label}</a>" in html
    _internal_links_are_relative(html)


def test_model_page_shows_identifiers_citation_files_provenance_evaluations_and_incoming_links(
        registry: Registry) -> None:
    response = registry.page(registry.model.iri)
    assert response.status_code == 200
    html = response.text
    assert "<h1>Test model</h1>" in html
    assert "10.5072/test.model" in html and 'href="https://doi.org/10.5072/test.model"' in html
    assert "How to cite" in html and "Carberry, J. (2026). Test model" in html
    graph = registry.store.get_graph(registry.model.iri)
    for dist in graph.objects(URIRef(registry.model.iri), DCAT.distribution):
        name = str(graph.value(dist, URIRef("http://schema.org/name")))
        sha = hashlib.sha256(f"content of {name} in 10.5072/test.model".encode()).hexdigest()
        assert sha in html
        assert f'href="/artifacts/{_key(str(dist))}/{name}"' in html
    for name, value in (("optimizer", "SGD"), ("lr", "0.1"), ("batch_size", "16"), ("nesterov", "false")):
        assert re.search(rf"<code>{name}</code></td><td>{re.escape(value)}</td>", html), name
    assert f'href="/id/{registry.dataset.key}"' in html  # the training data
    assert "Evaluations" in html and "accuracy" in html and "0.9" in html
    assert "Incoming links" in html and f'href="/id/{_key(registry.run_iri())}"' in html
    assert "/v2/models/" + registry.model.key + "/infer" in html and "tritonclient.http" in html
    assert registry.url.removeprefix("http://") in html  # the run examples name the server that answered
    _internal_links_are_relative(html)


def test_model_page_embeds_schema_org_json_ld(registry: Registry) -> None:
    if importlib.util.find_spec("fairkg.kg.exports") is None or \
            importlib.util.find_spec("fairkg.kg.exports.schemaorg") is None:
        pytest.skip("fairkg.kg.exports.schemaorg (the schema.org exporter) is not written yet")
    html = registry.page(registry.model.iri).text
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert match, "landing pages embed schema.org JSON-LD"
    data = json.loads(match.group(1))
    assert "@context" in data


def test_dataset_and_run_pages_render_and_link_back_to_the_model(registry: Registry) -> None:
    dataset = registry.page(registry.dataset.iri)
    assert dataset.status_code == 200
    assert "<h1>Test data</h1>" in dataset.text
    assert f'href="/id/{registry.model.key}"' in dataset.text  # trained on it
    assert "train" in dataset.text and "CC-BY-4.0" in dataset.text
    sha = hashlib.sha256(b"content of data.h5 in 10.5072/test.data").hexdigest()
    assert sha in dataset.text
    _internal_links_are_relative(dataset.text)

    run = registry.page(registry.run_iri())
    assert run.status_code == 200
    assert "Training run of Test model" in run.text
    assert f'href="/id/{registry.model.key}"' in run.text  # mls:hasOutput
    assert 'href="#hp-lr"' in run.text and 'id="hp-lr"' in run.text  # its parts, shown on the page
    assert "2026-11-01 10:00:00 UTC" in run.text  # dates readable
    _internal_links_are_relative(run.text)


def test_withdrawn_model_page_shows_the_banner_and_no_download_links(registry: Registry) -> None:
    withdraw(registry.store, registry.model.doi, home=registry.settings.home, base_iri=BASE,
             reason="superseded by a better model")
    html = registry.page(registry.model.iri).text
    assert "Withdrawn" in html and "superseded by a better model" in html
    assert "/artifacts/" not in html.split('id="properties"')[0]


def test_unknown_resource_is_a_404_page(registry: Registry) -> None:
    response = httpx.get(f"{registry.url}/_test/page/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404 and "Not found" in response.text


def test_catalog_lists_every_record_in_html_and_rdf(registry: Registry) -> None:
    html = httpx.get(registry.url + "/catalog").text
    assert f'href="/id/{registry.model.key}"' in html and f'href="/id/{registry.dataset.key}"' in html
    turtle = httpx.get(registry.url + "/catalog", headers={"Accept": "text/turtle"})
    assert turtle.headers["content-type"].startswith("text/turtle")
    graph = Graph().parse(data=turtle.text, format="turtle")
    catalog = catalog_iri(BASE)
    assert (catalog, RDF.type, DCAT.Catalog) in graph
    assert {URIRef(registry.model.iri), URIRef(registry.dataset.iri)} <= set(graph.objects(catalog, DCAT.resource))


def test_query_page_shows_a_form_and_renders_a_select_as_a_table(registry: Registry) -> None:
    form = httpx.get(registry.url + "/query")
    assert form.status_code == 200 and "<textarea" in form.text and "SELECT" in form.text
    query = f"{DCTERMS}SELECT ?r ?title WHERE {{ ?r dcterms:title ?title }} ORDER BY ?title"
    page = httpx.get(registry.url + "/query?" + urlencode({"query": query}))
    assert page.status_code == 200
    assert "<th>r</th>" in page.text and "<th>title</th>" in page.text
    assert f'href="/id/{registry.model.key}"' in page.text and "Test model" in page.text
    _internal_links_are_relative(page.text)


def test_query_page_answers_a_syntax_error_with_a_400_page(registry: Registry) -> None:
    page = httpx.get(registry.url + "/query?" + urlencode({"query": "SELECT ?x WHERE { ?x"}))
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert "does not parse" in page.text and "Traceback" not in page.text
    assert "<textarea" in page.text  # the form stays, with the query to fix


def test_query_page_download_links_give_csv_and_json(registry: Registry) -> None:
    query = f"{DCTERMS}SELECT ?title WHERE {{ ?r dcterms:title ?title }} ORDER BY ?title"
    page = httpx.get(registry.url + "/query?" + urlencode({"query": query})).text
    links = {h.split("?", 1)[0]: h.replace("&amp;", "&") for h in HREF.findall(page) if h.startswith("/query.")}
    assert {"/query.csv", "/query.json"} <= set(links)
    csv = httpx.get(registry.url + links["/query.csv"])
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "title" and "Test model" in csv.text
    results = httpx.get(registry.url + links["/query.json"]).json()
    assert results["head"]["vars"] == ["title"]
    assert {"type": "literal", "value": "Test data"} in [b["title"] for b in results["results"]["bindings"]]


def test_query_page_answers_ask_and_offers_rdf_downloads_for_construct(registry: Registry) -> None:
    ask = httpx.get(registry.url + "/query?" + urlencode({"query": "ASK { ?s ?p ?o }"}))
    assert ask.status_code == 200 and "<strong>yes</strong>" in ask.text
    construct = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 3"
    page = httpx.get(registry.url + "/query?" + urlencode({"query": construct})).text
    assert "/query.ttl?" in page and "/query.csv?" not in page
    turtle = httpx.get(registry.url + "/query.ttl?" + urlencode({"query": construct}))
    assert turtle.status_code == 200 and len(Graph().parse(data=turtle.text, format="turtle")) == 3

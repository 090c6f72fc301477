"""Search (FAIR F4): words over titles, keywords, creators and descriptions, ranked, with facets, as JSON and HTML;
and the registry described as a ``dcat:Catalog`` that keeps listing withdrawn records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from _cards import dataset_card, model_card, write_card
from rdflib import Literal, URIRef
from rdflib.namespace import FOAF

from fairkg.api.app import create_app
from fairkg.kg.catalog import catalog_entries, catalog_graph, catalog_iri, registry_summary
from fairkg.kg.namespaces import DCAT, FKG, RDF
from fairkg.kg.register import Registration, register, withdraw
from fairkg.kg.search import search
from fairkg.kg.settings import Settings
from fairkg.kg.store import Store, open_store

BASE = "http://localhost:8000"
OTHER = {"doi": "10.5072/test.bragg", "title": "Bragg peak CNN", "description": "Locates the centre of a peak.",
         "keywords": ["hedm", "x-ray"], "license": "Apache-2.0", "task": "regression", "framework": "ONNX Runtime",
         "creators": [{"name": "Ada Lovelace"}]}


@dataclass
class Registry:
    store: Store
    home: Path
    dataset: Registration
    model: Registration
    other: Registration


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    store = open_store("oxigraph:")
    home = tmp_path / "home"
    data = register(store, write_card(tmp_path / "data", dataset_card()), home=home, base_iri=BASE)
    model = register(store, write_card(tmp_path / "model", model_card()), home=home, base_iri=BASE)
    other = register(store, write_card(tmp_path / "other", model_card(**OTHER)), home=home, base_iri=BASE)
    yield Registry(store, home, data, model, other)
    store.close()


@pytest.fixture
def served(registry: Registry, tmp_path: Path, serve_app: Callable[..., str]) -> str:
    settings = Settings(home=registry.home, base_iri=BASE, query_timeout=5)
    return serve_app(create_app(settings, store=registry.store))


def _iris(text: str, registry: Registry, **kwargs: object) -> list[str]:
    return [hit.iri for hit in search(registry.store, text, **kwargs).hits]  # type: ignore[arg-type]


def test_search_finds_a_title_word_a_keyword_and_a_creator_case_insensitively(registry: Registry) -> None:
    assert _iris("BRAGG", registry) == [registry.other.iri]
    assert _iris("hedm", registry) == [registry.other.iri]
    assert _iris("lovelace", registry) == [registry.other.iri]
    assert set(_iris("Carberry", registry)) == {registry.model.iri, registry.dataset.iri}
    assert _iris("numbers", registry) == [registry.dataset.iri]  # the dataset's description
    assert _iris("test model", registry) == [registry.model.iri]  # every word must match


def test_title_matches_rank_before_keyword_matches(registry: Registry) -> None:
    results = search(registry.store, "cnn")  # the other model's title, the test model's keyword
    assert [h.iri for h in results.hits] == [registry.other.iri, registry.model.iri]
    assert results.hits[0].score > results.hits[1].score


def test_facets_count_licences_tasks_frameworks_datasets_and_kinds(registry: Registry) -> None:
    facets = search(registry.store, "").facets
    counts = {name: {v.value: v.count for v in values} for name, values in facets.items()}
    assert counts["kind"] == {"model": 2, "dataset": 1}
    assert counts["licence"] == {"http://spdx.org/licenses/MIT": 1, "http://spdx.org/licenses/Apache-2.0": 1,
                                 "http://spdx.org/licenses/CC-BY-4.0": 1}
    assert counts["task"] == {"classification": 1, "regression": 1}
    assert counts["framework"] == {"PyTorch 2.13": 1, "ONNX Runtime": 1}
    assert counts["dataset"] == {registry.dataset.iri: 2}
    assert {v.label for v in facets["dataset"]} == {"Test data"}
    assert {v.label for v in facets["licence"]} == {"MIT", "Apache-2.0", "CC-BY-4.0"}


def test_filters_narrow_results_and_facets(registry: Registry) -> None:
    results = search(registry.store, "", filters={"licence": ["http://spdx.org/licenses/MIT"]})
    assert [h.iri for h in results.hits] == [registry.model.iri] and results.total == 1
    assert {v.value for v in results.facets["task"]} == {"classification"}
    both = search(registry.store, "", filters={"dataset": [registry.dataset.iri], "kind": ["model"]})
    assert {h.iri for h in both.hits} == {registry.model.iri, registry.other.iri}
    with pytest.raises(ValueError, match="unknown facet"):
        search(registry.store, "", filters={"colour": ["red"]})


def test_results_are_paged(registry: Registry) -> None:
    first = search(registry.store, "", limit=2, offset=0)
    second = search(registry.store, "", limit=2, offset=2)
    assert first.total == second.total == 3
    assert len(first.hits) == 2 and len(second.hits) == 1
    assert {h.iri for h in first.hits + second.hits} == {registry.model.iri, registry.dataset.iri, registry.other.iri}


def test_search_over_http_answers_json(registry: Registry, served: str) -> None:
    response = httpx.get(served + "/search", params={"q": "hedm"}, headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["total"] == 1 and [r["iri"] for r in body["results"]] == [registry.other.iri]
    assert body["results"][0]["page"] == f"/id/{registry.other.key}"
    assert body["results"][0]["title"] == "Bragg peak CNN" and "hedm" in body["results"][0]["keywords"]
    assert {"kind", "licence", "task", "framework", "dataset"} <= set(body["facets"])
    filtered = httpx.get(served + "/search", params={"licence": "http://spdx.org/licenses/MIT", "format": "json"})
    assert [r["iri"] for r in filtered.json()["results"]] == [registry.model.iri]


def test_search_over_http_answers_html_with_links_and_facets(registry: Registry, served: str) -> None:
    response = httpx.get(served + "/search", params={"q": "Bragg"}, headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert f'href="/id/{registry.other.key}"' in html and "Bragg peak CNN" in html
    assert "Apache-2.0" in html and "regression" in html  # facets
    assert 'href="/search?q=Bragg&amp;licence=' in html  # a facet value is a link that filters
    assert "http://localhost:8000/id/" not in html.split("<main>")[1].split("href=")[0]


def test_no_match_is_an_empty_list_not_an_error(served: str) -> None:
    response = httpx.get(served + "/search", params={"q": "zzzz-nothing", "format": "json"})
    assert response.status_code == 200
    assert response.json()["results"] == [] and response.json()["total"] == 0
    html = httpx.get(served + "/search", params={"q": "zzzz-nothing"}, headers={"Accept": "text/html"})
    assert html.status_code == 200 and "Nothing matches" in html.text


@pytest.mark.parametrize("attempt", [
    '"} } UNION { ?r ?p ?o } #',
    "') || true || ('",
    '\\" ; DROP ALL ; #',
    "{ } } }",
])
def test_quotes_and_braces_cannot_inject_sparql(served: str, attempt: str) -> None:
    for params in ({"q": attempt}, {"licence": attempt}, {"q": "test", "dataset": attempt}):
        response = httpx.get(served + "/search", params={**params, "format": "json"})
        assert response.status_code == 200, response.text
        assert response.json()["results"] == []


def test_catalog_lists_every_registered_model_and_dataset(registry: Registry) -> None:
    catalog = catalog_iri(BASE)
    graph = catalog_graph(registry.store, BASE)  # the description plus every record's listing
    assert (catalog, RDF.type, DCAT.Catalog) in graph
    resources = set(graph.objects(catalog, DCAT.resource))
    assert {URIRef(r.iri) for r in (registry.model, registry.other, registry.dataset)} == resources
    assert set(graph.objects(catalog, DCAT.dataset)) == {URIRef(registry.dataset.iri)}
    topics = {graph.value(record, FOAF.primaryTopic) for record in graph.objects(catalog, DCAT.record)}
    assert topics == resources
    assert {e.kind for e in catalog_entries(registry.store)} == {"model", "dataset"}
    assert registry.store.query(f"ASK {{ ?c a <{DCAT.Catalog}> ; <{DCAT.resource}> <{registry.model.iri}> }}").boolean


def test_withdrawn_model_stays_in_the_catalog_marked_withdrawn(registry: Registry) -> None:
    withdraw(registry.store, registry.model.doi, home=registry.home, base_iri=BASE, reason="broken weights")
    catalog = catalog_iri(BASE)
    graph = catalog_graph(registry.store, BASE)  # the description plus every record's listing
    assert URIRef(registry.model.iri) in set(graph.objects(catalog, DCAT.resource))
    record = next(r for r in graph.objects(catalog, DCAT.record)
                  if graph.value(r, FOAF.primaryTopic) == URIRef(registry.model.iri))
    assert graph.value(record, FKG.withdrawn) == Literal(True)
    entry = next(e for e in catalog_entries(registry.store) if e.iri == registry.model.iri)
    assert entry.withdrawn
    hit = next(h for h in search(registry.store, "test model").hits if h.iri == registry.model.iri)
    assert hit.withdrawn  # metadata stays findable, marked


def test_registry_summary_counts_models_datasets_and_runs(registry: Registry) -> None:
    summary = registry_summary(registry.store)
    assert summary.counts["models"] == 2 and summary.counts["datasets"] == 1 and summary.counts["training runs"] == 2
    assert {e.iri for e in summary.latest_models} == {registry.model.iri, registry.other.iri}
    assert [e.iri for e in summary.latest_datasets] == [registry.dataset.iri]

"""FAIR reports over real HTTP (api/fair_routes.py): ``/models/{key}/fair`` by negotiation (JSON as ``fairkg assess
--format json``, HTML with a badge per principle, the stored SHACL/DQV verdict as Turtle), re-assessment with a
token, badges on the model page, and the ``/fair`` overview of every model x principle."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from _cards import dataset_card, model_card, write_card
from rdflib import Graph
from typer.testing import CliRunner

from fairkg.api.app import create_app
from fairkg.api.cli import app as cli
from fairkg.api.cli_fair import assess_model
from fairkg.kg.catalog import refresh_catalog
from fairkg.kg.fair import PRINCIPLES, assessment_from_graph
from fairkg.kg.identifiers import key_of
from fairkg.kg.namespaces import DQV, RDF, SH
from fairkg.kg.register import register
from fairkg.kg.settings import Settings
from fairkg.kg.store import Store, open_store
from fairkg.kg.tokens import create_token

BASE = "http://localhost:8000"
ADMIN = "fair-routes-admin"
COMPLETE = {"usage": "Feed x, float32 [batch, 4]; argmax of logits is the class.", "intended_use": "Testing fairkg.",
            "limitations": "Knows nothing; four features only."}


@dataclass
class Served:
    url: str
    store: Store
    settings: Settings
    assessed: str  # a model with a stored verdict (its reference example is junk: R1 fails)
    fresh: str  # a model never assessed

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(self.url + path, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    tmp = tmp_path_factory.mktemp("fair-routes")
    store = open_store("oxigraph:")
    home = tmp / "home"
    settings = Settings(home=home, base_iri=BASE)
    register(store, write_card(tmp / "data", dataset_card()), home=home, base_iri=BASE)
    assessed = register(store, write_card(tmp / "a", model_card(**COMPLETE)), home=home, base_iri=BASE).iri
    fresh = register(store, write_card(tmp / "b", model_card(doi="10.5072/test.other", title="Other model")),
                     home=home, base_iri=BASE).iri
    refresh_catalog(store, BASE)
    assess_model(store, settings, assessed)
    return Served("", store, settings, assessed, fresh)


@pytest.fixture
def service(served: Served, serve_app: Callable[..., str]) -> Served:
    served.url = serve_app(create_app(served.settings, store=served.store, admin_tokens=[ADMIN]))
    return served


def test_the_report_as_json_is_the_stored_verdict(service: Served) -> None:
    key = key_of(service.assessed)
    answer = service.get(f"/models/{key}/fair", Accept="application/json")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    data = answer.json()
    stored = assessment_from_graph(service.store, service.assessed)
    assert stored is not None and data == stored.to_json()
    assert set(data["principles"]) == set(PRINCIPLES) and data["total"] == 15
    assert data["principles"]["R1"]["status"] == "fail"
    assert any("R1.reference-reproduces" in v["message"] for v in data["principles"]["R1"]["violations"])
    assert answer.headers["fair-assessed-at"] == stored.assessed_at.isoformat()
    assert set(data) == {"model", "identifier", "principles", "passed", "total"}
    assert set(data["principles"]["F1"]) == {"pass", "status", "violations", "warnings"}


def test_the_report_as_html_has_a_badge_per_principle_with_reasons(service: Served) -> None:
    key = key_of(service.assessed)
    answer = service.get(f"/models/{key}/fair", Accept="text/html")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    html = answer.text
    for principle in PRINCIPLES:
        assert f'id="{principle}"' in html
    badges = re.findall(r'class="fair-badge (fair-[a-z-]+)"[^>]*title="([^"]*)"', html)
    assert len(badges) == 15
    assert any(css == "fair-fail" and "R1" in title for css, title in badges)
    assert ">Fail<" in html and ">Pass<" in html  # text, not colour alone
    assert "R1.reference-reproduces" in html  # the reason and the evidence behind it
    assert "GET http://localhost:8000/doi/10.5072/test.model" in html  # the observation's request


def test_the_report_as_turtle_is_the_stored_shacl_report(service: Served) -> None:
    answer = service.get(f"/models/{key_of(service.assessed)}/fair?format=turtle")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/turtle")
    assert "sh:ValidationReport" in answer.headers["fair-report"]
    graph = Graph().parse(data=answer.text, format="turtle")
    assert (None, RDF.type, SH.ValidationReport) in graph
    assert len(set(graph.subjects(RDF.type, DQV.QualityMeasurement))) == 15
    assert any(graph.subjects(SH.resultSeverity, SH.Violation))


def test_unknown_models_and_unassessed_ones_are_404(service: Served) -> None:
    unknown = service.get("/models/00000000-0000-0000-0000-000000000000/fair", Accept="application/json")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert "not a registered model" in unknown.json()["detail"]
    assert service.get("/models/not-a-key/fair").status_code == 404
    fresh = service.get(f"/models/{key_of(service.fresh)}/fair", Accept="application/json")
    assert fresh.status_code == 404 and "fairkg assess" in fresh.json()["detail"]
    page = service.get(f"/models/{key_of(service.fresh)}/fair", Accept="text/html")
    assert page.status_code == 404 and "Not assessed" in page.text
    assert service.get(f"/models/{key_of(service.assessed)}/fair", Accept="image/png").status_code == 406


def test_the_model_page_shows_the_badges_and_what_fails(service: Served) -> None:
    page = service.get(f"/models/{key_of(service.assessed)}", Accept="text/html").text
    section = page[page.index('<section id="fair">'):page.index('<section id="distributions">')]
    badges = re.findall(r'<a class="fair-badge (fair-[a-z-]+)" href="([^"]+)" title="([^"]+)"', section)
    assert [href.rsplit("#", 1)[1] for _, href, _ in badges] == list(PRINCIPLES)
    failing = {href.rsplit("#", 1)[1]: title for css, href, title in badges if css == "fair-fail"}
    assert "R1" in failing and "R1.reference-reproduces" in failing["R1"]  # the reason in the title
    assert "Failing principles: what to add" in section  # and visible, not only in a tooltip
    assert "<strong>R1</strong>" in section
    other = service.get(f"/models/{key_of(service.fresh)}", Accept="text/html").text
    assert "Not assessed yet" in other


def test_the_overview_lists_every_model_and_principle(service: Served) -> None:
    html = service.get("/fair", Accept="text/html").text
    for principle in PRINCIPLES:
        assert f">{principle}</th>" in html
    cells = re.findall(r'<a class="fair-cell (fair-[a-z-]+)" href="/models/([0-9a-f-]+)/fair#([A-Z0-9.]+)"', html)
    assert len(cells) == 2 * 15
    assert {(key, p) for _, key, p in cells} == {(key_of(m), p) for m in (service.assessed, service.fresh)
                                                 for p in PRINCIPLES}
    assert {css for css, key, _ in cells if key == key_of(service.fresh)} == {"fair-none"}
    data = service.get("/fair", Accept="application/json").json()
    rows = {row["model"]: row for row in data["models"]}
    assert rows[service.assessed]["assessed"] and rows[service.assessed]["principles"]["R1"] == "fail"
    assert not rows[service.fresh]["assessed"] and set(rows[service.fresh]["principles"].values()) == {"not-assessed"}
    assert '<a href="/fair">FAIR</a>' in service.get("/").text


def test_reassessing_needs_a_publisher_token(service: Served) -> None:
    path = f"{service.url}/models/{key_of(service.fresh)}/fair"
    anonymous = httpx.post(path, timeout=60)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    reader = create_token(service.settings.home, name="reader", role="reader").token
    assert httpx.post(path, headers={"Authorization": f"Bearer {reader}"}, timeout=60).status_code == 403
    done = httpx.post(path, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=300)
    assert done.status_code == 200, done.text
    assert done.json()["principles"]["A1"]["status"] == "pass"  # probed through the service in-process
    assert service.get(f"/models/{key_of(service.fresh)}/fair", Accept="application/json").status_code == 200


def test_fairkg_assess_json_matches_the_route(tmp_path: Path, serve_app: Callable[..., str]) -> None:
    """On an embedded store: ``fairkg assess ID --format json`` and then GET /models/{key}/fair give the same JSON."""
    home = tmp_path / "home"
    settings = Settings(home=home, base_iri=BASE)
    store = open_store(settings.store_url)
    try:
        register(store, write_card(tmp_path / "data", dataset_card()), home=home, base_iri=BASE)
        model = register(store, write_card(tmp_path / "m", model_card(**COMPLETE)), home=home, base_iri=BASE).iri
        refresh_catalog(store, BASE)
    finally:
        store.close()
    printed = CliRunner().invoke(cli, ["--home", str(home), "assess", "10.5072/test.model", "--format", "json"])
    assert printed.exit_code == 0, printed.output
    url = serve_app(create_app(settings))
    answer = httpx.get(f"{url}/models/{key_of(model)}/fair", headers={"Accept": "application/json"}, timeout=60)
    assert answer.json() == json.loads(printed.stdout)

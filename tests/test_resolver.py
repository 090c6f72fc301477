"""The resolver over real HTTP: every identifier form answers 303 to the page, the page answers every
representation by content negotiation with FAIR Signposting links, errors are problem documents, and a withdrawn
model still resolves. The service's base IRI (localhost:8000) differs from where it runs (127.0.0.1:random), as
it does in production behind a proxy."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
import yaml
from _cards import dataset_card, model_card, write_card
from datacite import schema45
from lxml import etree
from rdflib import Graph, Literal, URIRef

from fairkg.kg.exports import datacite_errors, read_record
from fairkg.kg.namespaces import FKG, LITERAL
from fairkg.kg.register import Registration, register, withdraw
from fairkg.kg.settings import Settings
from fairkg.kg.store import Store, open_store

BASE_IRI = "http://localhost:8000"
DOI = "10.5072/test.model"
ARK = "ark:/99999/fk4resolver"
MINID = "minid:test-model"
PROBLEM = "application/problem+json"
DATACITE_JSON = "application/vnd.datacite.datacite+json"
DATACITE_XML = "application/vnd.datacite.datacite+xml"
SCHEMA_ORG = "application/vnd.schemaorg.ld+json"


@dataclass
class Service:
    url: str
    settings: Settings
    store: Store
    model: Registration
    dataset: Registration

    @property
    def page(self) -> str:
        return f"/id/{self.model.key}"

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def service(tmp_path: Path, serve_app: Callable[..., str]) -> Iterator[Service]:
    from fairkg.api.app import create_app

    settings = Settings(home=tmp_path / "home", base_iri=BASE_IRI, query_timeout=10)
    store = open_store(settings.store_url, timeout=settings.query_timeout)
    dataset = register(store, write_card(tmp_path / "data", dataset_card()), home=settings.home,
                       base_iri=settings.base_iri)
    model = register(store, write_card(tmp_path / "model", model_card(alternate_identifiers=[ARK, MINID])),
                     home=settings.home, base_iri=settings.base_iri)
    url = serve_app(create_app(settings, store=store))
    yield Service(url, settings, store, model, dataset)
    store.close()


def _parse_links(response: httpx.Response) -> list[dict[str, str]]:
    """The link-values of the response's Link headers (RFC 8288 §3) as dicts with ``url`` and the parameters."""
    links = []
    for value in response.headers.get_list("link"):
        for part in _split_link_values(value):
            target, *params = part.split(";")
            link = {"url": target.strip().strip("<>")}
            for param in params:
                name, _, val = param.strip().partition("=")
                link[name.strip()] = val.strip().strip('"')
            links.append(link)
    return links


def _split_link_values(value: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in value:
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += char
    return [p for p in [*parts, current.strip()] if p]


def _assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    doc = response.json()
    assert doc["status"] == status and doc["detail"]
    return doc


# -- identifiers to the page ---------------------------------------------------------------------------------------
def test_every_identifier_form_answers_303_to_the_page(service: Service) -> None:
    forms = [
        f"/doi/{DOI}", "/doi/10.5072/TEST.MODEL", f"/{ARK}", "/ark:99999/fk4resolver", f"/{MINID}",
        f"/resolve?id={DOI}", f"/resolve?id=doi:{DOI}", f"/resolve?id=https://doi.org/{DOI}", f"/resolve?id={ARK}",
        f"/resolve?id={MINID}", f"/resolve?id={service.model.key}", f"/resolve?id={service.model.iri}",
    ]
    with service.client() as client:
        for form in forms:
            response = client.get(form, headers={"Accept": "application/json"})
            assert response.status_code == 303, (form, response.text)
            assert urljoin(service.url + "/", response.headers["location"]) == service.url + service.page, form
            followed = client.get(response.headers["location"], headers={"Accept": "application/json"})
            assert followed.status_code == 200, form
            assert followed.json()["iri"] == service.model.iri
        # The format asked for travels with the redirect.
        response = client.get(f"/doi/{DOI}?format=turtle")
        assert response.headers["location"] == f"{service.page}?format=turtle"
        # Followed end to end, as a browser or crawler would.
        final = client.get(f"/doi/{DOI}", headers={"Accept": "text/turtle"}, follow_redirects=True)
        assert final.status_code == 200 and final.headers["content-type"].startswith("text/turtle")


def test_unknown_and_malformed_identifiers_are_problems(service: Service) -> None:
    with service.client() as client:
        _assert_problem(client.get("/doi/10.5072/no.such.model"), 404)
        _assert_problem(client.get("/resolve", params={"id": "10.5072/nothing"}), 404)
        _assert_problem(client.get("/ark:/99999/unknown"), 404)
        _assert_problem(client.get("/id/00000000-0000-4000-8000-000000000000"), 404)
        _assert_problem(client.get("/doi/abc/def"), 400)
        _assert_problem(client.get("/resolve", params={"id": "not an identifier"}), 400)
        _assert_problem(client.get("/resolve"), 400)
        _assert_problem(client.get("/id/not-a-uuid"), 400)


# -- the page, by content negotiation ------------------------------------------------------------------------------
def _rdf(response: httpx.Response, fmt: str) -> Graph:
    assert response.status_code == 200, response.text
    return Graph().parse(data=response.content, format=fmt, publicID=BASE_IRI)


def _has_doi(graph: Graph) -> bool:
    return (None, LITERAL.hasLiteralValue, Literal(DOI)) in graph


def test_the_page_in_every_representation(service: Service) -> None:
    iri = URIRef(service.model.iri)
    with service.client() as client:
        def get(accept: str) -> httpx.Response:
            response = client.get(service.page, headers={"Accept": accept})
            assert response.status_code == 200, (accept, response.text)
            assert response.headers["vary"] == "Accept"
            return response

        turtle = get("text/turtle")
        assert turtle.headers["content-type"].startswith("text/turtle")
        assert _has_doi(_rdf(turtle, "turtle")) and DOI in turtle.text
        for accept, fmt in (("application/ld+json", "json-ld"), ("application/rdf+xml", "xml"),
                            ("application/n-triples", "nt")):
            response = get(accept)
            assert response.headers["content-type"].startswith(accept)
            graph = _rdf(response, fmt)
            assert _has_doi(graph) and (iri, None, None) in graph, accept
        # The record is served whole: distributions, tensor specs and the training run come with it.
        assert (None, FKG.dtype, Literal("float32")) in _rdf(turtle, "turtle")

        data = get("application/json").json()
        assert data["iri"] == service.model.iri and data["key"] == service.model.key
        assert {"scheme": "doi", "value": DOI} in data["identifiers"] and data["withdrawn"] is False

        datacite = get(DATACITE_JSON)
        assert datacite.headers["content-type"].startswith(DATACITE_JSON)
        assert datacite_errors(datacite.json()) == [] and schema45.validate(datacite.json())

        xml = get(DATACITE_XML)
        assert xml.headers["content-type"].startswith(DATACITE_XML)
        root = etree.fromstring(xml.content)
        assert root.tag == "{http://datacite.org/schema/kernel-4}resource"
        assert root.findtext("{http://datacite.org/schema/kernel-4}identifier") == DOI

        schema = get(SCHEMA_ORG).json()
        assert schema["@context"]["@vocab"] == "http://schema.org/" and schema["identifier"]

        # q-values decide; ?format= overrides Accept.
        assert get("text/turtle;q=0.5, application/n-triples").headers["content-type"].startswith(
            "application/n-triples")
        response = client.get(service.page, params={"format": "datacite-xml"}, headers={"Accept": "text/html"})
        assert response.headers["content-type"].startswith(DATACITE_XML)


def test_html_page(service: Service) -> None:
    with service.client() as client:
        response = client.get(service.page, headers={"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "Test model" in response.text
    assert any(link["rel"] == "cite-as" for link in _parse_links(response))


def test_models_key_is_the_model_page(service: Service) -> None:
    with service.client() as client:
        response = client.get(f"/models/{service.model.key}", headers={"Accept": "application/json"})
        assert response.status_code == 200 and response.json()["iri"] == service.model.iri
        assert any(link["rel"] == "cite-as" for link in _parse_links(response))
        _assert_problem(client.get(f"/models/{service.dataset.key}"), 404)


def test_nothing_acceptable_is_406(service: Service) -> None:
    with service.client() as client:
        doc = _assert_problem(client.get(service.page, headers={"Accept": "image/png"}), 406)
        assert "text/turtle" in doc["available"]
        _assert_problem(client.get(service.page, params={"format": "pdf"}), 400)


def test_signposting_links(service: Service) -> None:
    record = read_record(service.store, service.model.iri)
    with service.client() as client:
        response = client.get(service.page, headers={"Accept": "text/turtle"})
        links = _parse_links(response)
        by_rel: dict[str, list[dict[str, str]]] = {}
        for link in links:
            by_rel.setdefault(link["rel"], []).append(link)
        assert by_rel["cite-as"] == [{"url": f"https://doi.org/{DOI}", "rel": "cite-as"}]
        described = {link["type"]: link["url"] for link in by_rel["describedby"] if "profile" not in link}
        assert set(described) >= {DATACITE_XML, DATACITE_JSON, "text/turtle", "application/ld+json"}
        for media_type, url in described.items():  # every metadata record is there, in its type, linking back
            target = client.get(url)
            assert target.status_code == 200 and target.headers["content-type"].startswith(media_type), url
            assert {"url": service.page, "rel": "describes"} in _parse_links(target)
        items = {link["url"]: link["type"] for link in by_rel["item"]}
        for artifact in record.artifacts:
            path = artifact.download_url[len(BASE_IRI):]  # relative: works on any host and port
            assert items[path] == artifact.media_type
        assert {link["url"] for link in by_rel["license"]} == {"http://spdx.org/licenses/MIT"}
        assert "https://schema.org/SoftwareApplication" in {link["url"] for link in by_rel["type"]}
        assert "https://schema.org/AboutPage" in {link["url"] for link in by_rel["type"]}
        assert by_rel["author"] == [{"url": "https://orcid.org/0000-0002-1825-0097", "rel": "author"}]
        # The item links are served (by the artifacts route) and hash to the graph's checksum.
        onnx = next(a for a in record.artifacts if a.name == "model.onnx")
        download = client.get(onnx.download_url[len(BASE_IRI):])
        if download.status_code != 404:  # the artifacts route belongs to another module
            assert hashlib.sha256(download.content).hexdigest() == onnx.sha256


def test_a_part_of_a_record_resolves_without_record_formats(service: Service) -> None:
    part = read_record(service.store, service.model.iri).artifacts[0]
    page = f"/id/{part.iri.rsplit('/', 1)[-1]}"
    with service.client() as client:
        graph = _rdf(client.get(page, headers={"Accept": "text/turtle"}), "turtle")
        assert (URIRef(part.iri), None, None) in graph
        assert client.get(page, headers={"Accept": "application/json"}).json()["iri"] == part.iri
        _assert_problem(client.get(page, headers={"Accept": DATACITE_JSON}), 406)
        _assert_problem(client.get(f"{page}/datacite.xml"), 406)
        _assert_problem(client.get(f"{service.page}/nothing.txt"), 404)


# -- exports -------------------------------------------------------------------------------------------------------
def test_ro_crate_download(service: Service) -> None:
    record = read_record(service.store, service.model.iri)
    with service.client() as client:
        response = client.get(f"{service.page}/ro-crate.zip")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/zip")
        assert "attachment" in response.headers["content-disposition"]
        assert client.get(service.page, params={"format": "ro-crate"}).content[:2] == b"PK"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    entities = {e["@id"]: e for e in json.loads(archive.read("ro-crate-metadata.json"))["@graph"]}
    for artifact in record.artifacts:
        assert entities[artifact.name]["sha256"] == artifact.sha256
        assert hashlib.sha256(archive.read(artifact.name)).hexdigest() == artifact.sha256


def test_citation_cff(service: Service) -> None:
    with service.client() as client:
        response = client.get(f"{service.page}/CITATION.cff")
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/yaml")
        doc = yaml.safe_load(response.text)
        assert doc["doi"] == DOI and doc["authors"][0]["orcid"] == "https://orcid.org/0000-0002-1825-0097"
        assert client.get(service.page, params={"format": "cff"}).text == response.text


# -- withdrawal ----------------------------------------------------------------------------------------------------
def test_a_withdrawn_model_still_resolves_in_every_format(service: Service) -> None:
    withdraw(service.store, DOI, home=service.settings.home, base_iri=BASE_IRI, reason="trained on the wrong split")
    with service.client() as client:
        assert client.get(f"/doi/{DOI}").status_code == 303

        def get(accept: str) -> httpx.Response:
            response = client.get(service.page, headers={"Accept": accept})
            assert response.status_code == 200, (accept, response.text)
            return response

        data = get("application/json").json()
        assert data["withdrawn"] is True and data["withdrawalReason"] == "trained on the wrong split"
        graph = _rdf(get("text/turtle"), "turtle")
        assert (URIRef(service.model.iri), FKG.withdrawn, Literal(True)) in graph
        for accept, fmt in (("application/ld+json", "json-ld"), ("application/rdf+xml", "xml"),
                            ("application/n-triples", "nt")):
            assert (URIRef(service.model.iri), FKG.withdrawn, Literal(True)) in _rdf(get(accept), fmt)
        datacite = get(DATACITE_JSON).json()
        assert datacite_errors(datacite) == []
        assert any(d["dateType"] == "Withdrawn" for d in datacite["dates"])
        root = etree.fromstring(get(DATACITE_XML).content)
        assert root.find("{http://datacite.org/schema/kernel-4}dates/"
                         "{http://datacite.org/schema/kernel-4}date[@dateType='Withdrawn']") is not None
        assert get(SCHEMA_ORG).json()["creativeWorkStatus"] == "Withdrawn"
        html = get("text/html")
        assert "Test model" in html.text
        # Its files are gone: no item links, and its crate carries the metadata only.
        links = _parse_links(html)
        assert not [link for link in links if link["rel"] == "item"]
        assert any(link["rel"] == "cite-as" for link in links)
        crate = client.get(f"{service.page}/ro-crate.zip")
        assert crate.status_code == 200
        names = zipfile.ZipFile(io.BytesIO(crate.content)).namelist()
        assert "ro-crate-metadata.json" in names and "model.onnx" not in names
        assert "withdrawn" in yaml.safe_load(client.get(f"{service.page}/CITATION.cff").text)["message"]


def test_a_restricted_models_crate_needs_a_token(tmp_path: Path, serve_app: Callable[..., str]) -> None:
    pytest.importorskip("fairkg.api.auth", reason="the auth module decides who may have restricted artifacts")
    from fairkg.api.app import create_app

    settings = Settings(home=tmp_path / "home", base_iri=BASE_IRI, query_timeout=10)
    store = open_store(settings.store_url, timeout=settings.query_timeout)
    try:
        register(store, write_card(tmp_path / "data", dataset_card()), home=settings.home, base_iri=BASE_IRI)
        model = register(store, write_card(tmp_path / "model", model_card(access="restricted")), home=settings.home,
                         base_iri=BASE_IRI)
        url = serve_app(create_app(settings, store=store))
        with httpx.Client(base_url=url, timeout=30) as client:
            _assert_problem(client.get(f"/id/{model.key}/ro-crate.zip"), 401)
            # Metadata stays public.
            assert client.get(f"/id/{model.key}/datacite.json").status_code == 200
            assert client.get(f"/id/{model.key}", headers={"Accept": "text/turtle"}).status_code == 200
    finally:
        store.close()

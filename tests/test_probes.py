"""FAIR probes (api/probes.py): each probe observes the service through the real HTTP stack and records what it saw;
breaking the observed behaviour on purpose fails the matching principle, and a probe that cannot run is reported
as "not checked", never as a pass or a failure."""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from _cards import dataset_card, model_card, write_card
from starlette.responses import JSONResponse

from fairkg.api.app import create_app
from fairkg.api.auth import Access
from fairkg.api.probes import in_process_client, model_facts, parse_links, run_probes
from fairkg.kg.catalog import refresh_catalog
from fairkg.kg.evidence import PROBES, Observation, observations
from fairkg.kg.fair import Assessment, assess, store_verdict
from fairkg.kg.register import register, withdraw
from fairkg.kg.search import SearchResults
from fairkg.kg.settings import Settings
from fairkg.kg.store import Store, open_store

BASE = "http://localhost:8000"
#: what the test card lacks for a complete model (tests/_cards.py has no usage text)
COMPLETE = {"usage": "Feed x, float32 [batch, 4]; argmax of logits is the class.", "intended_use": "Testing fairkg.",
            "limitations": "Knows nothing; four features only."}
HTTP_PROBES = [p for p in PROBES if not p.startswith(("R1.", "F1.", "F4.catalogued"))]


@dataclass
class Registry:
    store: Store
    settings: Settings
    model: str

    @property
    def home(self) -> Path:
        return self.settings.home

    def probe(self, app: object | None = None, *, token: str | None = None) -> dict[str, Observation]:
        """Run the probes (through ``app`` in-process when given, else the default) and return them by name."""
        if app is None:
            found = run_probes(self.store, self.settings, self.model)
        else:
            with in_process_client(app, BASE) as client:
                found = run_probes(self.store, self.settings, self.model, client=client, token=token)
        return {o.probe: o for o in found}

    def assess(self) -> Assessment:
        return assess(self.store, self.model, base_iri=BASE)

    def app(self, *, without: Callable[[str], bool] = lambda path: False) -> object:
        """The service on this registry, answering 404 to every request whose path ``without`` selects (as if
        those routes were gone)."""
        app = create_app(self.settings, store=self.store, admin_tokens=["probe-test-token"])

        async def broken(scope: dict, receive: Callable, send: Callable) -> None:
            if scope["type"] == "http" and without(scope["path"]):
                await JSONResponse({"title": "Not Found", "status": 404}, status_code=404)(scope, receive, send)
                return
            await app(scope, receive, send)

        return broken


def build(tmp_path: Path, **overrides: object) -> Registry:
    store = open_store("oxigraph:")
    home = tmp_path / "home"
    register(store, write_card(tmp_path / "data", dataset_card()), home=home, base_iri=BASE)
    done = register(store, write_card(tmp_path / "model", model_card(**{**COMPLETE, **overrides})), home=home,
                    base_iri=BASE)
    refresh_catalog(store, BASE)
    return Registry(store, Settings(home=home, base_iri=BASE), done.iri)


@pytest.fixture
def public(tmp_path: Path) -> Registry:
    return build(tmp_path)


@pytest.fixture
def restricted(tmp_path: Path) -> Registry:
    return build(tmp_path, access="restricted")


def _message(result: Assessment, principle: str) -> str:
    return " ".join(f.message for f in result.principles[principle].violations)


# -- the healthy service ----------------------------------------------------------------------------------------


def test_every_probe_a_shape_needs_is_recorded_with_request_status_and_time(public: Registry) -> None:
    seen = public.probe()
    assert set(seen) == set(PROBES)
    for name in HTTP_PROBES:
        assert seen[name].outcome == "passed", (name, seen[name].detail)
        assert seen[name].request and seen[name].request.split()[0] in ("GET", "HEAD"), name
        assert seen[name].status is not None and "in-process" in seen[name].detail
    assert seen["A1.resolves"].request == f"GET {BASE}/doi/10.5072/test.model"
    assert seen["A1.resolves"].status == 303
    # the test card's reference example is arbitrary bytes: R1 says so (a failure, with what to fix)
    assert seen["R1.reference-reproduces"].outcome == "failed"
    assert "safetensors" in seen["R1.reference-reproduces"].detail
    assert seen["R1.consistent-across-runtimes"].outcome == "not-checked"
    stored = {o.probe: o for o in observations(public.store, public.model)}
    assert set(stored) == set(PROBES)
    assert stored["A1.resolves"].status == 303 and stored["A1.resolves"].observed_at.year >= 2024
    result = public.assess()
    assert {p: result.status(p) for p in ("F1", "F3", "F4", "A1", "A1.1", "A1.2", "A2")} == dict.fromkeys(
        ("F1", "F3", "F4", "A1", "A1.1", "A1.2", "A2"), "pass")
    assert result.status("R1") == "fail"
    assert "R1.reference-reproduces failed" in _message(result, "R1")


def test_probing_touches_nothing_but_the_evidence(public: Registry) -> None:
    before = public.store.get_graph(public.model)
    public.probe()
    assert len(public.store.get_graph(public.model) ^ before) == 0  # the A2 withdrawal happened on a copy
    assert not model_facts(public.store, public.model).withdrawn
    assert all((public.home / loc).is_file() for loc in _locations(public))


def _locations(reg: Registry) -> list[str]:
    rows = reg.store.query("SELECT ?l WHERE { ?d <https://w3id.org/fairkg/ontology#location> ?l }").bindings()
    return [str(r["l"]) for r in rows]


def test_a_restricted_model_refuses_its_files_without_a_token_and_serves_them_with_one(restricted: Registry) -> None:
    seen = restricted.probe()
    access = seen["A1.2.restricted-refused"]
    assert access.outcome == "passed", access.detail
    assert access.status == 401 and "(no token)" in (access.request or "")
    assert "with a token: 200" in access.detail and "Bearer" in access.detail
    assert seen["A1.1.open-protocol"].outcome == "passed"  # a Bearer challenge is an open, standard protocol
    assert restricted.assess().status("A1.2") == "pass"


def test_a_probe_through_a_live_server_names_it(public: Registry, serve_app: Callable[..., str]) -> None:
    """When server.json announces a live server for the home, the probes go there over real HTTP."""
    url = serve_app(create_app(public.settings, store=public.store, admin_tokens=["live-token"]))
    public.home.mkdir(parents=True, exist_ok=True)
    (public.home / "server.json").write_text(json.dumps({"url": url, "pid": os.getpid(), "token": "live-token"}))
    seen = public.probe()
    assert seen["A1.resolves"].outcome == "passed"
    assert seen["A1.resolves"].request == f"GET {url}/doi/10.5072/test.model"
    assert f"live server at {url}" in seen["A1.resolves"].detail
    assert "in-process ASGI app on the copy" in seen["A2.tombstone-resolves"].detail


# -- broken on purpose: each fails its principle -----------------------------------------------------------------


def test_an_identifier_that_does_not_resolve_fails_A1(public: Registry) -> None:
    seen = public.probe(public.app(without=lambda path: path.startswith("/doi/")))
    assert seen["A1.resolves"].outcome == "failed"
    assert seen["A1.resolves"].status == 404
    assert "expected a 3xx redirect" in seen["A1.resolves"].detail
    # what depends on the identifier resolving could not be checked: not a pass, not a failure
    assert seen["F3.metadata-has-identifier"].outcome == "not-checked"
    result = public.assess()
    assert result.status("A1") == "fail"
    assert "probe A1.resolves failed" in _message(result, "A1")
    assert result.status("F3") == "not-checked"
    assert "could not be checked" in _message(result, "F3")


def test_a_landing_page_without_signposting_fails_A1(public: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fairkg.api.resolver.record_links", lambda *args, **kwargs: [])
    seen = public.probe(public.app())
    assert seen["A1.signposting"].outcome == "failed"
    assert "cite-as" in seen["A1.signposting"].detail
    result = public.assess()
    assert result.status("A1") == "fail" and "probe A1.signposting failed" in _message(result, "A1")


def test_no_openapi_description_fails_A1_1(public: Registry) -> None:
    seen = public.probe(public.app(without=lambda path: path.startswith("/openapi")))
    assert seen["A1.1.openapi"].outcome == "failed" and seen["A1.1.openapi"].status == 404
    result = public.assess()
    assert result.status("A1.1") == "fail" and "probe A1.1.openapi failed" in _message(result, "A1.1")


def test_a_restricted_model_served_without_auth_fails_A1_2(restricted: Registry,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fairkg.api.artifacts.ensure_artifact_access",
                        lambda request, iri: Access(iri, restricted=False, withdrawn=False))
    seen = restricted.probe(restricted.app(), token="probe-test-token")
    assert seen["A1.2.restricted-refused"].outcome == "failed"
    assert seen["A1.2.restricted-refused"].status == 200
    assert "answered 200 without a token" in seen["A1.2.restricted-refused"].detail
    result = restricted.assess()
    assert result.status("A1.2") == "fail"
    assert "probe A1.2.restricted-refused failed" in _message(result, "A1.2")


def test_withdrawal_that_loses_the_metadata_fails_A2(public: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """The throw-away copy's withdrawal is made to delete the record and its files: nothing resolves any more."""

    def destroy(store: Store, identifier: str, *, home: Path, base_iri: str, reason: str) -> None:
        store.drop_graph(identifier)
        shutil.rmtree(home / "artifacts", ignore_errors=True)

    monkeypatch.setattr("fairkg.kg.register.withdraw", destroy)
    seen = public.probe()
    tombstone = seen["A2.tombstone-resolves"]
    assert tombstone.outcome == "failed"
    assert "does not resolve" in tombstone.detail and "not 410" in tombstone.detail
    result = public.assess()
    assert result.status("A2") == "fail" and "probe A2.tombstone-resolves failed" in _message(result, "A2")
    assert all((public.home / loc).is_file() for loc in _locations(public))  # only the copy was touched


def test_a_withdrawn_model_is_checked_in_place(public: Registry) -> None:
    withdraw(public.store, public.model, home=public.home, base_iri=BASE, reason="superseded")
    seen = public.probe()
    assert seen["A2.tombstone-resolves"].outcome == "passed"
    assert "on the withdrawn model" in seen["A2.tombstone-resolves"].detail
    assert "410" in seen["A2.tombstone-resolves"].detail
    assert seen["A1.resolves"].outcome == "passed"  # the tombstone still resolves
    assert seen["A1.2.restricted-refused"].outcome == "not-checked"  # no files left to guard
    assert seen["R1.reference-reproduces"].outcome == "not-checked"


def test_a_search_that_finds_nothing_fails_F4(public: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fairkg.api.pages.search", lambda store, text, **kwargs: SearchResults(
        text=text, total=0, limit=20, offset=0, hits=[], facets={}))
    seen = public.probe(public.app())
    assert seen["F4.search-title"].outcome == "failed" and seen["F4.search-keyword"].outcome == "failed"
    assert "does not find the model" in seen["F4.search-title"].detail
    result = public.assess()
    assert result.status("F4") == "fail" and "probe F4.search-title failed" in _message(result, "F4")


def test_a_model_without_keywords_cannot_be_found_by_keyword(tmp_path: Path) -> None:
    reg = build(tmp_path, keywords=[])
    seen = reg.probe()
    assert seen["F4.search-keyword"].outcome == "failed"
    assert "add `keywords:`" in seen["F4.search-keyword"].detail
    assert seen["F4.search-title"].outcome == "passed"


def test_a_landing_page_without_json_ld_fails_F4(public: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fairkg.api.pages._schema_org", lambda store, iri: None)
    seen = public.probe(public.app())
    assert seen["F4.jsonld-landing"].outcome == "failed"
    assert public.assess().status("F4") == "fail"


# -- could not be checked ------------------------------------------------------------------------------------------


def test_a_service_that_does_not_answer_is_not_checked(public: Registry) -> None:
    """No answer is not an observation of failure: every HTTP probe says it could not run, and so does the report."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connections are refused
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
        seen = {o.probe: o for o in run_probes(public.store, public.settings, public.model, client=client)}
    for name in HTTP_PROBES:
        if name == "A2.tombstone-resolves":  # checked on a throw-away copy served in-process, not on that service
            assert seen[name].outcome == "passed" and "on the copy" in seen[name].detail
            continue
        assert seen[name].outcome == "not-checked", name
        assert "could not run" in seen[name].detail and "ConnectError" in seen[name].detail
    result = public.assess()
    for principle in ("F3", "A1", "A1.1", "A1.2"):
        assert result.status(principle) == "not-checked", principle
        assert "could not be checked" in _message(result, principle)
    assert result.to_json()["principles"]["A1"]["status"] == "not-checked"  # type: ignore[index]
    assert result.status("F4") == "not-checked"  # catalogued, but search could not be tried
    store_verdict(public.store, result)
    with in_process_client(public.app(), BASE) as client:
        page = client.get(f"/models/{public.model.rsplit('/', 1)[1]}/fair", headers={"Accept": "text/html"}).text
    row = page[page.index('<tr id="A1">'):page.index('<tr id="A1.1">')]
    assert "Not checked" in row and "could not be checked" in row and ">Pass<" not in row and ">Fail<" not in row


def test_link_headers_parse() -> None:
    headers = httpx.Headers([("link", '<https://doi.org/10.5072/x>; rel="cite-as", </id/a/record.ttl>; '
                                      'rel="describedby"; type="text/turtle"'), ("link", '</f>; rel=item')])
    assert [(t, r) for t, r, _ in parse_links(headers)] == [
        ("https://doi.org/10.5072/x", "cite-as"), ("/id/a/record.ttl", "describedby"), ("/f", "item")]


# -- R1: a real model ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_trained_example_passes_all_fifteen_and_a_tampered_reference_fails_R1(tmp_path: Path) -> None:
    import numpy as np
    from _demo import BASE_IRI, copy_card, demo_registry
    from safetensors.numpy import load_file, save_file

    demo = demo_registry(tmp_path / "home", only=("digits-data", "digits-cnn"))
    settings = Settings(home=demo.home, base_iri=BASE_IRI)
    digits = demo.model("digits-cnn")
    seen = {o.probe: o for o in run_probes(demo.store, settings, digits)}
    assert {name: o.outcome for name, o in seen.items() if o.outcome != "passed"} == {}
    assert "onnxruntime/onnx/cpu" in seen["R1.reference-reproduces"].detail
    result = assess(demo.store, digits, base_iri=BASE_IRI)
    assert (result.passed, result.with_status("fail"), result.with_status("not-checked")) == (15, [], [])

    folder = copy_card("digits-cnn", tmp_path / "tampered")
    card = yaml.safe_load((folder / "card.yaml").read_text(encoding="utf-8"))
    card["doi"], card["title"] = "10.5072/fairkg.digits-cnn-tampered", "Digits CNN with a wrong reference output"
    reference = folder / card["reference"]["path"]
    tensors = load_file(reference)
    save_file({k: (v + np.float32(1.0) if k.startswith("output.") else v) for k, v in tensors.items()}, reference)
    (folder / "card.yaml").write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    tampered = register(demo.store, folder, home=demo.home, base_iri=BASE_IRI).iri
    seen = {o.probe: o for o in run_probes(demo.store, settings, tampered)}
    assert seen["R1.reference-reproduces"].outcome == "failed"
    assert "beyond the tolerance" in seen["R1.reference-reproduces"].detail
    assert seen["R1.consistent-across-runtimes"].outcome == "failed"
    result = assess(demo.store, tampered, base_iri=BASE_IRI)
    assert result.with_status("fail") == ["R1"]
    assert "probe R1.reference-reproduces failed" in _message(result, "R1")


@pytest.mark.slow
def test_a_model_no_runtime_here_can_run_is_not_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from _demo import BASE_IRI, demo_registry

    demo = demo_registry(tmp_path / "home", only=("digits-data", "digits-cnn"))
    monkeypatch.setattr("fairkg.runners.consistency.options",
                        lambda record, **kwargs: ([], {"torch": "not installed", "onnxruntime": "not installed"}))
    seen = {o.probe: o for o in run_probes(demo.store, Settings(home=demo.home, base_iri=BASE_IRI),
                                           demo.model("digits-cnn"))}
    assert seen["R1.reference-reproduces"].outcome == "not-checked"
    assert "no runtime here could run the model" in seen["R1.reference-reproduces"].detail
    result = assess(demo.store, demo.model("digits-cnn"), base_iri=BASE_IRI)
    assert result.status("R1") == "not-checked" and "could not be checked" in _message(result, "R1")

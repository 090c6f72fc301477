"""Registration over HTTP (``POST /models``, ``POST /datasets``): a publisher token, a multipart card with its files,
and nothing written when the request is refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from _cards import dataset_card, model_card, write_card

from fairkg.kg.identifiers import lookup
from fairkg.kg.register import register
from fairkg.kg.settings import Settings
from fairkg.kg.store import Store, open_store
from fairkg.kg.tokens import create_token

BASE = "http://localhost:8000"
PROBLEM = "application/problem+json"


@dataclass
class Service:
    url: str
    home: Path
    store: Store
    app: Any
    publisher: str
    reader: str

    def snapshot(self) -> tuple[bytes, list[str]]:
        """The graph and the artifact files: equal snapshots mean nothing was written."""
        files = sorted(str(p.relative_to(self.home)) for p in (self.home / "artifacts").rglob("*") if p.is_file())
        return self.store.dump(), files


@pytest.fixture
def service(tmp_path: Path, serve_app: Callable[..., str]) -> Iterator[Service]:
    from fairkg.api.app import create_app

    home = tmp_path / "home"
    store = open_store("oxigraph:")
    register(store, write_card(tmp_path / "data", dataset_card()), home=home, base_iri=BASE)
    app = create_app(Settings(home=home, base_iri=BASE, query_timeout=5), store=store)
    publisher = create_token(home, name="publisher", role="publisher").token
    reader = create_token(home, name="reader", role="reader").token
    yield Service(serve_app(app), home, store, app, publisher, reader)
    store.close()


def _parts(folder: Path, *, skip: tuple[str, ...] = (), card: bytes | None = None) -> list[tuple[str, Any]]:
    """The multipart parts for the card folder: ``card`` and one ``files`` part per file, named by its path."""
    parts: list[tuple[str, Any]] = [("card", ("card.yaml", card or (folder / "card.yaml").read_bytes(),
                                              "application/yaml"))]
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_file() and rel != "card.yaml" and rel not in skip:
            parts.append(("files", (rel, path.read_bytes(), "application/octet-stream")))
    return parts


def _post(service: Service, folder: Path, *, token: str | None = "publisher", route: str = "/models",
          params: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {service.publisher if token == 'publisher' else token}"
    return httpx.post(service.url + route, files=_parts(folder, **kwargs), headers=headers, params=params,
                      timeout=30)


def test_a_publisher_registers_a_model_over_http(service: Service, tmp_path: Path) -> None:
    answer = _post(service, write_card(tmp_path / "model", model_card()))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "created" and body["doi"] == "10.5072/test.model" and body["kind"] == "model"
    assert answer.headers["location"] == f"/id/{body['key']}"
    assert str(lookup(service.store, "doi:10.5072/test.model", base_iri=BASE)) == body["iri"]


def test_a_dataset_goes_to_its_own_route(service: Service, tmp_path: Path) -> None:
    folder = write_card(tmp_path / "more", dataset_card(doi="10.5072/test.more", title="More data"))
    wrong = _post(service, folder, route="/models")
    assert wrong.status_code == 422 and wrong.json()["field"] == "kind"
    assert _post(service, folder, route="/datasets").status_code == 201


def test_registration_needs_the_publisher_role(service: Service, tmp_path: Path) -> None:
    folder = write_card(tmp_path / "model", model_card())
    before = service.snapshot()
    bare = _post(service, folder, token=None)
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == 'Bearer realm="fairkg"'
    assert bare.headers["content-type"] == PROBLEM
    reader = _post(service, folder, token=service.reader)
    assert reader.status_code == 403 and reader.headers["content-type"] == PROBLEM
    assert _post(service, folder, token="made-up").status_code == 401
    assert service.snapshot() == before


def test_a_bad_card_names_the_field_and_writes_nothing(service: Service, tmp_path: Path) -> None:
    card = model_card()
    card["inputs"][0]["dtype"] = "float33"
    folder = write_card(tmp_path / "model", card)
    before = service.snapshot()
    answer = _post(service, folder)
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["field"] == "inputs.0.dtype" and "inputs.0.dtype" in problem["detail"]
    assert service.snapshot() == before
    not_yaml = _post(service, folder, card=b"kind: model\n  bad: [indent")
    assert not_yaml.status_code == 400 and service.snapshot() == before


def test_missing_or_unexpected_files_write_nothing(service: Service, tmp_path: Path) -> None:
    folder = write_card(tmp_path / "model", model_card())
    before = service.snapshot()
    missing = _post(service, folder, skip=("model.pt2",))
    assert missing.status_code == 422 and missing.json()["missing"] == ["model.pt2"]
    (folder / "extra.bin").write_bytes(b"extra")
    extra = _post(service, folder)
    assert extra.status_code == 422 and extra.json()["unexpected"] == ["extra.bin"]
    assert service.snapshot() == before


def test_unsafe_file_names_are_refused(service: Service, tmp_path: Path) -> None:
    folder = write_card(tmp_path / "model", model_card())
    before = service.snapshot()
    for name in ("../model.onnx", "/etc/model.onnx", "a/../../model.onnx", "..\\model.onnx"):
        parts = _parts(folder) + [("files", (name, b"x", "application/octet-stream"))]
        answer = httpx.post(service.url + "/models", files=parts,
                            headers={"Authorization": f"Bearer {service.publisher}"})
        assert answer.status_code == 400, name
    assert service.snapshot() == before
    assert not (tmp_path / "etc").exists()


def test_versions_over_http(service: Service, tmp_path: Path) -> None:
    folder = write_card(tmp_path / "model", model_card())
    assert _post(service, folder).status_code == 201
    same = _post(service, folder)
    assert same.status_code == 200 and same.json()["status"] == "unchanged"
    (folder / "model.onnx").write_bytes(b"retrained weights")
    before = service.snapshot()
    changed = _post(service, folder)
    assert changed.status_code == 409 and changed.json()["type"].endswith("/registration-refused")
    assert "new-version" in changed.json()["detail"]
    assert service.snapshot() == before
    new = _post(service, folder, params={"new_version": "true"})
    assert new.status_code == 201
    body = new.json()
    assert body["status"] == "new-version" and body["doi"] == "10.5072/test.model.v2"
    assert body["previous_version"] == str(lookup(service.store, "10.5072/test.model", base_iri=BASE))


def test_uploads_are_bounded(service: Service, tmp_path: Path) -> None:
    folder = write_card(tmp_path / "model", model_card())
    service.app.state.max_upload_bytes = 1000
    before = service.snapshot()
    answer = _post(service, folder)
    assert answer.status_code == 413 and answer.json()["limit"] == 1000
    assert service.snapshot() == before


def test_only_multipart_is_accepted(service: Service, tmp_path: Path) -> None:
    card = yaml.safe_dump(model_card()).encode()
    answer = httpx.post(service.url + "/models", content=card, headers={
        "Authorization": f"Bearer {service.publisher}", "Content-Type": "application/yaml"})
    assert answer.status_code == 415 and answer.headers["content-type"] == PROBLEM
    no_card = httpx.post(service.url + "/models", files=[("files", ("model.onnx", b"x"))],
                         headers={"Authorization": f"Bearer {service.publisher}"})
    assert no_card.status_code == 400 and "card" in no_card.json()["detail"]


def test_an_upload_without_a_length_is_refused(service: Service) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"--x\r\n"

    answer = httpx.post(service.url + "/models", content=chunks(), headers={
        "Authorization": f"Bearer {service.publisher}", "Content-Type": "multipart/form-data; boundary=x"})
    assert answer.status_code == 411 and answer.headers["content-type"] == PROBLEM

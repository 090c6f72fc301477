"""``/artifacts/{dist_key}/{filename}`` over real HTTP: checksum verified before a byte is sent, restricted records
need a reader token, withdrawn ones are 410, and no URL reaches a file outside the home."""

from __future__ import annotations

import base64
import hashlib
import http.client
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from _cards import dataset_card, model_card, write_card

from fairkg.kg.namespaces import SPARQL_PREFIXES
from fairkg.kg.register import register
from fairkg.kg.settings import Settings
from fairkg.kg.store import open_store
from fairkg.kg.tokens import create_token, revoke_token

BASE = "http://localhost:8000"
ADMIN = "test-admin"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Artifact:
    path: str  # the URL path, /artifacts/{key}/{filename}
    location: str
    sha256: str
    media_type: str


@dataclass(frozen=True)
class Registry:
    url: str
    home: Path
    public: dict[str, Artifact]  # by filename
    restricted: dict[str, Artifact]
    public_key: str
    restricted_iri: str
    reader: str  # a reader token


_FILES = SPARQL_PREFIXES + """
SELECT ?url ?location ?sha ?format WHERE {
  ?model dcat:distribution|fkg:referenceExample ?node .
  ?node dcat:downloadURL ?url ; fkg:location ?location ; spdx:checksum/spdx:checksumValue ?sha ;
        schema:encodingFormat ?format .
}"""


@pytest.fixture
def registry(tmp_path: Path, serve_app: Callable[..., str]) -> Registry:
    from fairkg.api.app import create_app

    home = tmp_path / "home"
    settings = Settings(home=home, base_iri=BASE, admin_token=ADMIN, query_timeout=5)
    store = open_store(settings.store_url)
    try:
        register(store, write_card(tmp_path / "data", dataset_card()), home=home, base_iri=BASE)
        public = register(store, write_card(tmp_path / "public", model_card()), home=home, base_iri=BASE)
        restricted = register(store, write_card(tmp_path / "restricted", model_card(
            doi="10.5072/test.restricted", title="Restricted model", access="restricted")), home=home, base_iri=BASE)

        def files(iri: str) -> dict[str, Artifact]:
            rows = store.query(_FILES.replace("?model", f"<{iri}>")).bindings()
            return {str(r["url"]).rsplit("/", 1)[-1]: Artifact(str(r["url"]).removeprefix(BASE), str(r["location"]),
                                                               str(r["sha"]), str(r["format"])) for r in rows}

        public_files, restricted_files = files(public.iri), files(restricted.iri)
    finally:
        store.close()  # the app opens the store itself, as in production
    reader = create_token(home, name="a reader", role="reader").token
    url = serve_app(create_app(settings))
    return Registry(url, home, public_files, restricted_files, public.key, restricted.iri, reader)


def _raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (httpx would normalise dot segments away before sending)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def test_a_public_file_is_served_with_its_digest(registry: Registry) -> None:
    artifact = registry.public["model.onnx"]
    answer = httpx.get(registry.url + artifact.path)
    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).hexdigest() == artifact.sha256
    digest = base64.b64encode(bytes.fromhex(artifact.sha256)).decode()
    assert answer.headers["repr-digest"] == f"sha-256=:{digest}:"
    assert answer.headers["etag"] == f'"{artifact.sha256}"'
    assert answer.headers["content-type"] == artifact.media_type == "application/onnx"
    assert int(answer.headers["content-length"]) == len(answer.content)
    assert answer.headers["content-disposition"] == 'attachment; filename="model.onnx"'


def test_head_and_conditional_get(registry: Registry) -> None:
    artifact = registry.public["reference.safetensors"]
    head = httpx.head(registry.url + artifact.path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["repr-digest"].startswith("sha-256=:")
    size = (registry.home / artifact.location).stat().st_size
    assert int(head.headers["content-length"]) == size
    again = httpx.get(registry.url + artifact.path, headers={"If-None-Match": head.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_a_tampered_file_is_never_served(registry: Registry) -> None:
    artifact = registry.public["model.pt2"]
    stored = registry.home / artifact.location
    data = bytearray(stored.read_bytes())
    data[0] ^= 0x01
    stored.chmod(0o644)
    stored.write_bytes(bytes(data))
    for method in ("GET", "HEAD"):
        answer = httpx.request(method, registry.url + artifact.path)
        assert answer.status_code == 500
        assert answer.headers["content-type"] == PROBLEM
    answer = httpx.get(registry.url + artifact.path)
    problem = answer.json()
    assert problem["type"].endswith("/artifact-integrity") and problem["sha256"] == artifact.sha256
    assert "does not match the SHA-256" in problem["detail"] and bytes(data) not in answer.content
    assert "repr-digest" not in answer.headers


def test_a_missing_file_is_a_clear_server_error(registry: Registry) -> None:
    artifact = registry.public["model.pt2"]
    (registry.home / artifact.location).unlink()
    answer = httpx.get(registry.url + artifact.path)
    assert answer.status_code == 500 and answer.json()["type"].endswith("/artifact-integrity")


def test_a_restricted_file_needs_a_reader_token(registry: Registry) -> None:
    artifact = registry.restricted["model.onnx"]
    bare = httpx.get(registry.url + artifact.path)
    assert bare.status_code == 401 and bare.headers["content-type"] == PROBLEM
    assert bare.headers["www-authenticate"] == 'Bearer realm="fairkg"'
    ok = httpx.get(registry.url + artifact.path, headers={"Authorization": f"Bearer {registry.reader}"})
    assert ok.status_code == 200 and hashlib.sha256(ok.content).hexdigest() == artifact.sha256
    assert ok.headers["cache-control"] == "private"
    admin = httpx.get(registry.url + artifact.path, headers={"Authorization": f"Bearer {ADMIN}"})
    assert admin.status_code == 200
    wrong = httpx.get(registry.url + artifact.path, headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert wrong.json()["type"].endswith("/invalid-token")


def test_a_revoked_token_is_refused(registry: Registry) -> None:
    issued = create_token(registry.home, name="short-lived", role="reader")
    artifact = registry.restricted["model.pt2"]
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert httpx.get(registry.url + artifact.path, headers=headers).status_code == 200
    revoke_token(registry.home, issued.record.id)
    assert httpx.get(registry.url + artifact.path, headers=headers).status_code == 401


def test_the_metadata_of_a_restricted_model_stays_public(registry: Registry) -> None:
    query = f"SELECT ?title WHERE {{ <{registry.restricted_iri}> <http://purl.org/dc/terms/title> ?title }}"
    answer = httpx.get(registry.url + "/sparql", params={"query": query},
                       headers={"Accept": "application/sparql-results+json"})
    assert answer.status_code == 200
    assert [b["title"]["value"] for b in answer.json()["results"]["bindings"]] == ["Restricted model"]


def test_a_withdrawn_model_answers_410_and_its_metadata_resolves(registry: Registry) -> None:
    artifact = registry.public["model.onnx"]
    done = httpx.post(f"{registry.url}/models/{registry.public_key}/withdraw", json={"reason": "superseded"},
                      headers={"Authorization": f"Bearer {ADMIN}"})
    assert done.status_code == 200 and done.json()["status"] == "withdrawn"
    gone = httpx.get(registry.url + artifact.path)
    assert gone.status_code == 410 and gone.headers["content-type"] == PROBLEM
    assert "superseded" in gone.json()["detail"]
    ask = (f"ASK {{ <{BASE}/id/{registry.public_key}> <https://w3id.org/fairkg/ontology#withdrawn> true ; "
           "<http://purl.org/dc/terms/title> ?t }")
    assert httpx.get(registry.url + "/sparql", params={"query": ask}).json()["boolean"] is True
    again = httpx.post(f"{registry.url}/models/{registry.public_key}/withdraw", json={"reason": "again"},
                       headers={"Authorization": f"Bearer {ADMIN}"})
    assert again.status_code == 200 and again.json()["status"] == "unchanged"


def test_withdrawal_needs_the_admin_role(registry: Registry) -> None:
    publisher = create_token(registry.home, name="a publisher", role="publisher").token
    url = f"{registry.url}/models/{registry.public_key}/withdraw"
    assert httpx.post(url, json={"reason": "x"}).status_code == 401
    refused = httpx.post(url, json={"reason": "x"}, headers={"Authorization": f"Bearer {publisher}"})
    assert refused.status_code == 403 and 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    empty = httpx.post(url, json={"reason": ""}, headers={"Authorization": f"Bearer {ADMIN}"})
    assert empty.status_code == 422
    assert httpx.get(registry.url + registry.public["model.onnx"].path).status_code == 200


def test_no_url_reaches_anything_but_a_recorded_file(registry: Registry) -> None:
    artifact = registry.public["model.onnx"]
    key = artifact.path.split("/")[2]
    other_key = registry.public["model.pt2"].path.split("/")[2]
    (registry.home / "secret.txt").write_text("not an artifact")
    paths = [
        f"/artifacts/{key}/model.pt2",  # another file's name under this key
        f"/artifacts/{other_key}/model.onnx",
        f"/artifacts/{key}/..%2F..%2Fsecret.txt",
        f"/artifacts/{key}/%2e%2e",
        "/artifacts/%2e%2e/secret.txt",
        "/artifacts/../secret.txt",
        f"/artifacts/{key}/../../secret.txt",
        "/artifacts//etc/passwd",
        "/artifacts/%2Fetc%2Fpasswd/passwd",
        f"/artifacts/{key}/%2Fetc%2Fpasswd",
        f"/artifacts/{registry.public_key}/model.onnx",  # the model's own key: it is no file
        "/artifacts/00000000-0000-0000-0000-000000000000/model.onnx",
        f"/artifacts/{artifact.location}",  # the storage location is not a URL
    ]
    for path in paths:
        status, body = _raw_get(registry.url, path)
        assert status in (400, 404), path
        assert b"not an artifact" not in body and b"root:" not in body, path

"""The CLI beside a running service: with ``server.json`` announcing a live server on the home, ``fairkg query``,
``resolve``, ``register`` and ``withdraw`` go through HTTP while the server holds the store's lock."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _cards import dataset_card, model_card, write_card
from typer.testing import CliRunner

from fairkg.api.cli import app as cli
from fairkg.api.remote import RemoteStore, Server, server_for
from fairkg.api.server import server_file
from fairkg.kg.errors import QuerySyntaxError, StoreError
from fairkg.kg.register import register
from fairkg.kg.settings import Settings
from fairkg.kg.store import open_store

BASE = "http://localhost:8000"
TITLE = "<http://purl.org/dc/terms/title>"
DATASET = "<http://www.w3.org/ns/mls#Dataset>"
runner = CliRunner()


@dataclass(frozen=True)
class Served:
    home: Path
    settings: Settings
    server: Server
    tmp: Path


@pytest.fixture
def served(tmp_path: Path, serve_app: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """A home with a dataset, served as ``fairkg serve`` would: the app opens (and locks) the store itself, and
    ``server.json`` (mode 0600) holds its URL, this process's pid and a fresh local admin token."""
    from fairkg.api.app import create_app

    for name in [n for n in os.environ if n.startswith("FAIRKG_")]:
        monkeypatch.delenv(name)
    home = tmp_path / "home"
    settings = Settings(home=home, base_iri=BASE, query_timeout=5)
    store = open_store(settings.store_url)
    try:
        register(store, write_card(tmp_path / "data", dataset_card()), home=home, base_iri=BASE)
    finally:
        store.close()
    token = secrets.token_urlsafe(32)
    url = serve_app(create_app(settings, admin_tokens=[token]))
    path = server_file(home)
    path.write_text(json.dumps({"url": url, "pid": os.getpid(), "token": token}))
    path.chmod(0o600)
    yield Served(home, settings, Server(url, token), tmp_path)
    path.unlink(missing_ok=True)


def _fairkg(served: Served, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, ["--home", str(served.home), *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_store_is_locked_while_the_server_runs(served: Served) -> None:
    assert server_for(served.settings) == served.server
    with pytest.raises(StoreError, match="lock"):
        open_store(served.settings.store_url)  # the direct path cannot open it


def test_query_goes_through_the_server(served: Served) -> None:
    select = f"SELECT DISTINCT ?title WHERE {{ ?d a {DATASET} ; {TITLE} ?title }}"
    code, out, err = _fairkg(served, "query", select, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["results"]["bindings"]
    assert [r["title"]["value"] for r in rows] == ["Test data"]
    code, out, _ = _fairkg(served, "query", f"ASK {{ ?d {TITLE} \"Test data\" }}", "--format", "json")
    assert code == 0 and json.loads(out)["boolean"] is True
    code, out, _ = _fairkg(served, "query", select)
    assert code == 0 and "Test data" in out
    code, out, _ = _fairkg(served, "query", f"CONSTRUCT {{ ?d {TITLE} ?t }} WHERE {{ ?d {TITLE} ?t }}")
    assert code == 0 and "Test data" in out
    code, _, err = _fairkg(served, "query", "SELECT WHERE {")
    assert code == 1 and "does not parse" in err


def test_register_resolve_and_withdraw_go_through_the_server(served: Served) -> None:
    folder = write_card(served.tmp / "model", model_card())
    code, out, err = _fairkg(served, "register", str(folder), "--format", "json")
    assert code == 0, err
    done = json.loads(out)
    assert done["status"] == "created" and done["doi"] == "10.5072/test.model"
    code, out, _ = _fairkg(served, "register", str(folder), "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "unchanged"
    (folder / "model.onnx").write_bytes(b"changed")
    code, _, err = _fairkg(served, "register", str(folder))
    assert code == 1 and "new-version" in err

    code, out, err = _fairkg(served, "resolve", "doi:10.5072/test.model", "--format", "json")
    assert code == 0, err
    resolved = json.loads(out)
    assert resolved["iri"] == done["iri"] and resolved["key"] == done["key"] and resolved["title"] == "Test model"
    code, out, _ = _fairkg(served, "resolve", "10.5072/test.model", "--format", "turtle")
    assert code == 0 and "Test model" in out

    code, _, err = _fairkg(served, "withdraw", "10.5072/test.model", "--reason", "superseded")
    assert code == 0, err
    code, out, _ = _fairkg(served, "query", f"ASK {{ <{done['iri']}> <https://w3id.org/fairkg/ontology#withdrawn> "
                                            "true }", "--format", "json")
    assert json.loads(out)["boolean"] is True


def test_a_bad_card_fails_as_it_would_without_a_server(served: Served) -> None:
    card = model_card()
    card["inputs"][0]["dtype"] = "float33"
    code, _, err = _fairkg(served, "register", str(write_card(served.tmp / "bad", card)))
    assert code == 1 and "inputs.0.dtype" in err


def test_the_remote_store_speaks_the_store_interface(served: Served) -> None:
    store = RemoteStore(served.server, timeout=5)
    try:
        names = store.graph_names()
        assert len(names) >= 1 and store.count() > 0
        dataset = next(n for n in names if len(store.get_graph(n)) > 0)
        assert len(store.describe(dataset)) > 0
        store.replace_graph("http://example.org/g", store.get_graph(dataset))  # with the local admin token
        assert len(store.get_graph("http://example.org/g")) == len(store.get_graph(dataset))
        store.drop_graph("http://example.org/g")
        assert len(store.get_graph("http://example.org/g")) == 0
        with pytest.raises(QuerySyntaxError):
            store.query("SELECT nonsense")
        with pytest.raises(StoreError):
            store.dump()
    finally:
        store.close()


def test_without_a_live_server_the_cli_opens_the_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server_file(home).parent.mkdir(parents=True)
    server_file(home).write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": 2**22 + 12345, "token": "x"}))
    result = runner.invoke(cli, ["--home", str(home), "query", "ASK { ?s ?p ?o }", "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["boolean"] is False

"""The command line beside a running service: while ``fairkg serve`` holds a home's store (RocksDB lets one process
open it), CLI commands on that home go through the server's HTTP API instead (DESIGN.md, "The store").

* :func:`server_for` finds the live server of a home from its ``server.json`` (URL and local admin token).
* :class:`RemoteStore` is the :class:`~fairkg.kg.store.base.Store` interface over the server's ``/sparql``
  (SPARQL 1.1 Protocol, https://www.w3.org/TR/sparql11-protocol/): queries as SPARQL 1.1 JSON results or
  N-Triples, parsed back into the same :class:`~fairkg.kg.store.base.QueryResult` the embedded store gives, so
  ``fairkg query`` and ``fairkg resolve`` run the same code either way; updates with the admin token.
* :func:`register_remote` and :func:`withdraw_remote` use the registration routes (:mod:`fairkg.api.registration`).

The server's RFC 9457 problem documents come back as the ``fairkg.kg`` errors the direct path raises (a card error
names its field, a refused registration is a RegistrationError ...), so the CLI reports both paths alike.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from rdflib import BNode, Graph, Literal, URIRef

from fairkg.api.server import read_server_info
from fairkg.api.sparql import TRUNCATED_HEADER
from fairkg.kg.cards import load_card
from fairkg.kg.errors import (
    ArtifactError,
    CardError,
    FairkgError,
    NotFoundError,
    QuerySyntaxError,
    QueryTimeoutError,
    RegistrationError,
    StoreError,
)
from fairkg.kg.identifiers import key_of, lookup
from fairkg.kg.namespaces import MLS
from fairkg.kg.register import Registration, card_files
from fairkg.kg.settings import Settings
from fairkg.kg.store.base import QueryResult, SelectResult

#: Seconds a request may take beyond the server's own query deadline (the answer still has to travel).
SLACK = 5.0
#: Uploads and withdrawals may hash and copy large files: no read deadline for them.
WRITE_TIMEOUT = httpx.Timeout(10.0, read=None, write=None)
SELECT_JSON = "application/sparql-results+json"
N_TRIPLES = "application/n-triples"


class Server(NamedTuple):
    """A live fairkg service on a home: its URL and the local admin token from ``server.json``."""

    url: str
    token: str


def server_for(settings: Settings) -> Server | None:
    """The live server of ``settings.home``, or None when none runs (no ``server.json``, or a stale one)."""
    info = read_server_info(settings.home)
    if info is None:
        return None
    return Server(str(info["url"]).rstrip("/"), str(info.get("token") or ""))


def _client(server: Server, *, timeout: float | httpx.Timeout) -> httpx.Client:
    # trust_env=False: a proxy from the environment must not stand between us and a local server.
    return httpx.Client(base_url=server.url, timeout=timeout, trust_env=False)


class RemoteStore:
    """The graph of a running fairkg service, through its SPARQL endpoint.

    ``dump`` and ``restore`` are not offered (the endpoint speaks triples, not quads): stop the server for those.
    """

    def __init__(self, server: Server, *, timeout: float = 10.0) -> None:
        self.server = server
        self.default_timeout = timeout
        self._http = _client(server, timeout=timeout + SLACK)

    def query(self, sparql: str, *, timeout: float | None = None, limit: int | None = None,
              default_graph_uris: list[str] | None = None, named_graph_uris: list[str] | None = None,
              public: bool = False) -> QueryResult:
        """Run a query on the server (its own deadline applies; ``timeout`` only bounds the wait here).

        Raises:
            QuerySyntaxError: the server says the query does not parse.
            QueryTimeoutError: the server's deadline passed.
            StoreError: the server did not answer.
        """
        form: dict[str, Any] = {"query": sparql}
        if default_graph_uris:
            form["default-graph-uri"] = default_graph_uris
        if named_graph_uris:
            form["named-graph-uri"] = named_graph_uris
        wait = (self.default_timeout if timeout is None else timeout) + SLACK
        answer = self._send("POST", "/sparql", data=form, timeout=wait,
                            headers={"Accept": f"{SELECT_JSON}, {N_TRIPLES};q=0.9"})
        media = answer.headers.get("content-type", "").split(";", 1)[0].strip()
        if media == N_TRIPLES:
            return QueryResult("graph", graph=Graph().parse(data=answer.text, format="nt"))
        doc = answer.json()
        if "boolean" in doc:
            return QueryResult("ask", boolean=bool(doc["boolean"]))
        rows = [{var: parse_json_term(term) for var, term in row.items()} for row in doc["results"]["bindings"]]
        truncated = answer.headers.get(TRUNCATED_HEADER, "").lower() == "true"
        if limit is not None and len(rows) > limit:
            rows, truncated = rows[:limit], True
        return QueryResult("select", select=SelectResult(list(doc["head"].get("vars", [])), rows, truncated))

    def update(self, sparql: str) -> None:
        """Run an update on the server with the local admin token."""
        self._send("POST", "/sparql", data={"update": sparql}, timeout=WRITE_TIMEOUT, headers=self._auth())

    def replace_graph(self, name: str, graph: Graph) -> None:
        """Replace a named graph in one update (the server applies it in one transaction)."""
        node, body = URIRef(name).n3(), graph.serialize(format="nt")
        self.update(f"DROP SILENT GRAPH {node} ;\nINSERT DATA {{ GRAPH {node} {{\n{body}\n}} }}")

    def drop_graph(self, name: str) -> None:
        self.update(f"DROP SILENT GRAPH {URIRef(name).n3()}")

    def get_graph(self, name: str) -> Graph:
        """The triples of the named graph ``name``."""
        result = self.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {URIRef(name).n3()} {{ ?s ?p ?o }} }}")
        return result.graph if result.graph is not None else Graph()

    def graph_names(self) -> list[str]:
        rows = self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }").bindings()
        return sorted(str(row["g"]) for row in rows)

    def describe(self, iri: str) -> Graph:
        """Triples with ``iri`` as subject or object, in any named graph (as the embedded store's ``describe``)."""
        node = URIRef(iri).n3()
        result = self.query(f"CONSTRUCT {{ {node} ?p ?o . ?s ?q {node} }} "
                            f"WHERE {{ {{ {node} ?p ?o }} UNION {{ ?s ?q {node} }} }}")
        return result.graph if result.graph is not None else Graph()

    def dump(self) -> bytes:
        raise StoreError(f"a backup needs the store itself: stop the server at {self.server.url} first")

    def restore(self, nquads: bytes) -> None:
        raise StoreError(f"a restore needs the store itself: stop the server at {self.server.url} first")

    def count(self) -> int:
        rows = list(self.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }").bindings())
        return int(str(rows[0]["n"])) if rows else 0

    def close(self) -> None:
        self._http.close()

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.server.token}"}

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return send(self._http, self.server, method, url, **kwargs)


def remote_store(server: Server, settings: Settings) -> RemoteStore:
    """A :class:`RemoteStore` on ``server`` with the query deadline of ``settings``."""
    return RemoteStore(server, timeout=settings.query_timeout)


def register_remote(server: Server, path: Path, *, new_version: bool = False) -> Registration:
    """Register the card at ``path`` (a YAML file or a folder with ``card.yaml``) and its files through the server.

    The card is validated here first, so a bad card fails as it would without a server, before any upload.

    Raises:
        CardError, ArtifactError, RegistrationError: as :func:`fairkg.kg.register.register`.
    """
    card, folder = load_card(path)
    card_path = path / "card.yaml" if path.is_dir() else path
    files = card_files(card)
    missing = [rel for rel in files if not (folder / rel).is_file()]
    if missing:
        raise ArtifactError(f"the card names files that do not exist (relative to {folder}): {', '.join(missing)}")
    with contextlib.ExitStack() as stack, _client(server, timeout=WRITE_TIMEOUT) as http:
        parts: list[tuple[str, tuple[str, Any, str]]] = [
            ("card", ("card.yaml", card_path.read_bytes(), "application/yaml"))]
        for rel in files:
            parts.append(("files", (rel, stack.enter_context((folder / rel).open("rb")), "application/octet-stream")))
        answer = send(http, server, "POST", f"/{card.kind}s", files=parts, headers=_bearer(server),
                      params={"new_version": "true"} if new_version else None)
    doc = answer.json()
    return Registration(doc["iri"], doc["key"], doc["doi"], doc["kind"], doc["status"], doc.get("previous_version"))


def withdraw_remote(server: Server, store: RemoteStore, identifier: str, *, base_iri: str,
                    reason: str) -> Registration:
    """Withdraw the model or dataset ``identifier`` names, through the server (its admin token).

    Raises:
        NotFoundError: no such resource.
        RegistrationError: it is not a model or dataset, or the reason is empty.
    """
    if not reason.strip():
        raise RegistrationError("say why the resource is withdrawn (--reason)")
    iri = lookup(store, identifier, base_iri=base_iri)
    if store.query(f"ASK {{ {iri.n3()} a {MLS.Model.n3()} }}").boolean:
        kind = "model"
    elif store.query(f"ASK {{ {iri.n3()} a {MLS.Dataset.n3()} }}").boolean:
        kind = "dataset"
    else:
        raise RegistrationError(f"{identifier} is not a registered model or dataset")
    with _client(server, timeout=WRITE_TIMEOUT) as http:
        answer = send(http, server, "POST", f"/{kind}s/{key_of(iri)}/withdraw", json={"reason": reason},
                      headers=_bearer(server))
    doc = answer.json()
    return Registration(doc["iri"], doc["key"], doc["doi"], doc["kind"], "replaced")


def send(http: httpx.Client, server: Server, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send a request to the server; a problem answer is raised as the matching ``fairkg.kg`` error.

    Raises:
        FairkgError: the server answered with an error, or did not answer (StoreError).
    """
    try:
        answer = http.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise QueryTimeoutError(f"the fairkg server at {server.url} did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise StoreError(f"the fairkg server at {server.url} (from server.json) did not answer: {exc}; if it was "
                         "stopped, run the command again") from exc
    if answer.is_error:
        raise error_from_problem(answer, server)
    return answer


def error_from_problem(answer: httpx.Response, server: Server) -> FairkgError:
    """The ``fairkg.kg`` error for an RFC 9457 problem answer (or any error answer) of the server."""
    try:
        doc = answer.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    detail = str(doc.get("detail") or answer.text[:500] or answer.reason_phrase)
    kind = str(doc.get("type", "")).rsplit("/", 1)[-1]
    status = answer.status_code
    if kind == "sparql-syntax":
        return QuerySyntaxError(detail)
    if kind == "query-timeout":
        return QueryTimeoutError(detail)
    if kind == "invalid-card":
        return CardError(detail, field=doc.get("field"))
    if kind == "files-mismatch":
        return ArtifactError(detail)
    if status == 404:
        return NotFoundError(detail)
    if status == 409:
        return RegistrationError(detail)
    return StoreError(f"the fairkg server at {server.url} answered {status}: {detail}")


def parse_json_term(term: dict[str, str]) -> URIRef | Literal | BNode:
    """An rdflib term from a SPARQL 1.1 JSON results term (https://www.w3.org/TR/sparql11-results-json/ §3.2.2).

    >>> parse_json_term({"type": "literal", "value": "3", "datatype": "http://www.w3.org/2001/XMLSchema#integer"})
    rdflib.term.Literal('3', datatype=rdflib.term.URIRef('http://www.w3.org/2001/XMLSchema#integer'))
    """
    kind, value = term["type"], term["value"]
    if kind == "uri":
        return URIRef(value)
    if kind == "bnode":
        return BNode(value)
    if kind in ("literal", "typed-literal"):  # typed-literal: SPARQL 1.0's JSON, still sent by some servers
        if "xml:lang" in term:
            return Literal(value, lang=term["xml:lang"])
        datatype = term.get("datatype")
        return Literal(value, datatype=URIRef(datatype) if datatype else None)
    raise StoreError(f"the server sent an RDF term of unknown type {kind!r}")


def _bearer(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


__all__ = [
    "RemoteStore", "Server", "error_from_problem", "parse_json_term", "register_remote", "remote_store", "send",
    "server_for", "withdraw_remote",
]

"""Shared fixtures: a real HTTP server on loopback for any ASGI app (``serve_app``), and the fairkg service on a
small sample graph (``live_server``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS

from fairkg.kg.settings import Settings
from fairkg.kg.store import Store, open_store

BASE_IRI = "http://localhost:8000"
EX = Namespace(f"{BASE_IRI}/id/")
GRAPH_A = f"{BASE_IRI}/graph/a"
GRAPH_B = f"{BASE_IRI}/graph/b"
ADMIN_TOKEN = "test-admin"
# Not rdflib's XSD: pytest looks up attributes on conftest's globals, and XSD warns about unknown names.
XSD_INTEGER = URIRef("http://www.w3.org/2001/XMLSchema#integer")


def sample_graphs() -> dict[str, Graph]:
    """The named graphs ``live_server`` serves: two records, with a language tag, a datatype, a blank node and a
    literal holding a comma, a quote, a tab and a newline (the cases result formats must escape)."""
    a, b = Graph(), Graph()
    a.add((EX.a1, RDF.type, EX.Thing))
    a.add((EX.a1, RDFS.label, Literal("Alpha", lang="en")))
    a.add((EX.a1, EX.size, Literal("3", datatype=XSD_INTEGER)))
    a.add((EX.a1, RDFS.comment, Literal('comma, "quote"\ttab\nnewline')))
    b.add((EX.b1, RDF.type, EX.Thing))
    b.add((EX.b1, RDFS.label, Literal("Beta")))
    b.add((EX.b1, RDFS.seeAlso, BNode("x1")))
    return {GRAPH_A: a, GRAPH_B: b}


def load_sample(store: Store) -> Store:
    """``store`` with :func:`sample_graphs` loaded."""
    for name, graph in sample_graphs().items():
        store.replace_graph(name, graph)
    return store


@pytest.fixture
def serve_app() -> Iterator[Callable[..., str]]:
    """A function that serves an ASGI app with uvicorn in a background thread on a free loopback port and returns
    its base URL; every server it started is stopped at teardown."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: object) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY (see server._bind)
        sock.bind(("127.0.0.1", 0))  # the kernel picks a free port; the socket stays ours, so no race
        sock.listen(128)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_server(tmp_path: Path, serve_app: Callable[..., str]) -> Iterator[tuple[str, Settings]]:
    """The fairkg service on an embedded store under ``tmp_path`` holding :func:`sample_graphs`, served over real
    HTTP; yields (base URL, settings). The admin token is ``test-admin``; queries time out after 2 s."""
    from fairkg.api.app import create_app  # here, so that a broken service cannot stop every test from collecting

    settings = Settings(home=tmp_path, base_iri=BASE_IRI, admin_token=ADMIN_TOKEN, query_timeout=2)
    store = open_store(settings.store_url, timeout=settings.query_timeout)
    try:
        load_sample(store)
    finally:
        store.close()  # the app opens the store itself, as in production
    yield serve_app(create_app(settings)), settings

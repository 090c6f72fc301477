"""``kill -9`` of ``fairkg serve`` in the middle of a bulk registration over HTTP, then a restart on the same home.

Every registration the server acknowledged (201) must survive, whole: it resolves by its DOI, its named graph has its
title, DOI and distributions, and each of its files downloads with the SHA-256 it was sent with. The one registration
in flight when the server died either committed completely or left no record, and registering it again works. The
restart itself must not be blocked by the stale ``server.json`` or by RocksDB's lock.

Reduced: 40 registrations, killed after 20 acknowledgements; ``FAIRKG_FULL_LOAD=1``: 400, killed after 200.

The restart replays RocksDB's write-ahead log, which every registration grows by far more than its own record (the
whole catalogue graph is rewritten each time): measured here, 2.5-6 s after 20 registrations, about 30 s after 200.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _cards import model_card, write_card
from _served import BASE_IRI, FULL, Server, assert_problem, create_token, multipart, write_dataset

from fairkg.api.server import read_server_info, server_file

TOTAL = 400 if FULL else 40
KILL_AFTER = 200 if FULL else 20
#: after the K-th acknowledgement the killer waits this long, so the kill lands inside the next registration
KILL_DELAY = 0.03
PREFIXES = """PREFIX dcat: <http://www.w3.org/ns/dcat#> PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX mls: <http://www.w3.org/ns/mls#> PREFIX spdx: <http://spdx.org/rdf/terms#>
"""
#: every model: its graph, DOI, title and the number of distributions, all read inside the model's own named graph
MODELS = PREFIXES + """SELECT ?m ?doi ?title (COUNT(DISTINCT ?d) AS ?distributions) WHERE {
  GRAPH ?m { ?m a mls:Model . OPTIONAL { ?m dcterms:identifier ?doi } OPTIONAL { ?m dcterms:title ?title }
             OPTIONAL { ?m dcat:distribution ?d } }
} GROUP BY ?m ?doi ?title"""
#: every downloadable file of every record, with the checksum the graph holds for it
FILES = PREFIXES + """SELECT ?g ?name ?url ?sha256 WHERE {
  GRAPH ?g { ?node dcat:downloadURL ?url ; spdx:checksum/spdx:checksumValue ?sha256 .
             OPTIONAL { ?node <http://schema.org/name> ?name } }
}"""


@dataclass
class Sent:
    doi: str
    folder: Path
    sha256: dict[str, str]  # file name -> SHA-256 of what was sent
    key: str = ""


@dataclass
class Run:
    acknowledged: list[Sent] = field(default_factory=list)
    in_flight: Sent | None = None
    refused: list[tuple[str, int, str]] = field(default_factory=list)


def _cards(root: Path) -> list[Sent]:
    cards = []
    for i in range(TOTAL):
        doi = f"10.5072/crash.{i:04d}"
        folder = write_card(root / f"model-{i:04d}", model_card(doi=doi, title=f"Crash test model {i}"))
        sha = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.name != "card.yaml"}
        cards.append(Sent(doi, folder, sha))
    return cards


def _register_until_killed(server: Server, token: str, cards: list[Sent]) -> Run:
    """POST every card in turn while another thread SIGKILLs the server after KILL_AFTER acknowledgements."""
    run = Run()
    reached = threading.Event()
    assert server.process is not None
    pid = server.process.pid

    def killer() -> None:
        if reached.wait(timeout=300):
            time.sleep(KILL_DELAY)
            os.kill(pid, 9)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    with server.client(timeout=30) as http:
        for sent in cards:
            try:
                answer = http.post("/models", files=multipart(sent.folder),
                                   headers={"Authorization": f"Bearer {token}"})
            except httpx.TransportError:
                run.in_flight = sent
                break
            if answer.status_code == 201:
                sent.key = answer.json()["key"]
                run.acknowledged.append(sent)
                if len(run.acknowledged) == KILL_AFTER:
                    reached.set()
            else:
                run.refused.append((sent.doi, answer.status_code, answer.text[:300]))
    reached.set()
    thread.join(timeout=30)
    server.process.wait(timeout=30)
    return run


def test_acknowledged_registrations_survive_kill_9_and_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    token = create_token(home, "publisher")
    cards = _cards(tmp_path / "cards")
    env = {"FAIRKG_BASE_IRI": BASE_IRI, "FAIRKG_QUERY_TIMEOUT": "10"}
    first = Server(home, env=env).start()
    try:
        with first.client() as http:
            answer = http.post("/datasets", files=multipart(write_dataset(tmp_path / "data")),
                               headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 201, answer.text
        t0 = time.monotonic()
        run = _register_until_killed(first, token, cards)
        registering = time.monotonic() - t0
    finally:
        first.kill()
    assert first.process is not None and first.process.returncode == -9, "the server was not killed by SIGKILL"
    assert not run.refused, run.refused
    assert len(run.acknowledged) >= KILL_AFTER, f"only {len(run.acknowledged)} acknowledged before the kill"

    # The killed server's announcement is left behind, stale: readers ignore it and a new server replaces it.
    stale = json.loads(server_file(home).read_text())
    assert stale["pid"] == first.process.pid
    assert read_server_info(home) is None

    second = Server(home, env=env).start(seconds=180 if FULL else 60)  # replaying the WAL: see the module doc
    try:
        with second.client() as http:
            report = _check_recovered(http, run, token)
    finally:
        second.stop()
    print(f"\n[crash] {len(run.acknowledged)} acknowledged of {TOTAL} in {registering:.1f} s, killed after "
          f"{KILL_AFTER} (+{KILL_DELAY * 1000:.0f} ms); in flight: {run.in_flight.doi if run.in_flight else 'none'}; "
          f"restart took {second.started_in:.2f} s; {report}")


def _check_recovered(http: httpx.Client, run: Run, token: str) -> str:
    def select(query: str) -> list[dict[str, str]]:
        answer = http.post("/sparql", data={"query": query}, headers={"Accept": "application/sparql-results+json"})
        assert answer.status_code == 200, answer.text
        return [{k: v["value"] for k, v in row.items()} for row in answer.json()["results"]["bindings"]]

    models = {row["m"]: row for row in select(MODELS)}
    by_doi = {row.get("doi"): row for row in models.values()}
    files = select(FILES)

    # Nothing half-written: every model graph has its DOI, its title and both distributions.
    for iri, row in models.items():
        assert row.get("doi") and row.get("title"), f"{iri} is half-written: {row}"
        assert int(row["distributions"]) == 2, f"{iri} has {row['distributions']} distributions"

    # Every acknowledged registration is there, resolves by its DOI, and its files are intact.
    acknowledged = {s.doi for s in run.acknowledged}
    missing = sorted(acknowledged - set(by_doi))
    assert not missing, f"{len(missing)} acknowledged registrations are lost: {missing[:5]}"
    for sent in run.acknowledged:
        answer = http.get("/resolve", params={"id": sent.doi}, headers={"Accept": "application/json"},
                          follow_redirects=True)
        assert answer.status_code == 200, answer.text
        assert answer.json()["key"] == sent.key
        own = {row["name"]: row for row in files if row["g"] == f"{BASE_IRI}/id/{sent.key}"}
        assert set(own) == set(sent.sha256), (sent.doi, sorted(own))
        for name, row in own.items():
            assert row["sha256"].lower() == sent.sha256[name]
            download = http.get(row["url"].removeprefix(BASE_IRI))
            assert download.status_code == 200, (sent.doi, name, download.status_code)
            assert hashlib.sha256(download.content).hexdigest() == sent.sha256[name], (sent.doi, name)

    # The count: the acknowledged ones, plus the one in flight if it committed before the kill.
    extra = sorted(set(by_doi) - acknowledged - {None})
    committed = run.in_flight is not None and extra == [run.in_flight.doi]
    assert extra == [] or committed, f"models nobody registered: {extra}"
    assert len(models) == len(acknowledged) + (1 if committed else 0)

    # Every file any record names is there and intact (the artifact route checks the SHA-256 before sending).
    for row in files:
        answer = http.head(row["url"].removeprefix(BASE_IRI))
        assert answer.status_code == 200, (row, answer.status_code)

    # The store takes writes again: the in-flight registration can be sent again (201, or 200 when it committed).
    if run.in_flight is not None:
        answer = http.post("/models", files=multipart(run.in_flight.folder),
                           headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == (200 if committed else 201), answer.text
    again = http.post("/models", files=multipart(run.acknowledged[0].folder),
                      headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 200 and again.json()["status"] == "unchanged", again.text
    assert_problem(http.get("/doi/10.5072/crash.never"), 404)
    return (f"recovered {len(models)} models ({'in-flight one committed' if committed else 'in-flight one absent'}), "
            f"{len(files)} files verified")


def test_a_garbled_server_file_does_not_block_serve(tmp_path: Path) -> None:
    """A ``server.json`` that is not JSON (a write cut short) is replaced by the new server's; one naming a dead
    process is the case of the test above."""
    home = tmp_path / "home"
    home.mkdir()
    server_file(home).write_text("{not json")
    server = Server(home, env={"FAIRKG_BASE_IRI": BASE_IRI}).start(seconds=60)
    try:
        with server.client() as http:
            assert http.get("/sparql", params={"query": "ASK {}"}).status_code == 200
        assert read_server_info(home) is not None
    finally:
        server.stop()
    assert not server_file(home).exists(), "a clean stop removes server.json"

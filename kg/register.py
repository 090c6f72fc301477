"""Registering cards into the graph, new versions, and withdrawal.

Everything is checked before anything is written: the card validates, every artifact file exists, every dataset
it names is registered. Identical re-registration is a no-op; changed content under an existing DOI is refused
unless a new version is asked for, which gets its own DOI (``<doi>.v2``, ``.v3``…) linked to the previous one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal as TypingLiteral

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

from fairkg.kg.artifacts import StoredArtifact, remove_artifact, sha256_file, store_artifact
from fairkg.kg.cards import Card, DatasetCard, ModelCard, load_card
from fairkg.kg.catalog import refresh_catalog
from fairkg.kg.errors import ArtifactError, FairkgError, NotFoundError, RegistrationError
from fairkg.kg.identifiers import lookup, mint_doi, resource_iri, uuid_for
from fairkg.kg.namespaces import DCAT, DCT, FKG, MLS, PROV, RDF, SPARQL_PREFIXES, SPDX
from fairkg.kg.records import dataset_graph, hardware_graph, model_graph
from fairkg.kg.store.base import Store

Status = TypingLiteral["created", "unchanged", "new-version", "replaced"]


@dataclass(frozen=True)
class Registration:
    """What a registration did."""

    iri: str
    key: str
    doi: str
    kind: str
    status: Status
    previous_version: str | None = None


def card_files(card: Card) -> list[str]:
    """Relative paths of every file a card refers to."""
    if isinstance(card, DatasetCard):
        return [f.path for f in card.files]
    paths = [d.path for d in card.distributions]
    if card.reference:
        paths.append(card.reference.path)
    return paths


def content_hash(card: Card, file_hashes: dict[str, str]) -> str:
    """SHA-256 over the card's canonical JSON and its files' SHA-256s: equal hashes mean identical content."""
    payload = json.dumps({"card": card.model_dump(mode="json"), "files": sorted(file_hashes.items())},
                         sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def register(store: Store, path: Path, *, home: Path, base_iri: str, new_version: bool = False,
             replace: bool = False) -> Registration:
    """Register the card at ``path`` (a YAML file or a folder with ``card.yaml``) and its files.

    Args:
        new_version: changed content under an existing DOI becomes a new version with its own DOI.
        replace: changed content replaces the record in place (used by the demo's rebuild; a DOI's content
            should otherwise never change).

    Raises:
        CardError: the card does not validate (nothing written).
        ArtifactError: a file it names is missing (nothing written).
        RegistrationError: a named dataset is not registered, the DOI holds other content, or the record was
            withdrawn (nothing written).
    """
    card, folder = load_card(path)
    plan = _plan(store, card, folder, home=home, base_iri=base_iri, new_version=new_version, replace=replace)
    if plan.graphs:
        store.load_graphs(plan.graphs)  # the record and its shared descriptions, together
        refresh_catalog(store, base_iri)
    return plan.registration


def register_many(store: Store, paths: Sequence[Path], *, home: Path, base_iri: str, new_version: bool = False,
                  replace: bool = False, chunk: int = 500,
                  progress: Callable[[Registration], None] | None = None) -> list[Registration]:
    """Register many cards, as :func:`register` would one after the other, faster: dataset cards first, then
    model cards; the graphs of up to ``chunk`` cards written in one request (one transaction on the embedded
    store), the catalogue refreshed once at the end. Stops at the first card that fails, having written every
    chunk before it (what a registration returned is in the store).

    Raises:
        CardError, ArtifactError, RegistrationError: as :func:`register`, naming the card.
    """
    cards = [(*load_card(path), path) for path in paths]
    cards.sort(key=lambda item: not isinstance(item[0], DatasetCard))  # stable: datasets first
    done: list[Registration] = []
    pending: dict[str, Graph] = {}
    planned: list[Registration] = []
    dois: set[str] = set()
    previous_kind = None

    def flush() -> None:
        if pending:
            store.load_graphs(pending)  # one transaction on the embedded store; chunked requests on a remote one
        for registration in planned:
            done.append(registration)
            if progress is not None:
                progress(registration)
        pending.clear()
        planned.clear()
        dois.clear()

    for card, folder, path in cards:
        doi = card.doi or mint_doi(card.title)
        if doi in dois or card.kind != previous_kind or len(planned) >= chunk:
            flush()  # a repeated DOI sees its first registration; models see the datasets before them
        previous_kind = card.kind
        try:
            plan = _plan(store, card, folder, home=home, base_iri=base_iri, new_version=new_version,
                         replace=replace)
        except FairkgError as exc:
            flush()
            raise type(exc)(f"{path}: {exc}") from exc
        pending.update(plan.graphs)
        planned.append(plan.registration)
        dois.add(doi)
    flush()
    if any(r.status != "unchanged" for r in done):
        refresh_catalog(store, base_iri)
    return done


@dataclass(frozen=True)
class _Plan:
    registration: Registration
    graphs: dict[str, Graph]  # named graph -> content; empty when unchanged


def _plan(store: Store, card: Card, folder: Path, *, home: Path, base_iri: str, new_version: bool,
          replace: bool) -> _Plan:
    """Check everything, store the artifacts, and build the graphs to write (nothing written to the graph)."""
    files = {rel: folder / rel for rel in card_files(card)}
    escaping = [rel for rel, file in files.items() if folder.resolve() not in file.resolve().parents]
    if escaping:  # e.g. a symbolic link out of the card's folder
        raise ArtifactError(f"the card names files outside its folder {folder}: {', '.join(escaping)}")
    missing = [rel for rel, file in files.items() if not file.is_file()]
    if missing:
        raise ArtifactError(f"the card names files that do not exist (relative to {folder}): {', '.join(missing)}")
    datasets = _registered_datasets(store, card, base_iri) if isinstance(card, ModelCard) else {}
    file_hashes = {rel: sha256_file(file) for rel, file in files.items()}
    digest = content_hash(card, file_hashes)

    doi = card.doi or mint_doi(card.title)
    status: Status = "created"
    previous: URIRef | None = None
    latest_doi, latest_graph = _latest_version(store, doi, base_iri)
    if latest_graph is not None:
        latest_iri = resource_iri(base_iri, uuid_for(latest_doi))
        if (latest_iri, FKG.withdrawn, Literal(True)) in latest_graph:
            raise RegistrationError(f"{latest_doi} was withdrawn; register the content under a new DOI")
        if latest_graph.value(latest_iri, FKG.contentHash) == Literal(digest):
            return _Plan(Registration(str(latest_iri), uuid_for(latest_doi), latest_doi, card.kind, "unchanged"), {})
        if new_version:
            previous, doi, status = latest_iri, _next_version_doi(doi, latest_doi), "new-version"
        elif replace:
            doi, status = latest_doi, "replaced"
        else:
            raise RegistrationError(
                f"{latest_doi} is already registered with different content; register it with --new-version "
                "to publish a new version with its own DOI (the old version stays resolvable)"
            )

    home.mkdir(parents=True, exist_ok=True)
    stored = {rel: store_artifact(home, file) for rel, file in files.items()}
    key = uuid_for(doi)
    now = datetime.now(UTC).replace(microsecond=0)
    graphs: dict[str, Graph] = {}
    if isinstance(card, DatasetCard):
        record = dataset_graph(card, base_iri=base_iri, key=key, doi=doi, files=stored, content_hash=digest,
                              registered_at=now)
    else:
        hardware = None
        if card.training is not None:
            hardware, machine = hardware_graph(card.training.hardware, base_iri=base_iri)
            graphs[str(hardware)] = machine
        record = model_graph(card, base_iri=base_iri, key=key, doi=doi, files=stored, datasets=datasets,
                            hardware=hardware, content_hash=digest, registered_at=now, previous_version=previous)
    iri = resource_iri(base_iri, key)
    graphs.update((str(shared_iri), shared_graph) for shared_iri, shared_graph in record.shared.items())
    graphs[str(iri)] = record.graph
    return _Plan(Registration(str(iri), key, doi, card.kind, status, str(previous) if previous else None), graphs)


def _registered_datasets(store: Store, card: ModelCard, base_iri: str) -> dict[str, URIRef]:
    wanted = list(dict.fromkeys([*card.training_datasets, *(e.dataset for e in card.evaluations)]))
    found: dict[str, URIRef] = {}
    for ident in wanted:
        try:
            found[ident] = lookup(store, ident, base_iri=base_iri)
        except NotFoundError as exc:
            raise RegistrationError(
                f"the model card names the dataset {ident}, which is not registered here: register its dataset "
                "card first (`fairkg register DATASET_CARD`)"
            ) from exc
        if not store.query(f"ASK {{ <{found[ident]}> a <{MLS.Dataset}> }}").boolean:
            raise RegistrationError(f"{ident} is registered but is not a dataset")
    return found


def _latest_version(store: Store, doi: str, base_iri: str) -> tuple[str, Graph | None]:
    """The newest registered version of ``doi`` (``doi``, ``doi.v2``…) and its graph, or (doi, None)."""
    latest, latest_graph = doi, None
    for n in range(1, 1000):
        candidate = doi if n == 1 else f"{doi}.v{n}"
        graph = store.get_graph(str(resource_iri(base_iri, uuid_for(candidate))))
        if len(graph) == 0:
            break
        latest, latest_graph = candidate, graph
    return latest, latest_graph


def _next_version_doi(doi: str, latest: str) -> str:
    n = 2 if latest == doi else int(latest.rsplit(".v", 1)[1]) + 1
    return f"{doi}.v{n}"


_OTHER_USES = SPARQL_PREFIXES + "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?x fkg:location ?loc } FILTER(?g != ?me) }"


def withdraw(store: Store, identifier: str, *, home: Path, base_iri: str, reason: str) -> Registration:
    """Withdraw a model or dataset: its files are removed, its metadata stays as a tombstone that still resolves.

    Raises:
        NotFoundError: no such resource.
        RegistrationError: it is not a registered model or dataset, or the reason is empty.
    """
    if not reason.strip():
        raise RegistrationError("say why the resource is withdrawn (--reason)")
    iri = lookup(store, identifier, base_iri=base_iri)
    graph = store.get_graph(str(iri))
    if len(graph) == 0:
        raise RegistrationError(f"{identifier} is not a registered model or dataset (it is part of another record)")
    now = datetime.now(UTC).replace(microsecond=0)
    graph.set((iri, FKG.withdrawn, Literal(True)))
    graph.set((iri, FKG.withdrawalReason, Literal(reason.strip())))
    graph.set((iri, PROV.invalidatedAtTime, Literal(now.isoformat(), datatype=XSD.dateTime)))
    locations = {str(loc) for loc in graph.objects(None, FKG.location)}
    store.replace_graph(str(iri), graph)  # the tombstone is written before any file goes
    for location in sorted(locations):
        query = _OTHER_USES.replace("?loc", Literal(location).n3()).replace("?me", iri.n3())
        rows = list(store.query(query).bindings())
        if int(rows[0]["n"]) == 0:  # type: ignore[call-overload]
            remove_artifact(home, location)
    refresh_catalog(store, base_iri)
    kind = "model" if (iri, RDF.type, MLS.Model) in graph else "dataset"
    doi = str(graph.value(iri, DCT.identifier) or "")
    return Registration(str(iri), str(iri).rsplit("/", 1)[-1], doi, kind, "replaced")


def stored_files(graph: Graph) -> list[StoredArtifact]:
    """The artifacts a record's graph points to (distributions, data files, reference examples)."""
    found = []
    for node, location in graph.subject_objects(FKG.location):
        size = graph.value(node, DCAT.byteSize)
        checksum = graph.value(graph.value(node, SPDX.checksum), SPDX.checksumValue)
        if checksum is None:
            raise ArtifactError(f"{node} has a location but no SHA-256")
        found.append(StoredArtifact(str(checksum), int(size or 0), str(location)))
    return found

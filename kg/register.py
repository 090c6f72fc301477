"""Registering cards into the graph, new versions, and withdrawal.

Everything is checked before anything is written: the card validates, every artifact file exists, every dataset
it names is registered. Identical re-registration is a no-op; changed content under an existing DOI is refused
unless a new version is asked for, which gets its own DOI (``<doi>.v2``, ``.v3``…) linked to the previous one.

A registration goes in three steps, so that many can run in parallel (:func:`register_many`): a card is *read*
(validated, its files hashed: no store needed), then *decided* against the store (which DOI, which datasets, new or
unchanged), then *built* (artifacts stored, record written as N-Triples: no store needed). Reading and building run
in worker processes; deciding and writing stay in the process that holds the store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal as TypingLiteral
from typing import TypeVar

from rdflib import Graph, Literal
from rdflib.namespace import XSD

from fairkg.kg.artifacts import StoredArtifact, location_for, remove_artifact, sha256_file, store_artifacts
from fairkg.kg.cards import Card, DatasetCard, ModelCard, load_card
from fairkg.kg.catalog import refresh_catalog
from fairkg.kg.errors import ArtifactError, CardError, FairkgError, NotFoundError, RegistrationError
from fairkg.kg.identifiers import lookup, mint_doi, resource_iri, uuid_for
from fairkg.kg.namespaces import DCAT, DCT, FKG, MLS, PROV, RDF, SPARQL_PREFIXES, SPDX
from fairkg.kg.records import dataset_graph, hardware_graph, model_graph
from fairkg.kg.store.base import Store
from fairkg.kg.workers import default_workers, process_pool

Status = TypingLiteral["created", "unchanged", "new-version", "replaced"]
Item = TypeVar("Item")
Result = TypeVar("Result")

#: cards per task sent to a worker process (fewer, larger messages; small enough to keep both workers busy)
_BATCH = 50


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
    read = _read(path)
    decision = _decide(store, read, base_iri=base_iri, new_version=new_version, replace=replace, known={})
    if decision.registration.status != "unchanged":
        plan = _build_batch([(read, decision)], home, base_iri)[0]
        if isinstance(plan, FairkgError):
            raise plan
        _write(store, [plan])
        refresh_catalog(store, base_iri)
    return decision.registration


def register_many(store: Store, paths: Sequence[Path], *, home: Path, base_iri: str, new_version: bool = False,
                  replace: bool = False, chunk: int = 1000, workers: int | None = None,
                  progress: Callable[[Registration], None] | None = None,
                  read_progress: Callable[[int], None] | None = None) -> list[Registration]:
    """Register many cards, as :func:`register` would one after the other, faster.

    Every card is read, validated and hashed first (in ``workers`` processes; by default one per CPU from 200
    cards): a card that does not validate, or names a missing file, stops the call before anything is written.
    Then dataset cards, then model cards, ``chunk`` at a time: each is decided against the store here (registered
    datasets, existing versions), its artifacts stored and its record built in the workers, and each chunk's
    graphs are written together, what the records link to first. The catalogue is refreshed once at the end. A
    card refused when its turn comes (its DOI holds other content, a dataset it names is missing) stops the call
    there, every card before it written: what a registration returned is in the store.

    Args:
        progress: called with each registration once it is written.
        read_progress: called with the number of cards just read and validated.

    Raises:
        CardError, ArtifactError, RegistrationError: as :func:`register`, naming the card.
    """
    paths = list(paths)
    workers = default_workers(len(paths)) if workers is None else workers
    # One single-process pool per worker, so that a card is built by the process that read it (and kept it)
    pools = [process_pool(1) for _ in range(workers)]
    try:
        reads: list[_Read] = []
        for path, read in zip(paths, _read_all(pools, paths, progress=read_progress), strict=True):
            if isinstance(read, FairkgError):
                raise _naming(read, path) from read
            reads.append(read)
        reads.sort(key=lambda r: r.kind != "dataset")  # stable: datasets first, as models name them
        return _Run(store, pools, home=home, base_iri=base_iri, new_version=new_version, replace=replace,
                    progress=progress).register(reads, chunk)
    finally:
        for pool in pools:
            pool.shutdown(cancel_futures=True)


@dataclass(frozen=True)
class _Read:
    """A card read and validated, its files hashed (nothing decided, nothing written). The card travels between
    processes as its JSON (unpickling a validated card costs the process that holds the store ~0.3 ms)."""

    path: Path
    kind: str
    doi: str
    datasets: tuple[str, ...]  # the dataset identifiers a model card names
    card_json: bytes
    folder: Path
    file_hashes: dict[str, str]
    digest: str
    reader: int | None = None  # the worker process that read it, and keeps the validated card until it is built

    def card(self) -> Card:
        """The card: kept by the worker that read it, else validated again from its JSON."""
        kept = _KEPT_CARDS.pop(self.path, None) if self.reader is not None else None
        return kept or (DatasetCard if self.kind == "dataset" else ModelCard).model_validate_json(self.card_json)


#: (in a worker process) the cards it read, until it builds them: validating a card again costs ~0.4 ms
_KEPT_CARDS: dict[Path, Card] = {}


@dataclass(frozen=True)
class _Decision:
    """What registering a read card will do, decided against the store."""

    registration: Registration
    datasets: dict[str, str] = field(default_factory=dict)  # identifier the card names -> dataset IRI


@dataclass(frozen=True)
class _Plan:
    """A built registration: the graphs to write (empty when unchanged), shared descriptions apart."""

    registration: Registration
    shared: dict[str, bytes]
    own: dict[str, bytes]


def _read(path: Path, *, keep: bool = False) -> _Read:
    """Read and validate the card at ``path`` and hash the files it names; ``keep`` the validated card in this
    process for :func:`_build`."""
    card, folder = load_card(path)
    files = {rel: folder / rel for rel in card_files(card)}
    escaping = [rel for rel, file in files.items() if _outside(folder, rel, file)]
    if escaping:  # e.g. a symbolic link out of the card's folder
        raise ArtifactError(f"the card names files outside its folder {folder}: {', '.join(escaping)}")
    missing = [rel for rel, file in files.items() if not file.is_file()]
    if missing:
        raise ArtifactError(f"the card names files that do not exist (relative to {folder}): {', '.join(missing)}")
    file_hashes = {rel: sha256_file(file) for rel, file in files.items()}
    datasets = tuple(dict.fromkeys([*card.training_datasets, *(e.dataset for e in card.evaluations)])
                     ) if isinstance(card, ModelCard) else ()
    try:
        card_json = card.model_dump_json().encode()
    except ValueError as exc:  # pydantic's serialisation error: a lone surrogate from a "\ud800" escape in YAML
        raise CardError(f"{path} holds text that is not Unicode (a lone surrogate escape such as \\ud800): "
                        f"{exc}") from exc
    if keep:
        _KEPT_CARDS[path] = card
    return _Read(path, card.kind, card.doi or mint_doi(card.title), datasets, card_json, folder, file_hashes,
                 content_hash(card, file_hashes))


def _outside(folder: Path, rel: str, file: Path) -> bool:
    """Whether ``file`` (``folder / rel``) lies outside ``folder`` once symbolic links are followed. Card paths
    are relative without ``..`` (kg.cards checks), so only a link can lead out: paths with none inside the folder
    are decided with one ``lstat`` per part (resolving would ``lstat`` every ancestor of the folder too)."""
    parts = Path(rel).parts
    if Path(rel).is_absolute() or ".." in parts or any(
            (folder.joinpath(*parts[:i + 1])).is_symlink() for i in range(len(parts))):
        return folder.resolve() not in file.resolve().parents
    return False


def _read_batch(paths: list[Path], reader: int | None = None) -> list[_Read | FairkgError]:
    """(In worker ``reader``, or here when None.) :func:`_read` each path, keeping the cards in a worker; a
    refusal is returned in its place, to be raised in order."""
    out: list[_Read | FairkgError] = []
    for path in paths:
        try:
            read = _read(path, keep=reader is not None)
            out.append(read if reader is None else dataclasses.replace(read, reader=reader))
        except FairkgError as exc:
            out.append(exc)
    return out


def _decide(store: Store, read: _Read, *, base_iri: str, new_version: bool, replace: bool,
            known: dict[str, str]) -> _Decision:
    """Decide the registration of ``read`` against the store; ``known`` caches dataset identifiers found.

    Raises:
        RegistrationError: a dataset it names is not registered, its DOI holds other content or was withdrawn.
    """
    datasets = _registered_datasets(store, read.datasets, base_iri, known)
    doi = read.doi
    status: Status = "created"
    previous: str | None = None
    latest_doi, latest_graph = _latest_version(store, doi, base_iri)
    if latest_graph is not None:
        latest_iri = resource_iri(base_iri, uuid_for(latest_doi))
        if (latest_iri, FKG.withdrawn, Literal(True)) in latest_graph:
            raise RegistrationError(f"{latest_doi} was withdrawn; register the content under a new DOI")
        if latest_graph.value(latest_iri, FKG.contentHash) == Literal(read.digest):
            return _Decision(Registration(str(latest_iri), uuid_for(latest_doi), latest_doi, read.kind,
                                          "unchanged"))
        if new_version:
            previous, doi, status = str(latest_iri), _next_version_doi(doi, latest_doi), "new-version"
        elif replace:
            doi, status = latest_doi, "replaced"
        else:
            raise RegistrationError(
                f"{latest_doi} is already registered with different content; register it with --new-version "
                "to publish a new version with its own DOI (the old version stays resolvable)"
            )
    key = uuid_for(doi)
    return _Decision(Registration(str(resource_iri(base_iri, key)), key, doi, read.kind, status, previous), datasets)


def _build(read: _Read, decision: _Decision, *, base_iri: str) -> tuple[_Plan, list[tuple[Path, StoredArtifact]]]:
    """Build the graphs of a decided registration (nothing written), and say which files it stores: the record
    only needs each file's digest and size, so a record that cannot be built leaves no file behind."""
    registration = decision.registration
    if registration.status == "unchanged":
        return _Plan(registration, {}, {}), []
    card = read.card()
    stored = {rel: StoredArtifact(sha256, (read.folder / rel).stat().st_size, location_for(sha256))
              for rel, sha256 in read.file_hashes.items()}
    now = datetime.now(UTC).replace(microsecond=0)
    shared: dict[str, bytes] = {}
    if isinstance(card, DatasetCard):
        record = dataset_graph(card, base_iri=base_iri, key=registration.key, doi=registration.doi, files=stored,
                               content_hash=read.digest, registered_at=now)
    else:
        hardware = None
        if card.training is not None:
            hardware, machine = hardware_graph(card.training.hardware, base_iri=base_iri)
            shared[hardware] = machine.ntriples()
        record = model_graph(card, base_iri=base_iri, key=registration.key, doi=registration.doi, files=stored,
                             datasets=decision.datasets, hardware=hardware, content_hash=read.digest,
                             registered_at=now, previous_version=registration.previous_version)
    shared.update(record.shared_graphs())
    files = [(read.folder / rel, artifact) for rel, artifact in stored.items()]
    return _Plan(registration, shared, {record.iri: record.graph.ntriples()}), files


def _build_batch(items: list[tuple[_Read, _Decision]], home: Path, base_iri: str) -> list[_Plan | FairkgError]:
    """(In a worker.) :func:`_build` each item, then store the artifacts of all of them (flushed to disk
    together); a refusal is returned in its place, to be raised in order."""
    out: list[_Plan | FairkgError] = []
    files: list[tuple[int, Path, StoredArtifact]] = []
    for read, decision in items:
        try:
            plan, needed = _build(read, decision, base_iri=base_iri)
            files += [(len(out), source, artifact) for source, artifact in needed]
            out.append(plan)
        except FairkgError as exc:
            out.append(exc)
    if files:
        home.mkdir(parents=True, exist_ok=True)
        results = store_artifacts(home, [(source, artifact.sha256) for _index, source, artifact in files])
        for (index, source, expected), result in zip(files, results, strict=True):
            if result != expected and not isinstance(out[index], FairkgError):  # failed, or its size changed
                out[index] = result if isinstance(result, ArtifactError) else ArtifactError(
                    f"{source} changed while it was being registered; register again")
    return out


def _write(store: Store, plans: list[_Plan]) -> None:
    """Write the plans' graphs: the shared descriptions first, then the records, so that a record in the store
    never lacks what it links to (a crash in between leaves descriptions nothing links to yet, which the next
    registration rewrites). A shared description written by several plans ends as the last one wrote it."""
    shared = {name: data for plan in plans for name, data in plan.shared.items()}
    own = {name: data for plan in plans for name, data in plan.own.items()}
    if shared:
        store.load_graphs(shared)
    if own:
        store.load_graphs(own)


def _read_all(pools: list[Executor], paths: list[Path], progress: Callable[[int], None] | None = None
              ) -> list[_Read | FairkgError]:
    """:func:`_read_batch` over ``paths`` in batches of :data:`_BATCH`, spread over the pools (or here), in order;
    ``progress`` is told how many cards each finished batch held."""
    batches = [paths[i:i + _BATCH] for i in range(0, len(paths), _BATCH)]
    pending = [pools[n % len(pools)].submit(_read_batch, batch, n % len(pools)) for n, batch in enumerate(batches)
               ] if pools else batches
    results: list[_Read | FairkgError] = []
    for task in pending:
        done = task.result() if isinstance(task, Future) else _read_batch(task)
        results += done
        if progress is not None:
            progress(len(done))
    return results


class _Run:
    """One :func:`register_many` call: chunks decided here, built in the pool, written in order; the next chunk
    is decided and built while the one before is written."""

    def __init__(self, store: Store, pools: list[Executor], *, home: Path, base_iri: str, new_version: bool,
                 replace: bool, progress: Callable[[Registration], None] | None) -> None:
        self.store, self.pools, self.home, self.base_iri = store, pools, home, base_iri
        self.new_version, self.replace, self.progress = new_version, replace, progress
        self.known: dict[str, str] = {}  # dataset identifier -> IRI, looked up once per call
        self.done: list[Registration] = []
        self.in_flight: list[tuple[list[_Read], list[tuple[list[int], Future[list[_Plan | FairkgError]]]]]] = []

    def register(self, reads: list[_Read], chunk: int) -> list[Registration]:
        try:
            for part in _chunks(reads, chunk):
                if self._depends_on_unwritten(part):
                    self._drain()
                decisions: list[_Decision] = []
                for read in part:
                    try:
                        decisions.append(_decide(self.store, read, base_iri=self.base_iri,
                                                 new_version=self.new_version, replace=self.replace,
                                                 known=self.known))
                    except FairkgError as exc:
                        self._submit(part[:len(decisions)], decisions)  # every card before it is registered
                        self._drain()
                        raise _naming(exc, read.path) from exc
                self._submit(part, decisions)
                while len(self.in_flight) > 2:  # two chunks building while one is written
                    self._write_oldest()
            self._drain()
        finally:
            if any(r.status != "unchanged" for r in self.done):
                refresh_catalog(self.store, self.base_iri)
        return self.done

    def _depends_on_unwritten(self, part: list[_Read]) -> bool:
        """Whether deciding ``part`` needs chunks not yet written: models need the datasets before them, and a DOI
        seen again needs its earlier registration."""
        unwritten = [read for reads, _futures in self.in_flight for read in reads]
        dois = {read.doi for read in unwritten}
        return any(read.kind == "dataset" for read in unwritten) and part[0].kind == "model" or any(
            read.doi in dois for read in part)

    def _submit(self, reads: list[_Read], decisions: list[_Decision]) -> None:
        """Build the decided cards, each in the worker that read it (or here)."""
        if not reads:
            return
        by_reader: dict[int | None, list[int]] = {}
        for index, read in enumerate(reads):
            by_reader.setdefault(read.reader, []).append(index)
        parts: list[tuple[list[int], Future[list[_Plan | FairkgError]]]] = []
        for reader, indices in by_reader.items():
            for start in range(0, len(indices), _BATCH):
                batch = indices[start:start + _BATCH]
                items = [(reads[i], decisions[i]) for i in batch]
                if reader is None:
                    future: Future[list[_Plan | FairkgError]] = Future()
                    future.set_result(_build_batch(items, self.home, self.base_iri))
                else:
                    future = self.pools[reader].submit(_build_batch, items, self.home, self.base_iri)
                parts.append((batch, future))
        self.in_flight.append((reads, parts))

    def _write_oldest(self) -> None:
        reads, parts = self.in_flight.pop(0)
        plans: list[_Plan | FairkgError] = [RegistrationError("not built")] * len(reads)
        for indices, future in parts:
            for index, plan in zip(indices, future.result(), strict=True):
                plans[index] = plan
        failed = next((i for i, plan in enumerate(plans) if isinstance(plan, FairkgError)), len(plans))
        good = [plan for plan in plans[:failed] if isinstance(plan, _Plan)]
        _write(self.store, good)
        for plan in good:
            self.done.append(plan.registration)
            if self.progress is not None:
                self.progress(plan.registration)
        if failed < len(plans):
            error = plans[failed]
            self._drain_quietly()
            assert isinstance(error, FairkgError)
            raise _naming(error, reads[failed].path) from error

    def _drain(self) -> None:
        while self.in_flight:
            self._write_oldest()

    def _drain_quietly(self) -> None:
        """Drop the chunks after a failed one (their builds may have stored artifacts: files nothing points to
        yet, kept by content and reused when registered again)."""
        for _reads, parts in self.in_flight:
            for _indices, future in parts:
                future.cancel()
        self.in_flight.clear()


def _naming(error: FairkgError, path: Path) -> FairkgError:
    """``error`` again, its message starting with the card it is about (a card error keeps its field)."""
    if isinstance(error, CardError):
        return CardError(f"{path}: {error}", field=error.field)
    return type(error)(f"{path}: {error}")


def _chunks(reads: list[_Read], size: int) -> list[list[_Read]]:
    """``reads`` in chunks of at most ``size`` of one kind, a new chunk where a DOI repeats (so the second sees
    the first registered)."""
    chunks: list[list[_Read]] = []
    dois: set[str] = set()
    for read in reads:
        if not chunks or len(chunks[-1]) >= size or read.kind != chunks[-1][0].kind or read.doi in dois:
            chunks.append([])
            dois.clear()
        chunks[-1].append(read)
        dois.add(read.doi)
    return chunks


def _registered_datasets(store: Store, wanted: Sequence[str], base_iri: str, known: dict[str, str]
                         ) -> dict[str, str]:
    found: dict[str, str] = {}
    for ident in wanted:
        if ident in known:
            found[ident] = known[ident]
            continue
        try:
            iri = lookup(store, ident, base_iri=base_iri)
        except NotFoundError as exc:
            raise RegistrationError(
                f"the model card names the dataset {ident}, which is not registered here: register its dataset "
                "card first (`fairkg register DATASET_CARD`)"
            ) from exc
        if not store.query(f"ASK {{ <{iri}> a <{MLS.Dataset}> }}").boolean:
            raise RegistrationError(f"{ident} is registered but is not a dataset")
        found[ident] = known[ident] = str(iri)
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

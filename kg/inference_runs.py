"""Inference runs in the graph: a model run over a dataset split, recorded as a ``fkg:InferenceRun``.

An inference run is a ``prov:Activity`` of our own class, never an ``mls:Run``: ML-Schema makes every ``mls:Run``
output a model, so a reasoner would classify predictions as models (DESIGN.md, "The data model"). Each run lives in
a named graph of its own, ``{base_iri}/id/{uuid}`` (the run's IRI), and says::

    run  a fkg:InferenceRun, prov:Activity ;
         prov:used model, distribution, dataset, data file ;
         fkg:executedOn machine (kg.records.hardware_graph, stored in its own graph) ;
         fkg:softwareEnvironment [ fkg:pythonVersion ; fkg:package ... ] ;
         prov:startedAtTime, prov:endedAtTime ; fkg:runtime ; fkg:runtimeVersion ; fkg:device ; fkg:split ;
         fkg:batchSize ; fkg:sampleCount ; fkg:throughput (samples per second) ;
         prov:generated results file, metrics .
    results  a fkg:ResultsFile, prov:Entity ; fkg:location ; spdx:checksum ; dcat:byteSize ; dcat:downloadURL ...
    metric   a schema:PropertyValue ; schema:name "accuracy" ; schema:value 0.97 ; prov:wasGeneratedBy run .

The results file is a resource of its own (``{base_iri}/id/{uuid}``, served at ``/artifacts/{uuid}/results.h5`` with
its checksum verified), with the access rights of the model, so a restricted model's predictions stay restricted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rdflib import URIRef

from fairkg.kg.artifacts import StoredArtifact
from fairkg.kg.cards import Hardware, Package
from fairkg.kg.identifiers import derived_uuid, key_of, resource_iri
from fairkg.kg.namespaces import FKG, SPARQL_PREFIXES
from fairkg.kg.ntriples import T, Triples, double, fragment, integer, iri, literal, typed
from fairkg.kg.records import Record, _file, _package, hardware_graph, split_shared
from fairkg.kg.store.base import Store

__all__ = [
    "RESULTS_FILENAME",
    "RESULTS_MEDIA_TYPE",
    "DataFileRecord",
    "InferenceRun",
    "Metric",
    "ModelState",
    "RunSummary",
    "dataset_files",
    "inference_run_graph",
    "inference_runs",
    "is_restricted",
    "model_state",
    "new_run_key",
    "record_inference_run",
    "results_key",
    "run_summary",
]

RESULTS_FILENAME = "results.h5"
RESULTS_MEDIA_TYPE = "application/x-hdf5"


@dataclass(frozen=True)
class Metric:
    """A metric of a run's predictions against the dataset's labels, e.g. ``accuracy`` 0.97."""

    name: str
    value: float


@dataclass(frozen=True)
class InferenceRun:
    """Everything recorded about one inference run over a dataset split."""

    key: str  # the run's uuid
    model: str  # IRIs
    distribution: str
    dataset: str
    data_file: str | None
    split: str
    runtime: str
    device: str
    started: datetime
    ended: datetime
    sample_count: int
    batch_size: int
    results: StoredArtifact
    hardware: Hardware
    python_version: str
    runtime_version: str | None = None
    software: Sequence[Package] = ()
    metrics: Sequence[Metric] = ()
    restricted: bool = False
    title: str | None = None
    #: seconds spent reading inputs and predicting (the run's whole duration when None)
    inference_seconds: float | None = None

    @property
    def seconds(self) -> float:
        return max((self.ended - self.started).total_seconds(), 0.0)

    @property
    def throughput(self) -> float:
        """Samples per second while reading inputs and predicting (0 when that took no measurable time)."""
        seconds = self.seconds if self.inference_seconds is None else self.inference_seconds
        return self.sample_count / seconds if seconds > 0 else 0.0


def new_run_key() -> str:
    """A fresh uuid for a run: runs are events, so unlike models and datasets their keys derive from nothing."""
    return str(uuid.uuid4())


def results_key(run_key: str) -> str:
    """The key of a run's results file (its node is ``{base_iri}/id/{results_key}``).

    >>> results_key("00000000-0000-4000-8000-000000000000") == results_key("00000000-0000-4000-8000-000000000000")
    True
    """
    return derived_uuid(run_key, "results")


def _datetime(value: datetime) -> str:
    return typed(value.isoformat(), T.xsd.dateTime)


def inference_run_graph(run: InferenceRun, *, base_iri: str) -> tuple[Record, str, Triples]:
    """The run's record (its own graph plus the shared package descriptions), and the machine's IRI and graph."""
    graph = Triples()
    node = f"<{resource_iri(base_iri, run.key)}>"
    for cls in (T.fkg.InferenceRun, T.prov.Activity):
        graph.add(node, T.rdf.type, cls)
    label = run.title or f"Inference run of {run.model}"
    graph.add(node, T.rdfs.label, literal(f"{label} on the {run.split} split"))
    for used in (run.model, run.distribution, run.dataset, run.data_file):
        if used:
            graph.add(node, T.prov.used, iri(used))
    graph.add(node, T.prov.startedAtTime, _datetime(run.started))
    graph.add(node, T.prov.endedAtTime, _datetime(run.ended))
    graph.add(node, T.fkg.runtime, literal(run.runtime))
    if run.runtime_version:
        graph.add(node, T.fkg.runtimeVersion, literal(run.runtime_version))
    graph.add(node, T.fkg.device, literal(run.device))
    graph.add(node, T.fkg["split"], literal(run.split))
    graph.add(node, T.fkg.batchSize, integer(run.batch_size))
    graph.add(node, T.fkg.sampleCount, integer(run.sample_count))
    graph.add(node, T.fkg.throughput, double(round(run.throughput, 3)))

    machine, machine_graph = hardware_graph(run.hardware, base_iri=base_iri)
    graph.add(node, T.fkg.executedOn, f"<{machine}>")
    environment = f"{node[:-1]}#environment>"
    graph.add(node, T.fkg.softwareEnvironment, environment)
    graph.add(environment, T.rdf.type, T.fkg.SoftwareEnvironment)
    graph.add(environment, T.fkg.pythonVersion, literal(run.python_version))
    for package in run.software:
        graph.add(environment, T.fkg.package, _package(graph, package, base_iri))

    key = results_key(run.key)
    results = f"<{resource_iri(base_iri, key)}>"
    graph.add(node, T.prov.generated, results)
    for cls in (T.fkg.ResultsFile, T.prov.Entity):
        graph.add(results, T.rdf.type, cls)
    graph.add(results, T.prov.wasGeneratedBy, node)
    graph.add(results, T.prov.wasDerivedFrom, iri(run.dataset))
    graph.add(results, T.dcterms.title,
              literal(f"Predictions of {label} on the {run.split} split (HDMF-AI ResultsTable)"))
    graph.add(results, T.dcterms.accessRights, T.fkg.RestrictedAccess if run.restricted else T.fkg.PublicAccess)
    _file(graph, results, run.results, name=RESULTS_FILENAME, media_type=RESULTS_MEDIA_TYPE, base_iri=base_iri, key=key)

    for metric in run.metrics:
        value = f"{node[:-1]}#metric-{fragment(metric.name)}>"
        graph.add(node, T.prov.generated, value)
        graph.add(value, T.rdf.type, T.schema.PropertyValue)
        graph.add(value, T.schema.name, literal(metric.name))
        graph.add(value, T.schema.value, double(float(metric.value)))
        graph.add(value, T.prov.wasGeneratedBy, node)
        graph.add(value, T.fair4ml.evaluationDataset, iri(run.dataset))
        graph.add(value, T.fkg["split"], literal(run.split))
    return split_shared(node, graph), machine, machine_graph


def record_inference_run(store: Store, run: InferenceRun, *, base_iri: str) -> URIRef:
    """Write the run into its own named graph (and the machine and packages into theirs); returns the run's IRI.

    >>> from datetime import UTC
    >>> from fairkg.kg.store import open_store
    >>> from fairkg.kg.environment import detect_hardware
    >>> store, base = open_store("oxigraph:"), "http://localhost:8000"
    >>> run = InferenceRun(key=new_run_key(), model=f"{base}/id/m", distribution=f"{base}/id/d",
    ...     dataset=f"{base}/id/ds", data_file=None, split="test", runtime="onnxruntime", device="cpu",
    ...     started=datetime(2026, 1, 1, tzinfo=UTC), ended=datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC),
    ...     sample_count=10, batch_size=5, results=StoredArtifact("0" * 64, 1, "artifacts/x"),
    ...     hardware=detect_hardware(gpus=list), python_version="CPython 3.11", metrics=[Metric("accuracy", 0.5)])
    >>> iri = record_inference_run(store, run, base_iri=base)
    >>> run_summary(store, iri).throughput, run_summary(store, iri).metrics
    (5.0, {'accuracy': 0.5})
    """
    record, machine, machine_graph = inference_run_graph(run, base_iri=base_iri)
    store.load_graphs({machine: machine_graph.ntriples(), **record.shared_graphs()})  # what the run links to first
    store.load_graphs({record.iri: record.graph.ntriples()})
    return URIRef(record.iri)


@dataclass(frozen=True)
class RunSummary:
    """An inference run as the graph records it."""

    iri: str
    key: str
    model: str | None
    dataset: str | None
    split: str | None
    runtime: str | None
    device: str | None
    started: str | None
    ended: str | None
    sample_count: int | None
    throughput: float | None
    results: str | None  # the results file's node
    results_url: str | None
    machine: str | None
    metrics: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"iri": self.iri, "key": self.key, "model": self.model, "dataset": self.dataset, "split": self.split,
                "runtime": self.runtime, "device": self.device, "started": self.started, "ended": self.ended,
                "sample_count": self.sample_count, "throughput": self.throughput, "results": self.results_url,
                "machine": self.machine, "metrics": self.metrics}


_SUMMARY = SPARQL_PREFIXES + """
SELECT ?model ?dataset ?split ?runtime ?device ?start ?end ?count ?throughput ?results ?url ?machine WHERE {
  ?run a fkg:InferenceRun .
  OPTIONAL { ?run prov:used ?model . ?model a mls:Model }
  OPTIONAL { ?run prov:used ?dataset . ?dataset a mls:Dataset }
  OPTIONAL { ?run fkg:split ?split } OPTIONAL { ?run fkg:runtime ?runtime } OPTIONAL { ?run fkg:device ?device }
  OPTIONAL { ?run prov:startedAtTime ?start } OPTIONAL { ?run prov:endedAtTime ?end }
  OPTIONAL { ?run fkg:sampleCount ?count } OPTIONAL { ?run fkg:throughput ?throughput }
  OPTIONAL { ?run prov:generated ?results . ?results a fkg:ResultsFile . OPTIONAL { ?results dcat:downloadURL ?url } }
  OPTIONAL { ?run fkg:executedOn ?machine }
} LIMIT 1
"""
_METRICS = SPARQL_PREFIXES + """
SELECT ?name ?value WHERE { ?run prov:generated ?m . ?m a schema:PropertyValue ; schema:name ?name ;
  schema:value ?value } ORDER BY ?name
"""
_RUNS_OF_MODEL = SPARQL_PREFIXES + """
SELECT ?run ?start WHERE { ?run a fkg:InferenceRun ; prov:used ?model . OPTIONAL { ?run prov:startedAtTime ?start } }
ORDER BY DESC(?start) LIMIT ?limit
"""


def _bind(query: str, name: str, term: URIRef) -> str:
    return query.replace("WHERE {", f"WHERE {{ VALUES ?{name} {{ {term.n3()} }}", 1)


def run_summary(store: Store, iri: str) -> RunSummary | None:
    """What the graph says about the inference run ``iri`` (None when there is no such run)."""
    node = URIRef(iri)
    rows = list(store.query(_bind(_SUMMARY, "run", node)).bindings())
    if not rows:
        return None
    row = rows[0]

    def text(name: str) -> str | None:
        return str(row[name]) if name in row else None

    metrics = {str(r["name"]): float(str(r["value"])) for r in store.query(_bind(_METRICS, "run", node)).bindings()}
    return RunSummary(
        iri=iri, key=key_of(iri), model=text("model"), dataset=text("dataset"), split=text("split"),
        runtime=text("runtime"), device=text("device"), started=text("start"), ended=text("end"),
        sample_count=int(str(row["count"])) if "count" in row else None,
        throughput=float(str(row["throughput"])) if "throughput" in row else None,
        results=text("results"), results_url=text("url"), machine=text("machine"), metrics=metrics,
    )


def inference_runs(store: Store, model_iri: str, *, limit: int = 20) -> list[RunSummary]:
    """The most recent inference runs of the model ``model_iri``, newest first."""
    query = _bind(_RUNS_OF_MODEL, "model", URIRef(model_iri)).replace("?limit", str(int(limit)))
    found = []
    for row in store.query(query).bindings():
        summary = run_summary(store, str(row["run"]))
        if summary is not None:
            found.append(summary)
    return found


@dataclass(frozen=True)
class DataFileRecord:
    """One ``fkg:DataFile`` of a registered dataset: where it is, what its SHA-256 must be, the splits it holds."""

    iri: str
    name: str
    location: str  # relative to the registry home
    sha256: str
    media_type: str | None
    splits: tuple[str, ...]


_DATA_FILES = SPARQL_PREFIXES + """
SELECT ?file ?name ?location ?sha256 ?format (GROUP_CONCAT(?split; separator="\\n") AS ?splits) WHERE {
  ?dataset dcat:distribution ?file . ?file a fkg:DataFile ; fkg:location ?location ;
  spdx:checksum/spdx:checksumValue ?sha256 .
  OPTIONAL { ?file schema:name ?name } OPTIONAL { ?file schema:encodingFormat ?format }
  OPTIONAL { ?file fkg:split ?split }
} GROUP BY ?file ?name ?location ?sha256 ?format ORDER BY ?name
"""
_RESTRICTED = SPARQL_PREFIXES + "ASK WHERE { ?record dcterms:accessRights fkg:RestrictedAccess }"


def dataset_files(store: Store, dataset_iri: str) -> list[DataFileRecord]:
    """The data files of the dataset ``dataset_iri`` (empty for anything else).

    >>> from fairkg.kg.store import open_store
    >>> dataset_files(open_store("oxigraph:"), "http://localhost:8000/id/x")
    []
    """
    found = []
    for row in store.query(_bind(_DATA_FILES, "dataset", URIRef(dataset_iri))).bindings():
        location = str(row["location"])
        splits = tuple(s for s in str(row.get("splits", "")).split("\n") if s)
        found.append(DataFileRecord(str(row["file"]), str(row.get("name") or location.rsplit("/", 1)[-1]), location,
                                    str(row["sha256"]).lower(), str(row["format"]) if "format" in row else None,
                                    tuple(sorted(set(splits)))))
    return found


def is_restricted(store: Store, record_iri: str) -> bool:
    """Whether the record ``record_iri`` (a model or dataset) restricts access to its files.

    >>> from fairkg.kg.store import open_store
    >>> is_restricted(open_store("oxigraph:"), "http://localhost:8000/id/x")
    False
    """
    return bool(store.query(_bind(_RESTRICTED, "record", URIRef(record_iri))).boolean)


@dataclass(frozen=True)
class ModelState:
    """What serving a model needs to know on every request, from one query: whether its record changed (content
    hash), was withdrawn or is restricted, and its version and title."""

    iri: str
    content_hash: str | None
    withdrawn: bool
    restricted: bool
    version: str | None
    title: str | None


_MODEL_STATE = SPARQL_PREFIXES + """
SELECT ?hash ?withdrawn ?rights ?version ?title WHERE {
  ?m a mls:Model .
  OPTIONAL { ?m fkg:contentHash ?hash } OPTIONAL { ?m fkg:withdrawn ?withdrawn }
  OPTIONAL { ?m dcterms:accessRights ?rights } OPTIONAL { ?m dcat:version ?version }
  OPTIONAL { ?m dcterms:title ?title }
} LIMIT 1
"""


def model_state(store: Store, model_iri: str) -> ModelState | None:
    """The serving state of the registered model ``model_iri``; None when no model has that IRI.

    >>> from fairkg.kg.store import open_store
    >>> model_state(open_store("oxigraph:"), "http://localhost:8000/id/x") is None
    True
    """
    rows = list(store.query(_bind(_MODEL_STATE, "m", URIRef(model_iri))).bindings())
    if not rows:
        return None
    row = rows[0]
    return ModelState(
        iri=model_iri, content_hash=str(row["hash"]) if "hash" in row else None,
        withdrawn=str(row.get("withdrawn", "")).lower() in ("true", "1"),
        restricted=row.get("rights") == FKG.RestrictedAccess,
        version=str(row["version"]) if "version" in row else None,
        title=str(row["title"]) if "title" in row else None,
    )

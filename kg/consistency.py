"""Consistency evidence: how closely each runtime and device reproduced a model's reference output, in the graph.

One named graph per model holds its latest check (``{base}/id/{uuid5(model key, "consistency")}``), replaced at
each check, so "which models no longer reproduce their reference" is one query::

    SELECT ?model WHERE { ?check a fkg:ConsistencyCheck ; prov:used ?model ; fkg:withinTolerance false .
                          ?model a mls:Model }

The check is a ``fkg:ConsistencyCheck`` (a ``prov:Activity``) that used the model and its reference example, ran
on a ``fkg:ComputeNode``, and has one part per runtime, device and distribution (each a ``fkg:ConsistencyCheck``
too, with ``fkg:runtime``, ``fkg:device``, ``fkg:maxAbsDeviation``, ``fkg:l2Deviation`` and
``fkg:withinTolerance``), plus ``fkg:PairwiseDeviation`` nodes comparing the parts with each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

from fairkg.kg.identifiers import derived_uuid, key_of, resource_iri
from fairkg.kg.namespaces import DCT, FKG, PROV, RDF, RDFS, SPARQL_PREFIXES, bind_prefixes
from fairkg.kg.store.base import Store

__all__ = ["ConsistencyEvidence", "PairDeviation", "RunDeviation", "consistency_graph", "consistency_iri",
           "record_consistency"]


@dataclass(frozen=True)
class RunDeviation:
    """The reference input run through one distribution on one runtime and device, compared with the reference
    output. ``max_abs`` and ``l2`` are None when the run failed (``error`` says why)."""

    runtime: str
    runtime_version: str | None
    device: str
    format: str
    distribution_iri: str
    started: datetime
    ended: datetime
    max_abs: float | None
    l2: float | None
    within_tolerance: bool
    error: str | None = None

    @property
    def label(self) -> str:
        """``runtime/format/device``, e.g. ``torch/safetensors/cpu``."""
        return f"{self.runtime}/{self.format}/{self.device}"


@dataclass(frozen=True)
class PairDeviation:
    """Two runs compared with each other (labels as :attr:`RunDeviation.label`)."""

    first: str
    second: str
    max_abs: float
    l2: float


@dataclass(frozen=True)
class ConsistencyEvidence:
    """One consistency check of a model on one machine."""

    model_iri: str
    reference_iri: str
    tolerance: float
    started: datetime
    ended: datetime
    runs: tuple[RunDeviation, ...]
    pairs: tuple[PairDeviation, ...] = ()
    machine_iri: str | None = None
    skipped: tuple[tuple[str, str], ...] = field(default=())  # (runtime/format/device, why it could not run here)

    @property
    def within_tolerance(self) -> bool:
        """True when at least one run happened and every run reproduced the reference within the tolerance."""
        return bool(self.runs) and all(run.within_tolerance for run in self.runs)


def consistency_iri(base_iri: str, model_iri: str) -> URIRef:
    """The IRI of a model's consistency check, which is also the name of the graph holding it."""
    return resource_iri(base_iri, derived_uuid(key_of(model_iri), "consistency"))


def _stamp(value: datetime) -> Literal:
    return Literal(value.isoformat(), datatype=XSD.dateTime)


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()


def consistency_graph(evidence: ConsistencyEvidence, *, base_iri: str) -> tuple[URIRef, Graph]:
    """The check's IRI and the graph describing it.

    >>> from datetime import UTC
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> model = "http://localhost:8000/id/6f1c6c2e-6c55-5b8e-9a43-3f5d1b7e2a10"
    >>> run = RunDeviation("onnxruntime", "onnxruntime 1.20", "cpu", "onnx", model + "x", now, now, 0.0, 0.0, True)
    >>> iri, graph = consistency_graph(ConsistencyEvidence(model, model + "r", 1e-4, now, now, (run,)),
    ...                                base_iri="http://localhost:8000")
    >>> bool(graph.value(iri, FKG.withinTolerance))
    True
    """
    check = consistency_iri(base_iri, evidence.model_iri)
    model = URIRef(evidence.model_iri)
    graph = bind_prefixes(Graph())
    for cls in (FKG.ConsistencyCheck, PROV.Activity):
        graph.add((check, RDF.type, cls))
    graph.add((check, RDFS.label, Literal("Reference example through every runtime and device available")))
    graph.add((model, FKG.consistencyCheck, check))
    graph.add((check, PROV.used, model))
    graph.add((check, PROV.used, URIRef(evidence.reference_iri)))
    graph.add((check, PROV.startedAtTime, _stamp(evidence.started)))
    graph.add((check, PROV.endedAtTime, _stamp(evidence.ended)))
    graph.add((check, FKG.withinTolerance, Literal(evidence.within_tolerance)))
    graph.add((check, FKG.allowedDeviation, Literal(evidence.tolerance, datatype=XSD.double)))
    if evidence.machine_iri:
        graph.add((check, FKG.executedOn, URIRef(evidence.machine_iri)))
    measured = [run for run in evidence.runs if run.max_abs is not None]
    if measured:
        graph.add((check, FKG.maxAbsDeviation, Literal(max(r.max_abs or 0.0 for r in measured), datatype=XSD.double)))
        graph.add((check, FKG.l2Deviation, Literal(max(r.l2 or 0.0 for r in measured), datatype=XSD.double)))
    nodes: dict[str, URIRef] = {}
    for run in evidence.runs:
        node = nodes[run.label] = URIRef(f"{check}#{_slug(run.label)}")
        graph.add((check, DCT.hasPart, node))
        for cls in (FKG.ConsistencyCheck, PROV.Activity):
            graph.add((node, RDF.type, cls))
        graph.add((node, RDFS.label, Literal(run.label)))
        graph.add((node, PROV.used, URIRef(run.distribution_iri)))
        graph.add((node, FKG.runtime, Literal(run.runtime)))
        if run.runtime_version:
            graph.add((node, FKG.runtimeVersion, Literal(run.runtime_version)))
        graph.add((node, FKG.device, Literal(run.device)))
        graph.add((node, PROV.startedAtTime, _stamp(run.started)))
        graph.add((node, PROV.endedAtTime, _stamp(run.ended)))
        graph.add((node, FKG.withinTolerance, Literal(run.within_tolerance)))
        if run.max_abs is not None and run.l2 is not None:
            graph.add((node, FKG.maxAbsDeviation, Literal(run.max_abs, datatype=XSD.double)))
            graph.add((node, FKG.l2Deviation, Literal(run.l2, datatype=XSD.double)))
        if run.error:
            graph.add((node, FKG.checkError, Literal(run.error)))
        if evidence.machine_iri:
            graph.add((node, FKG.executedOn, URIRef(evidence.machine_iri)))
    for pair in evidence.pairs:
        node = URIRef(f"{check}#pair-{_slug(pair.first)}-{_slug(pair.second)}")
        graph.add((check, FKG.pairwiseDeviation, node))
        graph.add((node, RDF.type, FKG.PairwiseDeviation))
        graph.add((node, RDFS.label, Literal(f"{pair.first} vs {pair.second}")))
        for label in (pair.first, pair.second):
            if label in nodes:
                graph.add((node, FKG.comparedRun, nodes[label]))
        graph.add((node, FKG.maxAbsDeviation, Literal(pair.max_abs, datatype=XSD.double)))
        graph.add((node, FKG.l2Deviation, Literal(pair.l2, datatype=XSD.double)))
    for label, reason in evidence.skipped:
        graph.add((check, FKG.skippedRuntime, Literal(f"{label}: {reason}")))
    return check, graph


def record_consistency(store: Store, evidence: ConsistencyEvidence, *, base_iri: str) -> URIRef:
    """Write the check into its own named graph (replacing the model's previous check) and return its IRI."""
    check, graph = consistency_graph(evidence, base_iri=base_iri)
    store.replace_graph(str(check), graph)
    return check


@dataclass(frozen=True)
class ConsistencySummary:
    """The latest recorded consistency check of a model, as a page shows it."""

    check: str
    ended: str | None
    within_tolerance: bool
    tolerance: float | None
    runs: list[tuple[str, float | None, float | None, bool, str | None]]  # label, max |Δ|, L2, within, error
    pairs: list[tuple[str, float, float]]  # "a vs b", max |Δ|, L2
    skipped: list[str]


_SUMMARY_RUNS = SPARQL_PREFIXES + """
SELECT ?check ?ended ?within ?tolerance ?label ?max ?l2 ?ok ?error ?kind WHERE {
  ?m fkg:consistencyCheck ?check . ?check fkg:withinTolerance ?within .
  OPTIONAL { ?check prov:endedAtTime ?ended } OPTIONAL { ?check fkg:allowedDeviation ?tolerance }
  OPTIONAL {
    { ?check dcterms:hasPart ?node . BIND("run" AS ?kind) OPTIONAL { ?node fkg:withinTolerance ?ok }
      OPTIONAL { ?node fkg:checkError ?error } }
    UNION { ?check fkg:pairwiseDeviation ?node . BIND("pair" AS ?kind) }
    UNION { ?check fkg:skippedRuntime ?label . BIND("skipped" AS ?kind) }
    OPTIONAL { ?node rdfs:label ?label } OPTIONAL { ?node fkg:maxAbsDeviation ?max }
    OPTIONAL { ?node fkg:l2Deviation ?l2 }
  }
} ORDER BY ?kind ?label
"""


def consistency_summary(store: Store, model_iri: str) -> ConsistencySummary | None:
    """The recorded consistency check of ``model_iri`` (None if none was recorded)."""
    rows = list(store.query(_SUMMARY_RUNS.replace("WHERE {", f"WHERE {{ VALUES ?m {{ {URIRef(model_iri).n3()} }}", 1))
                .bindings())
    if not rows:
        return None
    first = rows[0]
    runs, pairs, skipped = [], [], []

    def number(row: dict[str, object], name: str) -> float | None:
        return float(row[name]) if name in row else None  # type: ignore[arg-type]

    for row in rows:
        kind, label = str(row.get("kind", "")), str(row.get("label", ""))
        if kind == "run":
            runs.append((label, number(row, "max"), number(row, "l2"), str(row.get("ok", "")).lower() == "true",
                         str(row["error"]) if "error" in row else None))
        elif kind == "pair":
            pairs.append((label, number(row, "max") or 0.0, number(row, "l2") or 0.0))
        elif kind == "skipped":
            skipped.append(label)
    return ConsistencySummary(str(first["check"]), str(first["ended"]) if "ended" in first else None,
                              str(first["within"]).lower() == "true", number(first, "tolerance"), runs, pairs, skipped)

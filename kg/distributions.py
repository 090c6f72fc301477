"""What inference needs to know about a registered model, read from its named graph, and adding a distribution
(e.g. a TensorRT plan built on this machine) to it afterwards.

Everything here comes from the graph: tensor specs, distributions with their checksums and locations, the
reference example. ``fairkg.runners`` reads models only through these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, Literal, URIRef

from fairkg.kg.artifacts import store_artifact
from fairkg.kg.errors import ArtifactError, NotFoundError
from fairkg.kg.identifiers import derived_uuid, key_of
from fairkg.kg.namespaces import DCAT, DCT, FKG, MLS, RDF, SCHEMA, SPDX
from fairkg.kg.ntriples import Triples
from fairkg.kg.records import DISTRIBUTION_CLASSES, distribution
from fairkg.kg.store.base import Store

__all__ = [
    "DistributionRecord",
    "InferenceRecord",
    "ReferenceRecord",
    "TensorSpecRecord",
    "add_distribution",
    "inference_record",
    "parse_shape",
]

_FORMAT_OF_CLASS = {cls: fmt for fmt, cls in DISTRIBUTION_CLASSES.items()}


@dataclass(frozen=True)
class TensorSpecRecord:
    """One input or output tensor as the graph declares it; ``shape`` holds sizes and names of free dimensions."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]
    position: int
    description: str = ""
    semantics: str | None = None


@dataclass(frozen=True)
class DistributionRecord:
    """One file of a model (``format``: torch-export, safetensors, onnx or tensorrt), with what its checksum must be
    and, for hardware-specific formats, what it was built for."""

    iri: str
    format: str
    name: str
    location: str  # relative to the registry home
    sha256: str
    byte_size: int
    architecture: str | None = None
    runtime_version: str | None = None
    built_for: str | None = None


@dataclass(frozen=True)
class ReferenceRecord:
    """The reference example: a safetensors file of ``input.<name>`` and ``output.<name>`` tensors, and the largest
    allowed absolute deviation."""

    iri: str
    location: str
    sha256: str
    tolerance: float


@dataclass(frozen=True)
class InferenceRecord:
    """Everything inference needs about one registered model."""

    model_iri: str
    title: str
    inputs: tuple[TensorSpecRecord, ...]
    outputs: tuple[TensorSpecRecord, ...]
    distributions: tuple[DistributionRecord, ...]
    reference: ReferenceRecord | None
    withdrawn: bool = False


def parse_shape(text: str) -> tuple[int | str, ...]:
    """The dimensions of a ``fkg:shape`` literal: integers are sizes, names mark dimensions of any size.

    >>> parse_shape("batch,1,8,8")
    ('batch', 1, 8, 8)
    """
    dims: list[int | str] = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            dims.append(int(part) if part.isdigit() else part)
    return tuple(dims)


def _text(graph: Graph, node: URIRef, prop: URIRef) -> str | None:
    value = graph.value(node, prop)
    return None if value is None else str(value)


def _specs(graph: Graph, model: URIRef, prop: URIRef) -> tuple[TensorSpecRecord, ...]:
    specs = []
    for tensor in graph.objects(model, prop):
        assert isinstance(tensor, URIRef)
        specs.append(
            TensorSpecRecord(
                name=_text(graph, tensor, SCHEMA.name) or "",
                dtype=_text(graph, tensor, FKG.dtype) or "",
                shape=parse_shape(_text(graph, tensor, FKG.shape) or ""),
                position=int(graph.value(tensor, FKG.position) or 0),  # type: ignore[arg-type]
                description=_text(graph, tensor, DCT.description) or "",
                semantics=_text(graph, tensor, FKG.semantics),
            )
        )
    return tuple(sorted(specs, key=lambda s: (s.position, s.name)))


def _checksum(graph: Graph, node: URIRef) -> str:
    value = graph.value(graph.value(node, SPDX.checksum), SPDX.checksumValue)
    if value is None:
        raise ArtifactError(f"{node} has no SHA-256 in the graph, so it cannot be verified and is never loaded")
    return str(value)


def _distribution(graph: Graph, node: URIRef) -> DistributionRecord | None:
    formats = [_FORMAT_OF_CLASS[cls] for cls in graph.objects(node, RDF.type) if cls in _FORMAT_OF_CLASS]
    location = _text(graph, node, FKG.location)
    if not formats or location is None:
        return None
    return DistributionRecord(
        iri=str(node),
        format=formats[0],
        name=_text(graph, node, SCHEMA.name) or location.rsplit("/", 1)[-1],
        location=location,
        sha256=_checksum(graph, node),
        byte_size=int(graph.value(node, DCAT.byteSize) or 0),  # type: ignore[arg-type]
        architecture=_text(graph, node, FKG.architecture),
        runtime_version=_text(graph, node, FKG.runtimeVersion),
        built_for=_text(graph, node, FKG.builtForGpu),
    )


def inference_record(store: Store, model_iri: str) -> InferenceRecord:
    """The tensor specs, distributions and reference example of the model ``model_iri``, from its named graph.

    Raises:
        NotFoundError: no registered model has that IRI.
        ArtifactError: a distribution in the graph has no checksum.

    >>> from fairkg.kg.store import open_store
    >>> inference_record(open_store("oxigraph:"), "http://localhost:8000/id/x")
    Traceback (most recent call last):
    ...
    fairkg.kg.errors.NotFoundError: http://localhost:8000/id/x is not a registered model
    """
    model = URIRef(model_iri)
    graph = store.get_graph(model_iri)
    if (model, RDF.type, MLS.Model) not in graph:
        raise NotFoundError(f"{model_iri} is not a registered model")
    distributions = [d for node in graph.objects(model, DCAT.distribution) if (d := _distribution(graph, node))]
    reference = None
    if isinstance(node := graph.value(model, FKG.referenceExample), URIRef) and (
        location := _text(graph, node, FKG.location)
    ):
        reference = ReferenceRecord(str(node), location, _checksum(graph, node),
                                    float(graph.value(node, FKG.tolerance) or 0.0))  # type: ignore[arg-type]
    return InferenceRecord(
        model_iri=model_iri,
        title=_text(graph, model, DCT.title) or model_iri,
        inputs=_specs(graph, model, FKG.inputSpec),
        outputs=_specs(graph, model, FKG.outputSpec),
        distributions=tuple(sorted(distributions, key=lambda d: (d.format, d.name))),
        reference=reference,
        withdrawn=(model, FKG.withdrawn, Literal(True)) in graph,
    )


def add_distribution(store: Store, home: Path, model_iri: str, file: Path, format: str, *, base_iri: str,
                     name: str | None = None, architecture: str | None = None, runtime_version: str | None = None,
                     built_for: str | None = None) -> DistributionRecord:
    """Store ``file`` in the artifact store and add it to the model's named graph as a distribution.

    Used for artifacts made after registration, such as a TensorRT plan built for the GPU at hand. The model's
    other triples are untouched (one SPARQL update removes a previous distribution of the same name and inserts
    the new one). Registering the model's card again with ``replace`` drops it, as the card does not name it.

    Args:
        format: one of torch-export, safetensors, onnx, tensorrt.
        name: the file name shown and served (default: ``file``'s name).

    Raises:
        NotFoundError: no registered model has that IRI.
        ArtifactError: ``file`` is missing or unreadable.
        ValueError: an unknown format.
    """
    if format not in DISTRIBUTION_CLASSES:
        raise ValueError(f"unknown distribution format {format!r}: expected one of {', '.join(DISTRIBUTION_CLASSES)}")
    model = URIRef(model_iri)
    if not store.query(f"ASK {{ GRAPH {model.n3()} {{ {model.n3()} a {MLS.Model.n3()} }} }}").boolean:
        raise NotFoundError(f"{model_iri} is not a registered model")
    name = name or file.name
    stored = store_artifact(home, file)
    key = derived_uuid(key_of(model_iri), f"distribution:{format}:{name}")
    triples = Triples()
    dist = URIRef(distribution(triples, f"<{model}>", key, format, stored, name=name, base_iri=base_iri,
                               architecture=architecture, runtime_version=runtime_version,
                               built_for=built_for)[1:-1])
    checksum = URIRef(f"{dist}#sha256")
    store.update(
        f"DELETE WHERE {{ GRAPH {model.n3()} {{ {dist.n3()} ?p ?o }} }} ;\n"
        f"DELETE WHERE {{ GRAPH {model.n3()} {{ {checksum.n3()} ?p ?o }} }} ;\n"
        f"INSERT DATA {{ GRAPH {model.n3()} {{\n{triples.ntriples().decode()}\n}} }}"
    )
    graph = triples.to_rdflib()
    record = _distribution(graph, dist)
    assert record is not None
    return record

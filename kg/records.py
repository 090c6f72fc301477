"""Cards to RDF: the one place that decides which triples describe a model, a dataset, a run or a machine.

Every resource gets ``{base_iri}/id/{uuid}``; parts that have no page of their own (identifier nodes, tensor
specs, checksums) are hash IRIs under their parent, so a record is deterministic and has no blank nodes. The types
that FAIR shapes target are written explicitly (no inference at validation time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

from fairkg.kg.artifacts import StoredArtifact
from fairkg.kg.cards import FORMATS, DatasetCard, Hardware, ModelCard, Package, ResourceCard, TrainingRun
from fairkg.kg.catalog import catalog_listing
from fairkg.kg.identifiers import derived_uuid, name_uuid, parse_identifier, resource_iri
from fairkg.kg.namespaces import (
    DATACITE,
    DCAT,
    DCT,
    FABIO,
    FAIR4ML,
    FKG,
    LITERAL,
    MLS,
    ORCID,
    PROV,
    RDF,
    RDFS,
    SCHEMA,
    SPDX,
    SPDX_LICENSES,
)

DCMITYPE_DATASET = URIRef("http://purl.org/dc/dcmitype/Dataset")
DISTRIBUTION_CLASSES = {
    "torch-export": FKG.TorchExportProgram,
    "safetensors": FKG.SafetensorsWeights,
    "onnx": FKG.OnnxModel,
    "tensorrt": FKG.TensorRTPlan,
}
RELATIONS = {
    "IsDerivedFrom": PROV.wasDerivedFrom,
    "IsVersionOf": DCT.isVersionOf,
    "IsNewVersionOf": PROV.wasRevisionOf,
    "References": DCT.references,
    "IsDocumentedBy": DCT.relation,
    "Requires": DCT.requires,
    "IsSupplementTo": DCT.relation,
    "Cites": DCT.references,
}


#: resources that many records share: each lives in a named graph of its own (named by its IRI), so a triple
#: about it is stored once and union queries never see it twice
SHARED_CLASSES = (SCHEMA.Person, SCHEMA.Organization, DCT.LicenseDocument, MLS.Software, MLS.Implementation,
                  MLS.EvaluationMeasure, FKG.ComputeNode)


@dataclass(frozen=True)
class Record:
    """A record's own named graph, and the descriptions of the shared resources it links to."""

    iri: URIRef
    graph: Graph
    shared: dict[URIRef, Graph] = field(default_factory=dict)


def new_record_graph() -> Graph:
    """An empty graph for building a record: on rdflib's lighter SimpleMemory store, without prefix bindings (a
    record is only ever written to the store, as N-Triples; ``bind_prefixes(Graph())`` costs ~1 ms, 40% of
    building a model's record with its ~10 shared graphs)."""
    return Graph(store="SimpleMemory", bind_namespaces="none")


def split_shared(iri: URIRef, graph: Graph) -> Record:
    """Move the triples about shared resources (and their ``#`` parts) out of ``graph`` into graphs of their own."""
    owners = {node for cls in SHARED_CLASSES for node in graph.subjects(RDF.type, cls) if isinstance(node, URIRef)}
    own = new_record_graph()
    shared: dict[URIRef, Graph] = {}
    for triple in graph:
        subject = triple[0]
        owner = URIRef(str(subject).split("#", 1)[0]) if isinstance(subject, URIRef) else None
        if owner in owners and owner != iri:
            if owner not in shared:
                shared[owner] = new_record_graph()
            shared[owner].add(triple)
        else:
            own.add(triple)
    return Record(iri, own, shared)


def download_url(base_iri: str, dist_key: str, filename: str) -> URIRef:
    """Where the service serves a distribution's file (checksum verified on the way out)."""
    return URIRef(f"{base_iri}/artifacts/{dist_key}/{filename}")


def _resource(graph: Graph, node: URIRef, card: ResourceCard, doi: str, base_iri: str) -> None:
    """The DataCite block shared by models and datasets."""
    graph.add((node, RDF.type, PROV.Entity))
    graph.add((node, DCT.identifier, Literal(doi)))
    _identifier(graph, node, "doi", doi, primary=True)
    for alt in card.alternate_identifiers:
        ident = parse_identifier(alt)
        _identifier(graph, node, ident.scheme, ident.value, primary=False)
    graph.add((node, DCT.title, Literal(card.title)))
    graph.add((node, DCT.description, Literal(card.description)))
    for position, creator in enumerate(card.creators, start=1):
        person = ORCID[creator.orcid] if creator.orcid else resource_iri(base_iri, name_uuid(f"person:{creator.name}"))
        graph.add((node, DCT.creator, person))
        # dcterms:creator is unordered; the qualified attribution keeps the card's author order for citations
        attribution = URIRef(f"{node}#creator-{position}")
        graph.add((node, PROV.qualifiedAttribution, attribution))
        graph.add((attribution, RDF.type, PROV.Attribution))
        graph.add((attribution, PROV.agent, person))
        graph.add((attribution, SCHEMA.position, Literal(position, datatype=XSD.integer)))
        graph.add((person, RDF.type, SCHEMA.Person))
        graph.add((person, RDF.type, PROV.Agent))
        graph.add((person, SCHEMA.name, Literal(creator.name)))
        if creator.affiliation:
            graph.add((person, SCHEMA.affiliation, Literal(creator.affiliation)))
        if creator.orcid:
            ident = URIRef(f"{person}#orcid")
            graph.add((person, DATACITE.hasIdentifier, ident))
            graph.add((ident, RDF.type, DATACITE.PersonalIdentifier))
            graph.add((ident, LITERAL.hasLiteralValue, Literal(creator.orcid)))
            graph.add((ident, DATACITE.usesIdentifierScheme, DATACITE.orcid))
    publisher = resource_iri(base_iri, name_uuid(f"organization:{card.publisher}"))
    graph.add((node, DCT.publisher, publisher))
    graph.add((publisher, RDF.type, SCHEMA.Organization))
    graph.add((publisher, RDF.type, PROV.Agent))
    graph.add((publisher, SCHEMA.name, Literal(card.publisher)))
    graph.add((node, DCT.issued, Literal(str(card.publication_year), datatype=XSD.gYear)))
    graph.add((node, DCAT.version, Literal(card.version)))
    if card.license:
        licence = SPDX_LICENSES[card.license]
        graph.add((node, DCT.license, licence))
        graph.add((licence, RDF.type, DCT.LicenseDocument))
        graph.add((licence, RDFS.label, Literal(card.license)))
    for keyword in card.keywords:
        graph.add((node, DCAT.keyword, Literal(keyword)))
    graph.add((node, DCT.accessRights, FKG.RestrictedAccess if card.access == "restricted" else FKG.PublicAccess))
    for rel in card.related:
        target = parse_identifier(rel.identifier)
        graph.add((node, RELATIONS[rel.relation], URIRef(target.url or target.value)))


def _identifier(graph: Graph, node: URIRef, scheme: str, value: str, *, primary: bool) -> None:
    ident = URIRef(f"{node}#{scheme}-identifier" if primary else f"{node}#{scheme}-{name_uuid(value)[:8]}")
    graph.add((node, DATACITE.hasIdentifier, ident))
    kind = DATACITE.PrimaryResourceIdentifier if primary else DATACITE.AlternateResourceIdentifier
    graph.add((ident, RDF.type, kind))
    graph.add((ident, LITERAL.hasLiteralValue, Literal(value)))
    graph.add((ident, DATACITE.usesIdentifierScheme, DATACITE.doi if primary else parse_identifier(value).scheme_iri))


def _file(graph: Graph, node: URIRef, stored: StoredArtifact, *, name: str, media_type: str, base_iri: str,
          key: str) -> None:
    """Name, size, checksum, location and download URL of a stored file."""
    graph.add((node, SCHEMA.name, Literal(name)))
    graph.add((node, DCAT.byteSize, Literal(stored.byte_size, datatype=XSD.nonNegativeInteger)))
    graph.add((node, DCAT.mediaType, URIRef(f"https://www.iana.org/assignments/media-types/{media_type}")))
    graph.add((node, SCHEMA.encodingFormat, Literal(media_type)))
    checksum = URIRef(f"{node}#sha256")
    graph.add((node, SPDX.checksum, checksum))
    graph.add((checksum, RDF.type, SPDX.Checksum))
    graph.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
    graph.add((checksum, SPDX.checksumValue, Literal(stored.sha256, datatype=XSD.hexBinary)))
    graph.add((node, FKG.location, Literal(stored.location)))
    graph.add((node, DCAT.downloadURL, download_url(base_iri, key, name.rsplit("/", 1)[-1])))


def dataset_graph(card: DatasetCard, *, base_iri: str, key: str, doi: str, files: Mapping[str, StoredArtifact],
                  content_hash: str, registered_at: datetime) -> Record:
    """The record of a registered dataset."""
    graph = new_record_graph()
    node = resource_iri(base_iri, key)
    for cls in (MLS.Dataset, SCHEMA.Dataset, DCAT.Dataset):
        graph.add((node, RDF.type, cls))
    graph.add((node, DATACITE.hasGeneralResourceType, DCMITYPE_DATASET))
    _resource(graph, node, card, doi, base_iri)
    if card.provenance:
        statement = URIRef(f"{node}#provenance")
        graph.add((node, DCT.provenance, statement))
        graph.add((statement, RDF.type, DCT.ProvenanceStatement))
        graph.add((statement, RDFS.label, Literal(card.provenance)))
    if card.record_count is not None:
        graph.add((node, FKG.recordCount, Literal(card.record_count, datatype=XSD.integer)))
    if card.features:
        graph.add((node, SCHEMA.variableMeasured, Literal(card.features)))
    for data_file in card.files:
        file_key = derived_uuid(key, f"file:{data_file.path}")
        dist = resource_iri(base_iri, file_key)
        graph.add((node, DCAT.distribution, dist))
        graph.add((dist, RDF.type, DCAT.Distribution))
        graph.add((dist, RDF.type, FKG.DataFile))
        _file(graph, dist, files[data_file.path], name=data_file.path, media_type=data_file.media_type,
              base_iri=base_iri, key=file_key)
        if data_file.description:
            graph.add((dist, DCT.description, Literal(data_file.description)))
        for split in data_file.splits:
            graph.add((dist, FKG["split"], Literal(split)))
    _registration(graph, node, content_hash, registered_at, base_iri=base_iri, kind="dataset")
    return split_shared(node, graph)


def _registration(graph: Graph, node: URIRef, content_hash: str, registered_at: datetime, *, base_iri: str,
                  kind: str) -> None:
    graph.add((node, FKG.contentHash, Literal(content_hash)))
    graph.add((node, DCT.dateSubmitted, Literal(registered_at.isoformat(), datatype=XSD.dateTime)))
    catalog_listing(graph, node, base_iri=base_iri, kind=kind, registered=registered_at.isoformat())


def model_graph(card: ModelCard, *, base_iri: str, key: str, doi: str, files: Mapping[str, StoredArtifact],
                datasets: Mapping[str, URIRef], hardware: URIRef | None, content_hash: str,
                registered_at: datetime, previous_version: URIRef | None = None) -> Record:
    """The record of a registered model: its description, distributions, tensors, reference example,
    training run with hyperparameters, software and hardware, and evaluations.

    ``datasets`` maps each dataset identifier the card names to the registered dataset's IRI.
    """
    graph = new_record_graph()
    node = resource_iri(base_iri, key)
    for cls in (MLS.Model, FAIR4ML.MLModel, DCAT.Resource):
        graph.add((node, RDF.type, cls))
    graph.add((node, DATACITE.hasGeneralResourceType, FABIO.Model))
    graph.add((node, SCHEMA.additionalType, Literal("Trained machine-learning model")))
    _resource(graph, node, card, doi, base_iri)
    if card.task:
        graph.add((node, FAIR4ML.mlTask, Literal(card.task)))
    if card.framework:
        graph.add((node, SCHEMA.runtimePlatform, Literal(card.framework)))
    for attr, prop in (("usage", FAIR4ML.usageInstructions), ("intended_use", FAIR4ML.intendedUse),
                       ("limitations", FAIR4ML.modelRisksBiasLimitations)):
        if value := getattr(card, attr):
            graph.add((node, prop, Literal(value)))
    for prop, specs in ((FKG.inputSpec, card.inputs), (FKG.outputSpec, card.outputs)):
        role = "input" if prop == FKG.inputSpec else "output"
        for position, spec in enumerate(specs):
            tensor = URIRef(f"{node}#{role}-{spec.name}")
            graph.add((node, prop, tensor))
            graph.add((tensor, RDF.type, FKG.TensorSpec))
            graph.add((tensor, SCHEMA.name, Literal(spec.name)))
            graph.add((tensor, FKG.dtype, Literal(spec.dtype)))
            graph.add((tensor, FKG.shape, Literal(",".join(str(d) for d in spec.shape))))
            graph.add((tensor, FKG.position, Literal(position, datatype=XSD.integer)))
            graph.add((tensor, DCT.description, Literal(spec.description)))
            if spec.semantics:
                graph.add((tensor, FKG.semantics, Literal(spec.semantics)))
    for dist_card in card.distributions:
        dist_key = derived_uuid(key, f"distribution:{dist_card.format}:{dist_card.path}")
        dist = resource_iri(base_iri, dist_key)
        media_type, spec_iri = FORMATS[dist_card.format]
        graph.add((node, DCAT.distribution, dist))
        for cls in (DCAT.Distribution, FKG.ModelDistribution, DISTRIBUTION_CLASSES[dist_card.format]):
            graph.add((dist, RDF.type, cls))
        graph.add((dist, DCT.conformsTo, URIRef(spec_iri)))
        _file(graph, dist, files[dist_card.path], name=dist_card.path, media_type=media_type, base_iri=base_iri,
              key=dist_key)
        for attr, prop in (("architecture", FKG.architecture), ("runtime_version", FKG.runtimeVersion),
                           ("built_for", FKG.builtForGpu)):
            if value := getattr(dist_card, attr):
                graph.add((dist, prop, Literal(value)))
    if card.reference:
        reference_key = derived_uuid(key, "reference")
        reference = resource_iri(base_iri, reference_key)
        graph.add((node, FKG.referenceExample, reference))
        graph.add((reference, RDF.type, FKG.ReferenceExample))
        graph.add((reference, FKG.tolerance, Literal(card.reference.tolerance, datatype=XSD.double)))
        stored = files[card.reference.path]
        _file(graph, reference, stored, name=card.reference.path, media_type="application/x-safetensors",
              base_iri=base_iri, key=reference_key)
    for ident in card.training_datasets:
        graph.add((node, FAIR4ML.trainedOn, datasets[ident]))
    if card.training:
        _training_run(graph, node, card.training, base_iri=base_iri, key=key, datasets=datasets, hardware=hardware)
    for evaluation in card.evaluations:
        _evaluation(graph, node, evaluation.metric, evaluation.value, datasets[evaluation.dataset], evaluation.split,
                    base_iri=base_iri, key=key, has_training=card.training is not None)
    for package in card.training.software if card.training else []:
        if package.name in {"torch", "onnxruntime", "numpy", "safetensors"}:
            graph.add((node, DCT.requires, _package(graph, package, base_iri)))
    if previous_version is not None:
        graph.add((node, PROV.wasRevisionOf, previous_version))
        graph.add((node, DCT.isVersionOf, previous_version))
    _registration(graph, node, content_hash, registered_at, base_iri=base_iri, kind="model")
    return split_shared(node, graph)


def _package(graph: Graph, package: Package, base_iri: str) -> URIRef:
    node = resource_iri(base_iri, name_uuid(f"package:{package.name}=={package.version}"))
    graph.add((node, RDF.type, MLS.Software))
    graph.add((node, RDF.type, SCHEMA.SoftwareApplication))
    graph.add((node, SCHEMA.name, Literal(package.name)))
    graph.add((node, SCHEMA.softwareVersion, Literal(package.version)))
    return node


def _literal(value: str | int | float | bool) -> Literal:
    if isinstance(value, bool):
        return Literal(value, datatype=XSD.boolean)
    if isinstance(value, int):
        return Literal(value, datatype=XSD.integer)
    if isinstance(value, float):
        return Literal(value, datatype=XSD.double)
    return Literal(value)


def _training_run(graph: Graph, model: URIRef, training: TrainingRun, *, base_iri: str, key: str,
                  datasets: Mapping[str, URIRef], hardware: URIRef | None) -> None:
    run = resource_iri(base_iri, derived_uuid(key, "training-run"))
    for cls in (FKG.TrainingRun, MLS.Run, PROV.Activity):
        graph.add((run, RDF.type, cls))
    graph.add((run, RDFS.label, Literal(f"Training run of {graph.value(model, DCT.title)}")))
    graph.add((model, PROV.wasGeneratedBy, run))
    graph.add((run, MLS.hasOutput, model))
    graph.add((run, PROV.startedAtTime, Literal(training.started.isoformat(), datatype=XSD.dateTime)))
    graph.add((run, PROV.endedAtTime, Literal(training.ended.isoformat(), datatype=XSD.dateTime)))
    for ident in training.datasets:
        graph.add((run, MLS.hasInput, datasets[ident]))
        graph.add((run, PROV.used, datasets[ident]))
    code = resource_iri(base_iri, name_uuid(f"code:{training.code.name}@{training.code.version}"))
    graph.add((run, MLS.executes, code))
    for cls in (MLS.Implementation, SCHEMA.SoftwareSourceCode):
        graph.add((code, RDF.type, cls))
    graph.add((code, SCHEMA.name, Literal(training.code.name)))
    graph.add((code, SCHEMA.version, Literal(training.code.version)))
    if training.code.repository:
        graph.add((code, SCHEMA.codeRepository, URIRef(training.code.repository)))
    if training.code.commit:
        graph.add((code, FKG.commit, Literal(training.code.commit)))
    for name, value in sorted(training.hyperparameters.items()):
        setting = URIRef(f"{run}#hp-{name}")
        parameter = URIRef(f"{code}#hp-{name}")
        graph.add((run, MLS.hasInput, setting))
        for cls in (MLS.HyperParameterSetting, SCHEMA.PropertyValue):
            graph.add((setting, RDF.type, cls))
        graph.add((setting, MLS.specifiedBy, parameter))
        graph.add((setting, SCHEMA.name, Literal(name)))
        graph.add((setting, MLS.hasValue, _literal(value)))
        graph.add((parameter, RDF.type, MLS.HyperParameter))
        graph.add((parameter, SCHEMA.name, Literal(name)))
    for step in training.preprocessing:
        graph.add((run, FKG.preprocessingStep, Literal(step)))
    for metric in training.epoch_metrics:
        node = URIRef(f"{run}#epoch-{metric.epoch}-{metric.name}")
        graph.add((run, FKG.epochMetric, node))
        graph.add((node, RDF.type, FKG.EpochMetric))
        graph.add((node, FKG.epoch, Literal(metric.epoch, datatype=XSD.integer)))
        graph.add((node, FKG.metricName, Literal(metric.name)))
        graph.add((node, MLS.hasValue, Literal(metric.value, datatype=XSD.double)))
    environment = URIRef(f"{run}#environment")
    graph.add((run, FKG.softwareEnvironment, environment))
    graph.add((environment, RDF.type, FKG.SoftwareEnvironment))
    graph.add((environment, FKG.pythonVersion, Literal(training.python_version)))
    for package in training.software:
        graph.add((environment, FKG.package, _package(graph, package, base_iri)))
    if hardware is not None:
        graph.add((run, FKG.executedOn, hardware))


def _evaluation(graph: Graph, model: URIRef, metric: str, value: float, dataset: URIRef, split: str | None, *,
                base_iri: str, key: str, has_training: bool) -> None:
    node = resource_iri(base_iri, derived_uuid(key, f"evaluation:{metric}:{dataset}:{split}"))
    for cls in (MLS.ModelEvaluation, SCHEMA.PropertyValue):
        graph.add((node, RDF.type, cls))
    measure = resource_iri(base_iri, name_uuid(f"measure:{metric}"))
    graph.add((measure, RDF.type, MLS.EvaluationMeasure))
    graph.add((measure, SCHEMA.name, Literal(metric)))
    graph.add((node, MLS.specifiedBy, measure))
    graph.add((node, SCHEMA.name, Literal(metric)))
    graph.add((node, MLS.hasValue, Literal(value, datatype=XSD.double)))
    graph.add((node, FAIR4ML.evaluationDataset, dataset))
    graph.add((node, PROV.wasDerivedFrom, model))
    if split:
        graph.add((node, FKG["split"], Literal(split)))
    graph.add((model, FAIR4ML.evaluatedOn, dataset))
    if has_training:
        graph.add((resource_iri(base_iri, derived_uuid(key, "training-run")), MLS.hasOutput, node))


def hardware_graph(hardware: Hardware, *, base_iri: str) -> tuple[URIRef, Graph]:
    """The machine's IRI (stable for the same machine) and its description, kept in a named graph of its own."""
    fingerprint = "|".join([hardware.hostname_hash, hardware.cpu_model, str(hardware.cpu_cores),
                            str(hardware.memory_bytes), *(g.name for g in hardware.gpus)])
    node = resource_iri(base_iri, name_uuid(f"machine:{fingerprint}"))
    graph = new_record_graph()
    graph.add((node, RDF.type, FKG.ComputeNode))
    graph.add((node, RDF.type, PROV.Entity))
    graph.add((node, RDFS.label, Literal(f"{hardware.cpu_model}, {hardware.cpu_cores} cores"
                                         + (f", {len(hardware.gpus)} GPU" if hardware.gpus else ""))))
    graph.add((node, FKG.hostnameHash, Literal(hardware.hostname_hash)))
    graph.add((node, FKG.cpuModel, Literal(hardware.cpu_model)))
    graph.add((node, FKG.cpuCores, Literal(hardware.cpu_cores, datatype=XSD.integer)))
    graph.add((node, FKG.memoryBytes, Literal(hardware.memory_bytes, datatype=XSD.integer)))
    graph.add((node, FKG.machineArchitecture, Literal(hardware.architecture)))
    graph.add((node, FKG.operatingSystem, Literal(hardware.operating_system)))
    for index, gpu in enumerate(hardware.gpus):
        gpu_node = URIRef(f"{node}#gpu-{index}")
        graph.add((node, FKG.gpu, gpu_node))
        graph.add((gpu_node, RDF.type, FKG.GPU))
        graph.add((gpu_node, SCHEMA.name, Literal(gpu.name)))
        for attr, prop in (("driver_version", FKG.driverVersion), ("cuda_version", FKG.cudaVersion),
                           ("compute_capability", FKG.computeCapability)):
            if value := getattr(gpu, attr):
                graph.add((gpu_node, prop, Literal(value)))
        if gpu.memory_bytes is not None:
            graph.add((gpu_node, FKG.memoryBytes, Literal(gpu.memory_bytes, datatype=XSD.integer)))
    return node, graph

"""Cards to RDF: the one place that decides which triples describe a model, a dataset, a run or a machine.

Every resource gets ``{base_iri}/id/{uuid}``; parts that have no page of their own (identifier nodes, tensor
specs, checksums) are hash IRIs under their parent, so a record is deterministic and has no blank nodes. The types
that FAIR shapes target are written explicitly (no inference at validation time).

Records are built as N-Triples terms (:mod:`fairkg.kg.ntriples`), not rdflib graphs: a record is only ever written
to the store, and this is what makes registering 10k models a matter of seconds rather than minutes. Free text that
ends up in an IRI (tensor, hyperparameter and metric names) is percent-encoded where IRIs forbid a character.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from fairkg.kg.artifacts import StoredArtifact
from fairkg.kg.cards import FORMATS, DatasetCard, Hardware, ModelCard, Package, ResourceCard, TrainingRun
from fairkg.kg.catalog import catalog_listing
from fairkg.kg.identifiers import derived_uuid, name_uuid, parse_identifier, resource_iri
from fairkg.kg.namespaces import FKG
from fairkg.kg.ntriples import T, Triples, double, fragment, integer, iri, literal, typed, value_literal

DCMITYPE_DATASET = "<http://purl.org/dc/dcmitype/Dataset>"
#: the class of each distribution format (read back by kg.distributions and the pages)
DISTRIBUTION_CLASSES = {
    "torch-export": FKG.TorchExportProgram,
    "safetensors": FKG.SafetensorsWeights,
    "onnx": FKG.OnnxModel,
    "tensorrt": FKG.TensorRTPlan,
}
_DISTRIBUTION_TERMS = {fmt: f"<{cls}>" for fmt, cls in DISTRIBUTION_CLASSES.items()}
RELATIONS = {
    "IsDerivedFrom": T.prov.wasDerivedFrom,
    "IsVersionOf": T.dcterms.isVersionOf,
    "IsNewVersionOf": T.prov.wasRevisionOf,
    "References": T.dcterms.references,
    "IsDocumentedBy": T.dcterms.relation,
    "Requires": T.dcterms.requires,
    "IsSupplementTo": T.dcterms.relation,
    "Cites": T.dcterms.references,
}

#: resources that many records share: each lives in a named graph of its own (named by its IRI), so a triple
#: about it is stored once and union queries never see it twice
SHARED_CLASSES = frozenset((T.schema.Person, T.schema.Organization, T.dcterms.LicenseDocument, T.mls.Software,
                            T.mls.Implementation, T.mls.EvaluationMeasure, T.fkg.ComputeNode))
_TYPE = T.rdf.type
_FAST_PACKAGES = {"torch", "onnxruntime", "numpy", "safetensors"}


@dataclass(frozen=True)
class Record:
    """A record's own named graph (named by ``iri``), and the graphs of the shared resources it links to."""

    iri: str
    graph: Triples
    shared: dict[str, Triples] = field(default_factory=dict)

    def shared_graphs(self) -> dict[str, bytes]:
        """The shared resources' graphs as N-Triples, by graph name (written before the record's own graph, so
        that a record in the store never lacks what it links to)."""
        return {name: triples.ntriples() for name, triples in self.shared.items()}


def split_shared(node: str, graph: Triples) -> Record:
    """Move the triples about shared resources (and their ``#`` parts) out of ``graph`` into graphs of their own.

    ``node`` is the record's IRI as an N-Triples term (``<...>``)."""
    owners = {s for s, p, o in graph if p == _TYPE and o in SHARED_CLASSES}
    owner_of: dict[str, str] = {}  # subject -> the shared resource it belongs to, or "" (the record's own)
    own: list[tuple[str, str, str]] = []
    shared: dict[str, list[tuple[str, str, str]]] = {}
    for triple in graph:
        subject = triple[0]
        owner = owner_of.get(subject)
        if owner is None:
            base = subject.split("#", 1)[0] + ">" if "#" in subject else subject
            owner = owner_of[subject] = base if base in owners and base != node else ""
        if owner:
            shared.setdefault(owner, []).append(triple)
        else:
            own.append(triple)
    return Record(node[1:-1], Triples(own), {name[1:-1]: Triples(triples) for name, triples in shared.items()})


def download_url(base_iri: str, dist_key: str, filename: str) -> str:
    """Where the service serves a distribution's file (checksum verified on the way out)."""
    return f"{base_iri}/artifacts/{dist_key}/{filename}"


def _node(base_iri: str, key: str) -> str:
    return f"<{resource_iri(base_iri, key)}>"


def _part(node: str, name: str) -> str:
    """The hash IRI ``node#name`` (``node`` an N-Triples IRI term)."""
    return f"{node[:-1]}#{name}>"


def _resource(g: Triples, node: str, card: ResourceCard, doi: str, base_iri: str) -> None:
    """The DataCite block shared by models and datasets."""
    g.add(node, _TYPE, T.prov.Entity)
    g.add(node, T.dcterms.identifier, literal(doi))
    _identifier(g, node, "doi", doi, primary=True)
    for alt in card.alternate_identifiers:
        ident = parse_identifier(alt)
        _identifier(g, node, ident.scheme, ident.value, primary=False)
    g.add(node, T.dcterms.title, literal(card.title))
    g.add(node, T.dcterms.description, literal(card.description))
    for position, creator in enumerate(card.creators, start=1):
        person = (T.orcid[creator.orcid] if creator.orcid
                  else _node(base_iri, name_uuid(f"person:{creator.name}")))
        g.add(node, T.dcterms.creator, person)
        # dcterms:creator is unordered; the qualified attribution keeps the card's author order for citations
        attribution = _part(node, f"creator-{position}")
        g.add(node, T.prov.qualifiedAttribution, attribution)
        g.add(attribution, _TYPE, T.prov.Attribution)
        g.add(attribution, T.prov.agent, person)
        g.add(attribution, T.schema.position, integer(position))
        g.add(person, _TYPE, T.schema.Person)
        g.add(person, _TYPE, T.prov.Agent)
        g.add(person, T.schema.name, literal(creator.name))
        if creator.affiliation:
            g.add(person, T.schema.affiliation, literal(creator.affiliation))
        if creator.orcid:
            ident = _part(person, "orcid")
            g.add(person, T.datacite.hasIdentifier, ident)
            g.add(ident, _TYPE, T.datacite.PersonalIdentifier)
            g.add(ident, T.literal.hasLiteralValue, literal(creator.orcid))
            g.add(ident, T.datacite.usesIdentifierScheme, T.datacite.orcid)
    publisher = _node(base_iri, name_uuid(f"organization:{card.publisher}"))
    g.add(node, T.dcterms.publisher, publisher)
    g.add(publisher, _TYPE, T.schema.Organization)
    g.add(publisher, _TYPE, T.prov.Agent)
    g.add(publisher, T.schema.name, literal(card.publisher))
    g.add(node, T.dcterms.issued, typed(str(card.publication_year), T.xsd.gYear))
    g.add(node, T.dcat.version, literal(card.version))
    if card.license:
        licence = T.spdx_licenses[card.license]
        g.add(node, T.dcterms.license, licence)
        g.add(licence, _TYPE, T.dcterms.LicenseDocument)
        g.add(licence, T.rdfs.label, literal(card.license))
    for keyword in card.keywords:
        g.add(node, T.dcat.keyword, literal(keyword))
    g.add(node, T.dcterms.accessRights,
          T.fkg.RestrictedAccess if card.access == "restricted" else T.fkg.PublicAccess)
    for rel in card.related:
        target = parse_identifier(rel.identifier)
        g.add(node, RELATIONS[rel.relation], iri(target.url or target.value))


def _identifier(g: Triples, node: str, scheme: str, value: str, *, primary: bool) -> None:
    ident = _part(node, f"{scheme}-identifier" if primary else f"{scheme}-{name_uuid(value)[:8]}")
    g.add(node, T.datacite.hasIdentifier, ident)
    kind = T.datacite.PrimaryResourceIdentifier if primary else T.datacite.AlternateResourceIdentifier
    g.add(ident, _TYPE, kind)
    g.add(ident, T.literal.hasLiteralValue, literal(value))
    g.add(ident, T.datacite.usesIdentifierScheme,
          T.datacite.doi if primary else f"<{parse_identifier(value).scheme_iri}>")


def _file(g: Triples, node: str, stored: StoredArtifact, *, name: str, media_type: str, base_iri: str,
          key: str) -> None:
    """Name, size, checksum, location and download URL of a stored file."""
    g.add(node, T.schema.name, literal(name))
    g.add(node, T.dcat.byteSize, typed(str(stored.byte_size), T.xsd.nonNegativeInteger))
    g.add(node, T.dcat.mediaType, iri(f"https://www.iana.org/assignments/media-types/{media_type}"))
    g.add(node, T.schema.encodingFormat, literal(media_type))
    checksum = _part(node, "sha256")
    g.add(node, T.spdx.checksum, checksum)
    g.add(checksum, _TYPE, T.spdx.Checksum)
    g.add(checksum, T.spdx.algorithm, T.spdx.checksumAlgorithm_sha256)
    g.add(checksum, T.spdx.checksumValue, typed(stored.sha256, T.xsd.hexBinary))
    g.add(node, T.fkg.location, literal(stored.location))
    g.add(node, T.dcat.downloadURL, iri(download_url(base_iri, key, fragment(name.rsplit("/", 1)[-1]))))


def dataset_graph(card: DatasetCard, *, base_iri: str, key: str, doi: str, files: Mapping[str, StoredArtifact],
                  content_hash: str, registered_at: datetime) -> Record:
    """The record of a registered dataset."""
    g = Triples()
    node = _node(base_iri, key)
    for cls in (T.mls.Dataset, T.schema.Dataset, T.dcat.Dataset):
        g.add(node, _TYPE, cls)
    g.add(node, T.datacite.hasGeneralResourceType, DCMITYPE_DATASET)
    _resource(g, node, card, doi, base_iri)
    if card.provenance:
        statement = _part(node, "provenance")
        g.add(node, T.dcterms.provenance, statement)
        g.add(statement, _TYPE, T.dcterms.ProvenanceStatement)
        g.add(statement, T.rdfs.label, literal(card.provenance))
    if card.record_count is not None:
        g.add(node, T.fkg.recordCount, integer(card.record_count))
    if card.features:
        g.add(node, T.schema.variableMeasured, literal(card.features))
    for data_file in card.files:
        file_key = derived_uuid(key, f"file:{data_file.path}")
        dist = _node(base_iri, file_key)
        g.add(node, T.dcat.distribution, dist)
        g.add(dist, _TYPE, T.dcat.Distribution)
        g.add(dist, _TYPE, T.fkg.DataFile)
        _file(g, dist, files[data_file.path], name=data_file.path, media_type=data_file.media_type,
              base_iri=base_iri, key=file_key)
        if data_file.description:
            g.add(dist, T.dcterms.description, literal(data_file.description))
        for split in data_file.splits:
            g.add(dist, T.fkg["split"], literal(split))
    _registration(g, node, content_hash, registered_at, base_iri=base_iri, kind="dataset")
    return split_shared(node, g)


def _registration(g: Triples, node: str, content_hash: str, registered_at: datetime, *, base_iri: str,
                  kind: str) -> None:
    """The content hash, the submission date, and the listing in the catalogue."""
    g.add(node, T.fkg.contentHash, literal(content_hash))
    g.add(node, T.dcterms.dateSubmitted, typed(registered_at.isoformat(), T.xsd.dateTime))
    catalog_listing(g, node, base_iri=base_iri, kind=kind, registered=registered_at.isoformat())


def model_graph(card: ModelCard, *, base_iri: str, key: str, doi: str, files: Mapping[str, StoredArtifact],
                datasets: Mapping[str, str], hardware: str | None, content_hash: str,
                registered_at: datetime, previous_version: str | None = None) -> Record:
    """The record of a registered model: its description, distributions, tensors, reference example,
    training run with hyperparameters, software and hardware, and evaluations.

    ``datasets`` maps each dataset identifier the card names to the registered dataset's IRI; ``hardware`` and
    ``previous_version`` are IRIs too.
    """
    g = Triples()
    node = _node(base_iri, key)
    for cls in (T.mls.Model, T.fair4ml.MLModel, T.dcat.Resource):
        g.add(node, _TYPE, cls)
    g.add(node, T.datacite.hasGeneralResourceType, T.fabio.Model)
    g.add(node, T.schema.additionalType, literal("Trained machine-learning model"))
    _resource(g, node, card, doi, base_iri)
    if card.task:
        g.add(node, T.fair4ml.mlTask, literal(card.task))
    if card.framework:
        g.add(node, T.schema.runtimePlatform, literal(card.framework))
    for attr, prop in (("usage", T.fair4ml.usageInstructions), ("intended_use", T.fair4ml.intendedUse),
                       ("limitations", T.fair4ml.modelRisksBiasLimitations)):
        if value := getattr(card, attr):
            g.add(node, prop, literal(value))
    for prop, role, specs in ((T.fkg.inputSpec, "input", card.inputs), (T.fkg.outputSpec, "output", card.outputs)):
        for position, spec in enumerate(specs):
            tensor = _part(node, f"{role}-{fragment(spec.name)}")
            g.add(node, prop, tensor)
            g.add(tensor, _TYPE, T.fkg.TensorSpec)
            g.add(tensor, T.schema.name, literal(spec.name))
            g.add(tensor, T.fkg.dtype, literal(spec.dtype))
            g.add(tensor, T.fkg.shape, literal(",".join(str(d) for d in spec.shape)))
            g.add(tensor, T.fkg.position, integer(position))
            g.add(tensor, T.dcterms.description, literal(spec.description))
            if spec.semantics:
                g.add(tensor, T.fkg.semantics, literal(spec.semantics))
    for dist_card in card.distributions:
        distribution(g, node, derived_uuid(key, f"distribution:{dist_card.format}:{dist_card.path}"),
                     dist_card.format, files[dist_card.path], name=dist_card.path, base_iri=base_iri,
                     architecture=dist_card.architecture, runtime_version=dist_card.runtime_version,
                     built_for=dist_card.built_for)
    if card.reference:
        reference_key = derived_uuid(key, "reference")
        reference = _node(base_iri, reference_key)
        g.add(node, T.fkg.referenceExample, reference)
        g.add(reference, _TYPE, T.fkg.ReferenceExample)
        g.add(reference, T.fkg.tolerance, double(card.reference.tolerance))
        _file(g, reference, files[card.reference.path], name=card.reference.path,
              media_type="application/x-safetensors", base_iri=base_iri, key=reference_key)
    dataset_terms = {ident: f"<{dataset}>" for ident, dataset in datasets.items()}
    for ident in card.training_datasets:
        g.add(node, T.fair4ml.trainedOn, dataset_terms[ident])
    run = _node(base_iri, derived_uuid(key, "training-run")) if card.training else None
    if card.training and run:
        _training_run(g, node, run, card.title, card.training, base_iri=base_iri, datasets=dataset_terms,
                      hardware=hardware)
    for evaluation in card.evaluations:
        _evaluation(g, node, evaluation.metric, evaluation.value, datasets[evaluation.dataset], evaluation.split,
                    base_iri=base_iri, key=key, run=run)
    for package in card.training.software if card.training else []:
        if package.name in _FAST_PACKAGES:
            g.add(node, T.dcterms.requires, _package(g, package, base_iri))
    if previous_version is not None:
        g.add(node, T.prov.wasRevisionOf, f"<{previous_version}>")
        g.add(node, T.dcterms.isVersionOf, f"<{previous_version}>")
    _registration(g, node, content_hash, registered_at, base_iri=base_iri, kind="model")
    return split_shared(node, g)


def distribution(g: Triples, model: str, key: str, format: str, stored: StoredArtifact, *, name: str, base_iri: str,
                 architecture: str | None = None, runtime_version: str | None = None,
                 built_for: str | None = None) -> str:
    """Add to ``g`` the distribution ``{base_iri}/id/{key}`` of ``model`` (an IRI term) in ``format``; returns
    its IRI term."""
    dist = _node(base_iri, key)
    media_type, spec_iri = FORMATS[format]
    g.add(model, T.dcat.distribution, dist)
    for cls in (T.dcat.Distribution, T.fkg.ModelDistribution, _DISTRIBUTION_TERMS[format]):
        g.add(dist, _TYPE, cls)
    g.add(dist, T.dcterms.conformsTo, iri(spec_iri))
    _file(g, dist, stored, name=name, media_type=media_type, base_iri=base_iri, key=key)
    for value, prop in ((architecture, T.fkg.architecture), (runtime_version, T.fkg.runtimeVersion),
                        (built_for, T.fkg.builtForGpu)):
        if value:
            g.add(dist, prop, literal(value))
    return dist


def _package(g: Triples, package: Package, base_iri: str) -> str:
    node = _node(base_iri, name_uuid(f"package:{package.name}=={package.version}"))
    g.add(node, _TYPE, T.mls.Software)
    g.add(node, _TYPE, T.schema.SoftwareApplication)
    g.add(node, T.schema.name, literal(package.name))
    g.add(node, T.schema.softwareVersion, literal(package.version))
    return node


def _training_run(g: Triples, model: str, run: str, title: str, training: TrainingRun, *, base_iri: str,
                  datasets: Mapping[str, str], hardware: str | None) -> None:
    for cls in (T.fkg.TrainingRun, T.mls.Run, T.prov.Activity):
        g.add(run, _TYPE, cls)
    g.add(run, T.rdfs.label, literal(f"Training run of {title}"))
    g.add(model, T.prov.wasGeneratedBy, run)
    g.add(run, T.mls.hasOutput, model)
    g.add(run, T.prov.startedAtTime, typed(training.started.isoformat(), T.xsd.dateTime))
    g.add(run, T.prov.endedAtTime, typed(training.ended.isoformat(), T.xsd.dateTime))
    for ident in training.datasets:
        g.add(run, T.mls.hasInput, datasets[ident])
        g.add(run, T.prov.used, datasets[ident])
    code = _node(base_iri, name_uuid(f"code:{training.code.name}@{training.code.version}"))
    g.add(run, T.mls.executes, code)
    for cls in (T.mls.Implementation, T.schema.SoftwareSourceCode):
        g.add(code, _TYPE, cls)
    g.add(code, T.schema.name, literal(training.code.name))
    g.add(code, T.schema.version, literal(training.code.version))
    if training.code.repository:
        g.add(code, T.schema.codeRepository, iri(training.code.repository))
    if training.code.commit:
        g.add(code, T.fkg.commit, literal(training.code.commit))
    for name, value in sorted(training.hyperparameters.items()):
        setting = _part(run, f"hp-{fragment(name)}")
        parameter = _part(code, f"hp-{fragment(name)}")
        g.add(run, T.mls.hasInput, setting)
        for cls in (T.mls.HyperParameterSetting, T.schema.PropertyValue):
            g.add(setting, _TYPE, cls)
        g.add(setting, T.mls.specifiedBy, parameter)
        g.add(setting, T.schema.name, literal(name))
        g.add(setting, T.mls.hasValue, value_literal(value))
        g.add(parameter, _TYPE, T.mls.HyperParameter)
        g.add(parameter, T.schema.name, literal(name))
    for step in training.preprocessing:
        g.add(run, T.fkg.preprocessingStep, literal(step))
    for metric in training.epoch_metrics:
        point = _part(run, f"epoch-{metric.epoch}-{fragment(metric.name)}")
        g.add(run, T.fkg.epochMetric, point)
        g.add(point, _TYPE, T.fkg.EpochMetric)
        g.add(point, T.fkg.epoch, integer(metric.epoch))
        g.add(point, T.fkg.metricName, literal(metric.name))
        g.add(point, T.mls.hasValue, double(metric.value))
    environment = _part(run, "environment")
    g.add(run, T.fkg.softwareEnvironment, environment)
    g.add(environment, _TYPE, T.fkg.SoftwareEnvironment)
    g.add(environment, T.fkg.pythonVersion, literal(training.python_version))
    for package in training.software:
        g.add(environment, T.fkg.package, _package(g, package, base_iri))
    if hardware is not None:
        g.add(run, T.fkg.executedOn, f"<{hardware}>")


def _evaluation(g: Triples, model: str, metric: str, value: float, dataset: str, split: str | None, *,
                base_iri: str, key: str, run: str | None) -> None:
    node = _node(base_iri, derived_uuid(key, f"evaluation:{metric}:{dataset}:{split}"))
    for cls in (T.mls.ModelEvaluation, T.schema.PropertyValue):
        g.add(node, _TYPE, cls)
    measure = _node(base_iri, name_uuid(f"measure:{metric}"))
    g.add(measure, _TYPE, T.mls.EvaluationMeasure)
    g.add(measure, T.schema.name, literal(metric))
    g.add(node, T.mls.specifiedBy, measure)
    g.add(node, T.schema.name, literal(metric))
    g.add(node, T.mls.hasValue, double(value))
    g.add(node, T.fair4ml.evaluationDataset, f"<{dataset}>")
    g.add(node, T.prov.wasDerivedFrom, model)
    if split:
        g.add(node, T.fkg["split"], literal(split))
    g.add(model, T.fair4ml.evaluatedOn, f"<{dataset}>")
    if run is not None:
        g.add(run, T.mls.hasOutput, node)


def hardware_graph(hardware: Hardware, *, base_iri: str) -> tuple[str, Triples]:
    """The machine's IRI (stable for the same machine) and its description, kept in a named graph of its own."""
    fingerprint = "|".join([hardware.hostname_hash, hardware.cpu_model, str(hardware.cpu_cores),
                            str(hardware.memory_bytes), *(gpu.name for gpu in hardware.gpus)])
    node = _node(base_iri, name_uuid(f"machine:{fingerprint}"))
    g = Triples()
    g.add(node, _TYPE, T.fkg.ComputeNode)
    g.add(node, _TYPE, T.prov.Entity)
    g.add(node, T.rdfs.label, literal(f"{hardware.cpu_model}, {hardware.cpu_cores} cores"
                                      + (f", {len(hardware.gpus)} GPU" if hardware.gpus else "")))
    g.add(node, T.fkg.hostnameHash, literal(hardware.hostname_hash))
    g.add(node, T.fkg.cpuModel, literal(hardware.cpu_model))
    g.add(node, T.fkg.cpuCores, integer(hardware.cpu_cores))
    g.add(node, T.fkg.memoryBytes, integer(hardware.memory_bytes))
    g.add(node, T.fkg.machineArchitecture, literal(hardware.architecture))
    g.add(node, T.fkg.operatingSystem, literal(hardware.operating_system))
    for index, gpu in enumerate(hardware.gpus):
        gpu_node = _part(node, f"gpu-{index}")
        g.add(node, T.fkg.gpu, gpu_node)
        g.add(gpu_node, _TYPE, T.fkg.GPU)
        g.add(gpu_node, T.schema.name, literal(gpu.name))
        for attr, prop in (("driver_version", T.fkg.driverVersion), ("cuda_version", T.fkg.cudaVersion),
                           ("compute_capability", T.fkg.computeCapability)):
            if value := getattr(gpu, attr):
                g.add(gpu_node, prop, literal(value))
        if gpu.memory_bytes is not None:
            g.add(gpu_node, T.fkg.memoryBytes, integer(gpu.memory_bytes))
    return node[1:-1], g

"""One registered record (a model or a dataset) read back from the graph, the input of every export.

The triples are the ones :mod:`fairkg.kg.records` writes; this module is their one reader for the exports, so a
change of vocabulary there is mirrored in one place here. The record is read from its named graph and the graphs of
the shared resources it names (creators, publisher, licence), plus one query for the titles and DOIs of the other
records it links to (training datasets, the previous version).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

from rdflib import Graph, Literal, URIRef

from fairkg.kg.errors import FairkgError, NotFoundError
from fairkg.kg.identifiers import key_of
from fairkg.kg.namespaces import (
    DATACITE,
    DCAT,
    DCT,
    FAIR4ML,
    FKG,
    LITERAL,
    MLS,
    ORCID,
    PROV,
    RDF,
    RDFS,
    SCHEMA,
    SPARQL_PREFIXES,
    SPDX,
)
from fairkg.kg.store.base import Store

Kind = TypingLiteral["model", "dataset"]

#: The inverse of :data:`fairkg.kg.records.RELATIONS`, where it can be inverted: ``dcterms:relation`` stands for
#: both IsDocumentedBy and IsSupplementTo there, so it reads back as the weakest claim, References.
RELATION_OF: dict[URIRef, str] = {
    PROV.wasDerivedFrom: "IsDerivedFrom",
    DCT.isVersionOf: "IsVersionOf",
    PROV.wasRevisionOf: "IsNewVersionOf",
    DCT.references: "References",
    DCT.relation: "References",
    DCT.requires: "Requires",
}


class ExportError(FairkgError):
    """A resource cannot be exported in the format asked for (not a registered model or dataset, or a record
    that does not make a valid document)."""


@dataclass(frozen=True)
class Person:
    """A creator: display name, ORCID iD (bare, e.g. ``0000-0002-1825-0097``) and affiliation."""

    name: str
    orcid: str | None = None
    affiliation: str | None = None

    @property
    def orcid_url(self) -> str | None:
        """The ORCID iD as its URL (the form DataCite, CFF and schema.org want)."""
        return f"https://orcid.org/{self.orcid}" if self.orcid else None


@dataclass(frozen=True)
class Artifact:
    """A stored file of the record: a distribution, a data file or the reference example.

    ``role`` is ``distribution`` (a model serialisation or a dataset file) or ``reference``; ``location`` is
    relative to ``$FAIRKG_HOME``; ``download_url`` is absolute under the base IRI.
    """

    iri: str
    name: str
    media_type: str
    byte_size: int
    sha256: str
    location: str
    download_url: str
    role: str = "distribution"
    conforms_to: str | None = None
    runtime_version: str | None = None


@dataclass(frozen=True)
class Related:
    """A resource the record points to: DataCite ``relationType``, and the identifier with its DataCite type
    (DOI, ARK, URL); ``title`` when the resource is registered here."""

    relation: str
    identifier: str
    identifier_type: str
    resource_type: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Record:
    """What the exports need to know of one registered model or dataset."""

    iri: str
    key: str
    kind: Kind
    doi: str | None
    title: str
    description: str
    creators: list[Person]
    publisher: str | None
    year: str | None
    version: str | None
    license_id: str | None
    license_iri: str | None
    keywords: list[str]
    restricted: bool
    submitted: str | None
    withdrawn: bool
    withdrawal_reason: str | None
    withdrawn_at: str | None
    alternate_identifiers: list[tuple[str, str]]  # (scheme, value), e.g. ("ark", "ark:/99999/fk4…")
    artifacts: list[Artifact]
    related: list[Related]
    task: str | None = None
    framework: str | None = None

    @property
    def doi_url(self) -> str | None:
        """The DOI as its resolver URL (the form to cite)."""
        return f"https://doi.org/{self.doi}" if self.doi else None


def record_kind(graph: Graph, iri: URIRef) -> Kind | None:
    """``model`` or ``dataset`` when ``graph`` types ``iri`` so, else None."""
    if (iri, RDF.type, MLS.Model) in graph:
        return "model"
    if (iri, RDF.type, MLS.Dataset) in graph:
        return "dataset"
    return None


def read_record(store: Store, iri: URIRef | str) -> Record:
    """The registered model or dataset ``iri``, read from its named graph.

    Raises:
        NotFoundError: ``iri`` is no registered model or dataset (it has no record graph of its own).
    """
    node = URIRef(str(iri))
    graph = store.get_graph(str(node))
    kind = record_kind(graph, node)
    if kind is None:
        raise NotFoundError(f"{node} is not a registered model or dataset: only those have a record to export")
    # Creators, publisher and licence are shared by many records, each described once in a graph named by its IRI
    # (fairkg.kg.records.SHARED_CLASSES); only those this record names are read, never the list of all graphs.
    for prop in (DCT.creator, DCT.publisher, DCT.license):
        for shared in set(graph.objects(node, prop)):
            if isinstance(shared, URIRef):
                graph += store.get_graph(str(shared))

    def text(prop: URIRef, subject: URIRef = node) -> str | None:
        value = graph.value(subject, prop)
        return str(value) if value is not None else None

    licence = graph.value(node, DCT.license)
    withdrawn = graph.value(node, FKG.withdrawn)
    return Record(
        iri=str(node), key=key_of(node), kind=kind, doi=text(DCT.identifier),
        title=text(DCT.title) or str(node), description=text(DCT.description) or "",
        creators=_creators(graph, node), publisher=_name(graph, graph.value(node, DCT.publisher)),
        year=text(DCT.issued), version=text(DCAT.version),
        license_id=(text(RDFS.label, licence) or str(licence).rsplit("/", 1)[-1]) if isinstance(licence, URIRef)
        else None,
        license_iri=str(licence) if isinstance(licence, URIRef) else None,
        # The record keeps keywords as a set; sorted, every export of the same record is the same bytes.
        keywords=sorted(str(k) for k in graph.objects(node, DCAT.keyword)),
        restricted=graph.value(node, DCT.accessRights) == FKG.RestrictedAccess,
        submitted=text(DCT.dateSubmitted),
        withdrawn=isinstance(withdrawn, Literal) and withdrawn.toPython() is True,
        withdrawal_reason=text(FKG.withdrawalReason), withdrawn_at=text(PROV.invalidatedAtTime),
        alternate_identifiers=_alternates(graph, node), artifacts=_artifacts(graph, node),
        related=_related(store, graph, node), task=text(FAIR4ML.mlTask), framework=text(SCHEMA.runtimePlatform),
    )


def _name(graph: Graph, node: object) -> str | None:
    value = graph.value(node, SCHEMA.name) if isinstance(node, URIRef) else None  # type: ignore[arg-type]
    return str(value) if value is not None else None


def _creators(graph: Graph, node: URIRef) -> list[Person]:
    """The creators in the card's order (kept by their qualified attributions' schema:position)."""
    order: dict[object, int] = {}
    for attribution in graph.objects(node, PROV.qualifiedAttribution):
        position = graph.value(attribution, SCHEMA.position)
        agent = graph.value(attribution, PROV.agent)
        if agent is not None and position is not None:
            order[agent] = int(position)
    people = []
    for person in graph.objects(node, DCT.creator):
        orcid = str(person)[len(str(ORCID)):] if str(person).startswith(str(ORCID)) else None
        affiliation = graph.value(person, SCHEMA.affiliation)
        who = Person(_name(graph, person) or str(person), orcid, str(affiliation) if affiliation is not None else None)
        people.append((order.get(person, len(order) + 1), who))
    return [p for _, p in sorted(people, key=lambda item: (item[0], item[1].name, item[1].orcid or ""))]


def _alternates(graph: Graph, node: URIRef) -> list[tuple[str, str]]:
    found = []
    for ident in graph.objects(node, DATACITE.hasIdentifier):
        if (ident, RDF.type, DATACITE.AlternateResourceIdentifier) not in graph:
            continue
        scheme = str(graph.value(ident, DATACITE.usesIdentifierScheme) or "").rstrip("/")
        value = graph.value(ident, LITERAL.hasLiteralValue)
        if value is not None:
            found.append((scheme.rsplit("/", 1)[-1].rsplit("#", 1)[-1], str(value)))
    return sorted(found)


def _artifact(graph: Graph, node: URIRef, role: str) -> Artifact | None:
    location = graph.value(node, FKG.location)
    checksum = graph.value(graph.value(node, SPDX.checksum), SPDX.checksumValue)
    if location is None or checksum is None:
        return None
    conforms = graph.value(node, DCT.conformsTo)
    runtime = graph.value(node, FKG.runtimeVersion)
    return Artifact(
        iri=str(node), name=str(graph.value(node, SCHEMA.name) or str(location).rsplit("/", 1)[-1]),
        media_type=str(graph.value(node, SCHEMA.encodingFormat) or "application/octet-stream"),
        byte_size=int(graph.value(node, DCAT.byteSize) or 0), sha256=str(checksum), location=str(location),
        download_url=str(graph.value(node, DCAT.downloadURL) or ""), role=role,
        conforms_to=str(conforms) if conforms is not None else None,
        runtime_version=str(runtime) if runtime is not None else None,
    )


def _artifacts(graph: Graph, node: URIRef) -> list[Artifact]:
    found = [_artifact(graph, d, "distribution") for d in graph.objects(node, DCAT.distribution)
             if isinstance(d, URIRef)]
    found += [_artifact(graph, r, "reference") for r in graph.objects(node, FKG.referenceExample)
              if isinstance(r, URIRef)]
    return sorted((a for a in found if a is not None), key=lambda a: (a.role != "distribution", a.name))


_LINKED = SPARQL_PREFIXES + """
SELECT ?r ?doi ?title ?dataset WHERE {
  VALUES ?r { %s }
  OPTIONAL { ?r dcterms:identifier ?doi } OPTIONAL { ?r dcterms:title ?title }
  BIND(EXISTS { ?r a mls:Dataset } AS ?dataset)
}"""


def _related(store: Store, graph: Graph, node: URIRef) -> list[Related]:
    """Training datasets (IsDerivedFrom), the previous version (IsNewVersionOf) and the card's related works."""
    links: list[tuple[str, URIRef]] = [("IsDerivedFrom", d) for d in graph.objects(node, FAIR4ML.trainedOn)
                                       if isinstance(d, URIRef)]
    previous = graph.value(node, PROV.wasRevisionOf)
    for prop, relation in RELATION_OF.items():
        for target in graph.objects(node, prop):
            # The previous version is written both as prov:wasRevisionOf and dcterms:isVersionOf; say it once.
            if isinstance(target, URIRef) and not (target == previous and prop == DCT.isVersionOf):
                links.append((relation, target))
    base = str(node).rsplit("/id/", 1)[0] + "/id/"
    local = sorted({t for _, t in links})
    known: dict[URIRef, dict[str, object]] = {}
    if local:
        rows = store.query(_LINKED % " ".join(t.n3() for t in local)).bindings()
        known = {URIRef(str(row["r"])): row for row in rows}
    found: dict[tuple[str, str], Related] = {}
    for relation, target in links:
        row = known.get(target, {})
        doi = row.get("doi")
        title = str(row["title"]) if "title" in row else None
        is_dataset = isinstance(row.get("dataset"), Literal) and row["dataset"].toPython() is True  # type: ignore
        resource_type = "Dataset" if is_dataset else None
        if doi is not None:
            ident, ident_type = str(doi), "DOI"
        elif str(target).startswith("https://doi.org/"):
            ident, ident_type = str(target)[len("https://doi.org/"):], "DOI"
        elif str(target).startswith("https://n2t.net/ark:"):
            ident, ident_type = str(target)[len("https://n2t.net/"):], "ARK"
        elif str(target).startswith(("http://", "https://")) and not str(target).startswith(base):
            ident, ident_type = str(target), "URL"
        else:
            # A part of this registry with no persistent identifier (a software package node): nothing a reader
            # outside could follow.
            continue
        found.setdefault((relation, ident), Related(relation, ident, ident_type, resource_type, title))
    return sorted(found.values(), key=lambda r: (r.relation, r.identifier))


__all__ = ["Artifact", "ExportError", "Kind", "Person", "RELATION_OF", "Record", "Related", "read_record",
           "record_kind"]

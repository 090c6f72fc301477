"""schema.org JSON-LD for a resource: what search engines and generic harvesters read (FAIR F4).

The same document is answered for ``application/vnd.schemaorg.ld+json`` (as DOI content negotiation names it) and
embedded in the resource's HTML page in ``<script type="application/ld+json">``. It follows the schema.org
vocabulary (https://schema.org/) and Google's Dataset guidance for the distribution: a ``DataDownload`` per file
with ``contentUrl``, ``encodingFormat``, ``contentSize`` and ``sha256``.
"""

from __future__ import annotations

from typing import Any

from rdflib import URIRef

from fairkg.kg.errors import NotFoundError
from fairkg.kg.exports.record import Record, read_record
from fairkg.kg.namespaces import DCT, RDFS, SCHEMA
from fairkg.kg.store.base import Store

SCHEMA_ORG_JSONLD = "application/vnd.schemaorg.ld+json"
#: The context is the bare schema.org IRI, as schema.org's own examples and DataCite's JSON-LD write it.
# Inline, so a harvester (or rdflib offline) reads the document without fetching schema.org's remote context;
# the properties whose values are links are coerced to IRIs, as schema.org's own context does.
CONTEXT: dict[str, Any] = {
    "@vocab": "http://schema.org/",
    "schema": "http://schema.org/",
    **{name: {"@type": "@id"} for name in ("url", "license", "sameAs", "contentUrl", "codeRepository",
                                            "includedInDataCatalog", "isBasedOn")},
}


def schema_org(store: Store, iri: URIRef | str) -> dict[str, Any]:
    """The schema.org JSON-LD of ``iri``: a SoftwareApplication for a model, a Dataset for a dataset, and a bare
    Thing with its name for any other resource (a distribution, a run, a person)."""
    try:
        record = read_record(store, iri)
    except NotFoundError:
        return _thing(store, URIRef(str(iri)))
    return schema_org_document(record)


def schema_org_document(record: Record) -> dict[str, Any]:
    """The schema.org JSON-LD of a registered model or dataset."""
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "SoftwareApplication" if record.kind == "model" else "Dataset",
        "@id": record.iri,
        "url": record.iri,
        "name": record.title,
        "description": record.description,
    }
    if record.kind == "model":
        doc["additionalType"] = "Trained machine-learning model"
        doc["applicationCategory"] = "Machine learning model"
    identifiers = []
    if record.doi:
        identifiers.append({"@type": "PropertyValue", "propertyID": "DOI", "value": record.doi,
                            "url": record.doi_url})
        doc["sameAs"] = record.doi_url
    identifiers += [{"@type": "PropertyValue", "propertyID": scheme.upper() if scheme == "ark" else scheme,
                     "value": value} for scheme, value in record.alternate_identifiers]
    if identifiers:
        doc["identifier"] = identifiers if len(identifiers) > 1 else identifiers[0]
    doc["author"] = [_person(p.name, p.orcid_url, p.affiliation) for p in record.creators]
    if record.publisher:
        doc["publisher"] = {"@type": "Organization", "name": record.publisher}
    if record.license_iri:
        doc["license"] = record.license_iri
    if record.keywords:
        doc["keywords"] = record.keywords
    if record.version:
        doc["version"] = record.version
        if record.kind == "model":
            doc["softwareVersion"] = record.version
    if record.year:
        doc["datePublished"] = record.year
    if record.task:
        doc["featureList"] = record.task
    if record.framework:
        doc["runtimePlatform"] = record.framework
    if record.restricted:
        doc["conditionsOfAccess"] = "Metadata is public; artifacts and inference need a token."
        doc["isAccessibleForFree"] = False
    based_on = [{"@id": f"https://doi.org/{r.identifier}" if r.identifier_type == "DOI" else r.identifier,
                 **({"name": r.title} if r.title else {})}
                for r in record.related if r.relation == "IsDerivedFrom"]
    if based_on:
        doc["isBasedOn"] = based_on
    if record.withdrawn:
        # schema.org's creativeWorkStatus takes free text; "Withdrawn" is the state's usual name.
        doc["creativeWorkStatus"] = "Withdrawn"
        if record.withdrawn_at:
            doc["expires"] = record.withdrawn_at
    else:
        doc["distribution"] = [
            {"@type": "DataDownload", "@id": a.iri, "name": a.name, "contentUrl": a.download_url,
             "encodingFormat": a.media_type, "contentSize": f"{a.byte_size} B", "sha256": a.sha256}
            for a in record.artifacts
        ]
    return doc


def _person(name: str, orcid_url: str | None, affiliation: str | None) -> dict[str, Any]:
    person: dict[str, Any] = {"@type": "Person", "name": name}
    if orcid_url:
        person["@id"] = orcid_url
    if affiliation:
        person["affiliation"] = {"@type": "Organization", "name": affiliation}
    return person


def _thing(store: Store, iri: URIRef) -> dict[str, Any]:
    graph = store.describe(str(iri))
    name = next((str(graph.value(iri, p)) for p in (DCT.title, SCHEMA.name, RDFS.label)
                 if graph.value(iri, p) is not None), None)
    doc: dict[str, Any] = {"@context": CONTEXT, "@type": "Thing", "@id": str(iri), "url": str(iri)}
    if name:
        doc["name"] = name
    return doc


__all__ = ["CONTEXT", "SCHEMA_ORG_JSONLD", "schema_org", "schema_org_document"]

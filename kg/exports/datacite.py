"""DataCite metadata for a registered model or dataset, as DataCite JSON and DataCite XML.

Implements the DataCite Metadata Schema 4.5 (https://schema.datacite.org/meta/kernel-4.5/), through the
``datacite`` package: its JSON Schema validates the document, and its ``schema45`` writer makes the XML from the
same document, so the two forms never disagree. The JSON is what DataCite's REST API and DOI content negotiation
answer for ``application/vnd.datacite.datacite+json``; the XML, ``application/vnd.datacite.datacite+xml``.

Choices where the schema leaves room:

* resourceTypeGeneral ``Model`` for models (added in 4.4, so 4.5 has it; it matches ``fabio:Model`` in the
  record), with resourceType "Trained machine-learning model"; ``Dataset`` for datasets.
* training datasets are ``IsDerivedFrom``: the trained parameters are computed from the data, which is DataCite's
  "B is a source upon which A is based". ``IsCompiledBy`` would name the training *code* (what created A), and
  ``References`` says too little.
* a withdrawn record keeps its metadata (FAIR A2) and says so with a ``Withdrawn`` date and an ``Other``
  description giving the reason.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any

from rdflib import URIRef

from fairkg.kg.exports.record import ExportError, Record, read_record
from fairkg.kg.store.base import Store

SCHEMA_VERSION = "http://datacite.org/schema/kernel-4"
DATACITE_JSON = "application/vnd.datacite.datacite+json"
DATACITE_XML = "application/vnd.datacite.datacite+xml"
#: COAR / OpenAIRE access-rights URIs, the usual way to state access in a DataCite rightsList.
ACCESS_RIGHTS = {
    False: ("Open access: metadata and artifacts are public", "info:eu-repo/semantics/openAccess"),
    True: ("Restricted access: metadata is public, artifacts and inference need a token",
           "info:eu-repo/semantics/restrictedAccess"),
}
#: DataCite's standard value for a mandatory property whose value is unknown.
UNAVAILABLE = "(:unav)"


def datacite_json(store: Store, iri: URIRef | str) -> dict[str, Any]:
    """The DataCite 4.5 JSON of the registered model or dataset ``iri``, validated.

    Raises:
        NotFoundError: ``iri`` is not a registered model or dataset.
        ExportError: the record does not make a valid DataCite document.
    """
    return datacite_document(read_record(store, iri))


def datacite_xml(store: Store, iri: URIRef | str) -> bytes:
    """The DataCite 4.5 XML of the registered model or dataset ``iri`` (UTF-8, with XML declaration).

    Raises:
        NotFoundError: ``iri`` is not a registered model or dataset.
        ExportError: the record does not make a valid DataCite document.
    """
    return datacite_xml_from(datacite_json(store, iri))


def datacite_xml_from(document: dict[str, Any]) -> bytes:
    """DataCite XML from a DataCite JSON document (which must be valid: the writer does not check)."""
    return _schema45().tostring(document).encode("utf-8")


def datacite_errors(document: dict[str, Any]) -> list[str]:
    """What makes ``document`` invalid against the DataCite 4.5 JSON Schema (empty when valid)."""
    return [f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
            for error in _schema45().validator.iter_errors(document)]


@cache
def _schema45() -> ModuleType:
    # Imported on first use: the datacite package pulls in idutils and requests (about 2 s), which the service
    # should not pay at start-up nor the CLI on commands that export nothing.
    from datacite import schema45

    return schema45


def datacite_document(record: Record) -> dict[str, Any]:
    """The DataCite 4.5 JSON document of ``record``.

    Raises:
        ExportError: the result is not valid against the DataCite schema.
    """
    doc: dict[str, Any] = {"schemaVersion": SCHEMA_VERSION}
    if record.doi:
        prefix, _, suffix = record.doi.partition("/")
        doc.update(doi=record.doi, prefix=prefix, suffix=suffix)
    doc["url"] = record.iri
    doc["types"] = ({"resourceTypeGeneral": "Model", "resourceType": "Trained machine-learning model"}
                    if record.kind == "model" else {"resourceTypeGeneral": "Dataset", "resourceType": "Dataset"})
    doc["creators"] = [_creator(p.name, p.orcid_url, p.affiliation) for p in record.creators] or [
        {"name": UNAVAILABLE}]
    doc["titles"] = [{"title": record.title}]
    doc["publisher"] = {"name": record.publisher or UNAVAILABLE}
    doc["publicationYear"] = record.year or (record.submitted or "")[:4] or UNAVAILABLE
    subjects = [{"subject": k} for k in record.keywords]
    if record.task and record.task not in record.keywords:
        subjects.append({"subject": record.task})
    if subjects:
        doc["subjects"] = subjects
    doc["dates"] = _dates(record)
    if record.alternate_identifiers:
        doc["alternateIdentifiers"] = [{"alternateIdentifier": value, "alternateIdentifierType": _scheme(scheme)}
                                       for scheme, value in record.alternate_identifiers]
    if record.related:
        doc["relatedIdentifiers"] = [
            {"relatedIdentifier": r.identifier, "relatedIdentifierType": r.identifier_type,
             "relationType": r.relation, **({"resourceTypeGeneral": r.resource_type} if r.resource_type else {})}
            for r in record.related
        ]
    if record.artifacts and not record.withdrawn:  # a withdrawn record's files are gone
        doc["sizes"] = [f"{a.name}: {a.byte_size} bytes" for a in record.artifacts]
        doc["formats"] = list(dict.fromkeys(a.media_type for a in record.artifacts))
    if record.version:
        doc["version"] = record.version
    doc["rightsList"] = _rights(record)
    doc["descriptions"] = _descriptions(record)
    errors = datacite_errors(doc)
    if errors:
        raise ExportError(f"the record of {record.iri} does not make valid DataCite 4.5 metadata: {'; '.join(errors)}")
    return doc


def _creator(name: str, orcid_url: str | None, affiliation: str | None) -> dict[str, Any]:
    # The record holds one display name, not given and family names; DataCite asks "Family, Given" but splitting
    # names guesses wrong for many cultures, so the name is given as written.
    creator: dict[str, Any] = {"name": name, "nameType": "Personal"}
    if orcid_url:
        creator["nameIdentifiers"] = [{"nameIdentifier": orcid_url, "nameIdentifierScheme": "ORCID",
                                       "schemeUri": "https://orcid.org"}]
    if affiliation:
        creator["affiliation"] = [{"name": affiliation}]
    return creator


def _dates(record: Record) -> list[dict[str, str]]:
    dates = []
    if record.year:
        dates.append({"date": record.year, "dateType": "Issued"})
    if record.submitted:
        dates.append({"date": record.submitted, "dateType": "Submitted",
                      "dateInformation": "Registered in this fairkg registry"})
    if record.withdrawn:
        dates.append({"date": record.withdrawn_at or record.submitted or UNAVAILABLE, "dateType": "Withdrawn",
                      **({"dateInformation": record.withdrawal_reason} if record.withdrawal_reason else {})})
    return dates


def _rights(record: Record) -> list[dict[str, str]]:
    rights = []
    if record.license_id:
        rights.append({"rights": record.license_id, "rightsUri": record.license_iri or "",
                       "rightsIdentifier": record.license_id, "rightsIdentifierScheme": "SPDX",
                       "schemeUri": "https://spdx.org/licenses/"})
    text, uri = ACCESS_RIGHTS[record.restricted]
    rights.append({"rights": text, "rightsUri": uri})
    return rights


def _descriptions(record: Record) -> list[dict[str, str]]:
    descriptions = [{"description": record.description or record.title, "descriptionType": "Abstract"}]
    technical = "; ".join(f"{label}: {value}" for label, value in (("Task", record.task),
                                                                    ("Framework", record.framework)) if value)
    if technical:
        descriptions.append({"description": technical, "descriptionType": "TechnicalInfo"})
    if record.withdrawn:
        reason = f": {record.withdrawal_reason}" if record.withdrawal_reason else ""
        descriptions.append({"description": f"Withdrawn{reason}. The metadata stays; the files were removed.",
                             "descriptionType": "Other"})
    return descriptions


def _scheme(scheme: str) -> str:
    return {"ark": "ARK", "handle": "Handle", "url": "URL", "uuid": "UUID", "minid": "minid"}.get(scheme, scheme)


__all__ = ["DATACITE_JSON", "DATACITE_XML", "datacite_document", "datacite_errors", "datacite_json", "datacite_xml",
           "datacite_xml_from"]

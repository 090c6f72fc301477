"""Exports of a registered model or dataset into the formats other systems read: DataCite JSON and XML
(:mod:`.datacite`), schema.org JSON-LD (:mod:`.schemaorg`), an RO-Crate zip (:mod:`.rocrate`) and CITATION.cff
(:mod:`.citation`).

Each reads the record from the store (:func:`.record.read_record`) and builds a document; nothing here knows of
HTTP, the service chooses among them by content negotiation.
"""

from __future__ import annotations

from fairkg.kg.exports.citation import CFF_MEDIA_TYPE, citation_cff, citation_document
from fairkg.kg.exports.datacite import (
    DATACITE_JSON,
    DATACITE_XML,
    datacite_document,
    datacite_errors,
    datacite_json,
    datacite_xml,
    datacite_xml_from,
)
from fairkg.kg.exports.record import Artifact, ExportError, Person, Record, Related, read_record, record_kind
from fairkg.kg.exports.rocrate import METADATA_FILE, RO_CRATE_MEDIA_TYPE, Crate, ro_crate
from fairkg.kg.exports.schemaorg import SCHEMA_ORG_JSONLD, schema_org, schema_org_document

__all__ = [
    "Artifact", "CFF_MEDIA_TYPE", "Crate", "DATACITE_JSON", "DATACITE_XML", "ExportError", "METADATA_FILE", "Person",
    "RO_CRATE_MEDIA_TYPE", "Record", "Related", "SCHEMA_ORG_JSONLD", "citation_cff", "citation_document",
    "datacite_document", "datacite_errors", "datacite_json", "datacite_xml", "datacite_xml_from", "read_record",
    "record_kind", "ro_crate", "schema_org", "schema_org_document",
]

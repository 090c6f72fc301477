"""CITATION.cff for a registered model or dataset: the Citation File Format 1.2.0
(https://github.com/citation-file-format/citation-file-format/blob/main/schema-guide.md), which GitHub, Zenodo and
reference managers read."""

from __future__ import annotations

import re
from typing import Any

import yaml
from rdflib import URIRef

from fairkg.kg.exports.record import Person, Record, read_record
from fairkg.kg.store.base import Store

CFF_VERSION = "1.2.0"
CFF_MEDIA_TYPE = "application/yaml"
#: CFF's ``doi`` pattern; a DOI outside it (rare characters in the suffix) goes to ``identifiers`` as a URL instead.
_CFF_DOI = re.compile(r"^10\.\d{4,9}(\.\d+)?/[A-Za-z0-9:/_;\-.()\[\]\\]+$")


def citation_cff(store: Store, iri: URIRef | str) -> str:
    """The CITATION.cff (YAML text) of the registered model or dataset ``iri``.

    Raises:
        NotFoundError: ``iri`` is not a registered model or dataset.
    """
    return yaml.safe_dump(citation_document(read_record(store, iri)), sort_keys=False, allow_unicode=True)


def citation_document(record: Record) -> dict[str, Any]:
    """The CFF 1.2.0 document of ``record`` as a mapping (keys in the order the CFF guide lists them)."""
    kind = "model" if record.kind == "model" else "dataset"
    message = f"If you use this {kind}, please cite it using the metadata from this file."
    if record.withdrawn:  # CFF has no status field: the message is what a reader sees first
        reason = f" ({record.withdrawal_reason})" if record.withdrawal_reason else ""
        message += f" Note: this {kind} was withdrawn{reason}; its metadata stays, its files were removed."
    doc: dict[str, Any] = {
        "cff-version": CFF_VERSION,
        "message": message,
        "title": record.title,
        # CFF has two types only: a trained model is software (it is executed), a dataset is a dataset.
        "type": "software" if record.kind == "model" else "dataset",
        "authors": [_author(p) for p in record.creators] or [{"name": record.publisher or "unknown"}],
    }
    identifiers: list[dict[str, str]] = []
    if record.doi and _CFF_DOI.match(record.doi):
        doc["doi"] = record.doi
    elif record.doi_url:
        identifiers.append({"type": "url", "value": record.doi_url, "description": "DOI"})
    identifiers.append({"type": "url", "value": record.iri, "description": "The record in this fairkg registry"})
    identifiers += [{"type": "other", "value": value, "description": scheme} for scheme, value
                    in record.alternate_identifiers]
    doc["identifiers"] = identifiers
    if record.version:
        doc["version"] = record.version
    released = _date_released(record)
    if released:
        doc["date-released"] = released
    if record.license_id:
        doc["license"] = record.license_id
    if record.keywords:
        doc["keywords"] = record.keywords
    doc["abstract"] = record.description or record.title
    doc["url"] = record.iri
    # The artifacts are served from the record's page (one link per distribution there); CFF's
    # repository-artifact is "the URL of the work in a build artifact/binary repository".
    doc["repository-artifact"] = record.iri
    return doc


def _author(person: Person) -> dict[str, str]:
    # CFF persons have given and family names, no single name; the record holds a display name only, so the last
    # word is taken as the family name. Names that do not split that way read oddly but are complete.
    given, _, family = person.name.strip().rpartition(" ")
    author = {"family-names": family, "given-names": given} if given else {"family-names": family}
    if person.orcid_url:
        author["orcid"] = person.orcid_url
    if person.affiliation:
        author["affiliation"] = person.affiliation
    return author


def _date_released(record: Record) -> str | None:
    # CFF wants a full date; the record has the publication year and the registration time. The registration date
    # is used when it falls in the publication year, else 1 January of that year (the year is what DataCite
    # records as the publication date).
    submitted = (record.submitted or "")[:10]
    if record.year and submitted.startswith(record.year):
        return submitted
    if record.year:
        return f"{record.year}-01-01"
    return submitted or None


__all__ = ["CFF_MEDIA_TYPE", "CFF_VERSION", "citation_cff", "citation_document"]

"""A registered model or dataset as an RO-Crate 1.1 zip (https://www.researchobject.org/ro-crate/1.1/): the
metadata (``ro-crate-metadata.json``, the record as Turtle, DataCite XML, CITATION.cff) and the artifact files.

The crate's JSON-LD is built with the ``rocrate`` package; the zip is written here, as a stream, so a crate of
large weights never sits in memory or in a temporary file. Every artifact is checked against the SHA-256 in the
graph before the crate is offered (:func:`fairkg.kg.artifacts.verified_path`), and each File entity carries that
``sha256``. A withdrawn record's files are gone: its crate holds the metadata only.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from rdflib import URIRef

from fairkg.kg.artifacts import verified_path
from fairkg.kg.exports.citation import citation_document
from fairkg.kg.exports.datacite import datacite_document, datacite_xml_from
from fairkg.kg.exports.record import Record, read_record
from fairkg.kg.namespaces import bind_prefixes
from fairkg.kg.store.base import Store

RO_CRATE_MEDIA_TYPE = 'application/zip; profile="https://w3id.org/ro/crate"'
METADATA_FILE = "ro-crate-metadata.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Member:
    """One file of the crate: its path inside the zip, and either bytes or a verified file on disk."""

    arcname: str
    data: bytes | None = None
    path: Path | None = None


@dataclass(frozen=True)
class Crate:
    """A crate ready to be written: its ``metadata`` (the JSON-LD of ``ro-crate-metadata.json``) and members."""

    filename: str
    metadata: dict[str, Any]
    members: list[_Member] = field(default_factory=list)

    def chunks(self) -> Iterator[bytes]:
        """The zip, in pieces, written as it is read (no seeking: entries use data descriptors)."""
        sink = _Sink()
        moment = datetime.now(UTC).timetuple()[:6]
        with zipfile.ZipFile(sink, "w") as archive:
            for member in [_Member(METADATA_FILE, _json_bytes(self.metadata)), *self.members]:
                info = zipfile.ZipInfo(member.arcname, date_time=moment)
                # Weights barely compress; deflating them would only spend CPU. Text metadata is deflated.
                info.compress_type = zipfile.ZIP_STORED if member.path else zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=True) as out:
                    if member.data is not None:
                        out.write(member.data)
                    else:
                        assert member.path is not None
                        with member.path.open("rb") as handle:
                            while block := handle.read(_CHUNK):
                                out.write(block)
                                yield sink.take()
                yield sink.take()
        yield sink.take()

    def write(self, dest: Path) -> Path:
        """Write the zip to ``dest`` and return it."""
        with dest.open("wb") as handle:
            for chunk in self.chunks():
                handle.write(chunk)
        return dest


class _Sink(io.RawIOBase):
    """A write-only, unseekable buffer that hands back what was written since the last :meth:`take`."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


def ro_crate(store: Store, iri: URIRef | str, *, home: Path, include_artifacts: bool = True) -> Crate:
    """The RO-Crate of the registered model or dataset ``iri``, with its artifacts unless ``include_artifacts`` is
    False or the record was withdrawn.

    Raises:
        NotFoundError: ``iri`` is not a registered model or dataset.
        ArtifactError: an artifact is missing or does not match its SHA-256 (nothing is offered).
    """
    from rocrate.model.contextentity import ContextEntity
    from rocrate.model.person import Person as CratePerson
    from rocrate.rocrate import ROCrate

    record = read_record(store, iri)
    turtle = bind_prefixes(store.get_graph(record.iri)).serialize(format="turtle", encoding="utf-8")
    extras = [
        ("metadata/record.ttl", turtle, "text/turtle", "The record of this resource in the fairkg graph (RDF)"),
        ("metadata/datacite.xml", datacite_xml_from(datacite_document(record)), "application/xml",
         "DataCite Metadata Schema 4.5"),
        ("CITATION.cff", _yaml_bytes(citation_document(record)), "application/yaml", "Citation File Format 1.2.0"),
    ]
    crate = ROCrate()
    root = crate.root_dataset
    root["name"] = record.title
    root["description"] = record.description or record.title
    root["datePublished"] = record.year or (record.submitted or "")[:10]
    if record.doi_url:
        root["identifier"] = record.doi_url
    root["url"] = record.iri
    if record.version:
        root["version"] = record.version
    if record.keywords:
        root["keywords"] = record.keywords
    if record.license_iri:
        root["license"] = crate.add(ContextEntity(crate, record.license_iri, properties={
            "@type": "CreativeWork", "name": record.license_id, "identifier": record.license_id}))
    root["author"] = [crate.add(CratePerson(crate, p.orcid_url or f"#person-{n}", properties={
        "name": p.name, **({"affiliation": p.affiliation} if p.affiliation else {})}))
        for n, p in enumerate(record.creators)]
    if record.publisher:
        root["publisher"] = crate.add(ContextEntity(crate, "#publisher", properties={
            "@type": "Organization", "name": record.publisher}))
    root["mainEntity"] = crate.add(ContextEntity(crate, record.iri, properties=_main_entity(record)))
    if record.withdrawn:
        root["creativeWorkStatus"] = "Withdrawn"
        if record.withdrawal_reason:
            root["conditionsOfAccess"] = f"Withdrawn: {record.withdrawal_reason}. The files were removed."

    members = []
    for arcname, data, media_type, about in extras:
        crate.add_file(dest_path=arcname, properties={
            "name": arcname, "description": about, "encodingFormat": media_type, "contentSize": str(len(data)),
            "sha256": hashlib.sha256(data).hexdigest(), "about": {"@id": record.iri}})
        members.append(_Member(arcname, data=data))
    if include_artifacts and not record.withdrawn:
        taken = {m.arcname for m in members} | {METADATA_FILE}
        for artifact in record.artifacts:
            path = verified_path(home, artifact.location, artifact.sha256)
            arcname = _arcname(artifact.name, taken)
            taken.add(arcname)
            crate.add_file(dest_path=arcname, properties={
                "name": artifact.name, "encodingFormat": artifact.media_type,
                "contentSize": str(artifact.byte_size), "sha256": artifact.sha256, "url": artifact.download_url,
                "identifier": artifact.iri,
                "description": "Reference input and expected output" if artifact.role == "reference"
                else "Distribution of the model" if record.kind == "model" else "Data file",
                **({"conformsTo": {"@id": artifact.conforms_to}} if artifact.conforms_to else {})})
            members.append(_Member(arcname, path=path))
    return Crate(f"{record.key}.crate.zip", crate.metadata.generate(), members)


def _main_entity(record: Record) -> dict[str, Any]:
    entity: dict[str, Any] = {"@type": "SoftwareApplication" if record.kind == "model" else "Dataset",
                              "name": record.title}
    if record.kind == "model":
        entity["additionalType"] = "Trained machine-learning model"
    if record.doi_url:
        entity["identifier"] = record.doi_url
    return entity


def _arcname(name: str, taken: set[str]) -> str:
    """A safe, unused path inside the zip for an artifact named ``name`` (card paths are relative, but a crate
    must never let a name climb out of the folder it is unpacked into)."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".", "..", "/")]
    candidate = "/".join(parts) or "artifact"
    stem, n = candidate, 2
    while candidate in taken:
        candidate = f"{n}-{stem}"
        n += 1
    return candidate


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")


def _yaml_bytes(document: dict[str, Any]) -> bytes:
    import yaml

    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode("utf-8")


__all__ = ["METADATA_FILE", "RO_CRATE_MEDIA_TYPE", "Crate", "ro_crate"]

"""``fairkg.kg.exports``: DataCite JSON/XML, schema.org JSON-LD, CITATION.cff and RO-Crate from registered cards,
checked against the schemas and packages that define them."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from _cards import dataset_card, model_card, write_card
from datacite import schema45
from lxml import etree

from fairkg.kg.errors import ArtifactError, NotFoundError
from fairkg.kg.exports import (
    citation_cff,
    datacite_errors,
    datacite_json,
    datacite_xml,
    read_record,
    ro_crate,
    schema_org,
)
from fairkg.kg.register import register, withdraw
from fairkg.kg.store import Store, open_store

BASE_IRI = "http://localhost:8000"
DATACITE_NS = "{http://datacite.org/schema/kernel-4}"
ARK = "ark:/99999/fk4exports"


@dataclass
class Registry:
    home: Path
    store: Store
    model: str  # IRI
    dataset: str


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    home = tmp_path / "home"
    store = open_store(f"oxigraph:{home / 'graph'}")
    data = register(store, write_card(tmp_path / "data", dataset_card()), home=home, base_iri=BASE_IRI)
    card = model_card(alternate_identifiers=[ARK],
                      related=[{"relation": "References", "identifier": "https://example.org/paper"}])
    model = register(store, write_card(tmp_path / "model", card), home=home, base_iri=BASE_IRI)
    yield Registry(home, store, model.iri, data.iri)
    store.close()


def test_datacite_json_is_valid_and_complete(registry: Registry) -> None:
    doc = datacite_json(registry.store, registry.model)
    assert datacite_errors(doc) == [] and schema45.validate(doc)
    assert doc["doi"] == "10.5072/test.model"
    assert doc["types"] == {"resourceTypeGeneral": "Model", "resourceType": "Trained machine-learning model"}
    creator = doc["creators"][0]
    assert creator["name"] == "Josiah Carberry"
    assert creator["nameIdentifiers"][0] == {"nameIdentifier": "https://orcid.org/0000-0002-1825-0097",
                                             "nameIdentifierScheme": "ORCID", "schemeUri": "https://orcid.org"}
    assert doc["publisher"] == {"name": "tests"} and doc["publicationYear"] == "2026"
    assert {"rights": "MIT", "rightsUri": "http://spdx.org/licenses/MIT", "rightsIdentifier": "MIT",
            "rightsIdentifierScheme": "SPDX", "schemeUri": "https://spdx.org/licenses/"} in doc["rightsList"]
    related = {(r["relationType"], r["relatedIdentifier"]) for r in doc["relatedIdentifiers"]}
    assert ("IsDerivedFrom", "10.5072/test.data") in related and ("References", "https://example.org/paper") in related
    assert {"alternateIdentifier": ARK, "alternateIdentifierType": "ARK"} in doc["alternateIdentifiers"]
    assert {s["subject"] for s in doc["subjects"]} >= {"test", "cnn", "classification"}
    assert doc["version"] == "1.0.0" and {"date": "2026", "dateType": "Issued"} in doc["dates"]
    assert "application/onnx" in doc["formats"] and any("model.onnx" in s for s in doc["sizes"])
    assert doc["descriptions"][0] == {"description": "A model for testing registration.",
                                      "descriptionType": "Abstract"}
    dataset = datacite_json(registry.store, registry.dataset)
    assert datacite_errors(dataset) == [] and dataset["types"]["resourceTypeGeneral"] == "Dataset"


def test_datacite_xml_matches_the_json(registry: Registry) -> None:
    root = etree.fromstring(datacite_xml(registry.store, registry.model))
    assert root.tag == f"{DATACITE_NS}resource"
    assert "kernel-4.5/metadata.xsd" in root.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation")
    ident = root.find(f"{DATACITE_NS}identifier")
    assert ident is not None and ident.text == "10.5072/test.model" and ident.get("identifierType") == "DOI"
    assert root.find(f"{DATACITE_NS}resourceType").get("resourceTypeGeneral") == "Model"
    name_id = root.find(f"{DATACITE_NS}creators/{DATACITE_NS}creator/{DATACITE_NS}nameIdentifier")
    assert name_id.get("nameIdentifierScheme") == "ORCID"
    rights = root.find(f"{DATACITE_NS}rightsList/{DATACITE_NS}rights")
    assert rights.get("rightsIdentifierScheme") == "SPDX" and rights.get("rightsIdentifier") == "MIT"
    # The mandatory properties of the kernel, in the XML.
    for name in ("identifier", "creators", "titles", "publisher", "publicationYear", "resourceType"):
        assert root.find(f"{DATACITE_NS}{name}") is not None, name


def test_schema_org_describes_the_model(registry: Registry) -> None:
    doc = schema_org(registry.store, registry.model)
    assert doc["@context"]["@vocab"] == "http://schema.org/" and doc["@type"] == "SoftwareApplication"
    # the context is inline: the document parses offline, and the licence is an IRI, not a string
    import json as _json

    from rdflib import Graph, URIRef

    parsed = Graph().parse(data=_json.dumps(doc), format="json-ld")
    assert (URIRef(doc["@id"]), URIRef("http://schema.org/license"), URIRef("http://spdx.org/licenses/MIT")) in parsed
    assert {"@type": "PropertyValue", "propertyID": "DOI", "value": "10.5072/test.model",
            "url": "https://doi.org/10.5072/test.model"} in doc["identifier"]
    assert doc["author"][0]["@id"] == "https://orcid.org/0000-0002-1825-0097"
    assert doc["license"] == "http://spdx.org/licenses/MIT" and doc["version"] == "1.0.0"
    assert doc["datePublished"] == "2026" and set(doc["keywords"]) == {"test", "cnn"}
    downloads = {d["name"]: d for d in doc["distribution"]}
    assert downloads["model.onnx"]["@type"] == "DataDownload"
    assert downloads["model.onnx"]["encodingFormat"] == "application/onnx"
    assert re.fullmatch(r"[0-9a-f]{64}", downloads["model.onnx"]["sha256"])
    assert downloads["model.onnx"]["contentUrl"].startswith(f"{BASE_IRI}/artifacts/")
    assert schema_org(registry.store, registry.dataset)["@type"] == "Dataset"
    # Any other resource: a Thing with its IRI.
    other = schema_org(registry.store, downloads["model.onnx"]["@id"])
    assert other["@type"] == "Thing" and other["name"] == "model.onnx"


def test_citation_cff_is_cff_1_2_0(registry: Registry) -> None:
    doc = yaml.safe_load(citation_cff(registry.store, registry.model))
    assert doc["cff-version"] == "1.2.0" and doc["message"] and doc["title"] == "Test model"
    assert doc["type"] == "software" and doc["doi"] == "10.5072/test.model"
    assert doc["authors"] == [{"family-names": "Carberry", "given-names": "Josiah",
                               "orcid": "https://orcid.org/0000-0002-1825-0097"}]
    assert doc["license"] == "MIT" and doc["version"] == "1.0.0"
    # CFF dates are full dates (YYYY-MM-DD), and YAML must not turn them into date objects.
    assert isinstance(doc["date-released"], str) and re.fullmatch(r"2026-\d\d-\d\d", doc["date-released"])
    assert doc["repository-artifact"].startswith(f"{BASE_IRI}/id/") and set(doc["keywords"]) == {"test", "cnn"}
    assert yaml.safe_load(citation_cff(registry.store, registry.dataset))["type"] == "dataset"


def test_ro_crate_holds_metadata_and_verified_artifacts(registry: Registry) -> None:
    crate = ro_crate(registry.store, registry.model, home=registry.home)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(crate.chunks())))
    metadata = json.loads(archive.read("ro-crate-metadata.json"))
    entities = {e["@id"]: e for e in metadata["@graph"]}
    root = entities["./"]
    assert root["identifier"] == "https://doi.org/10.5072/test.model" and root["name"] == "Test model"
    assert root["license"] == {"@id": "http://spdx.org/licenses/MIT"}
    assert entities["https://orcid.org/0000-0002-1825-0097"]["name"] == "Josiah Carberry"
    record = read_record(registry.store, registry.model)
    for artifact in record.artifacts:
        entity = entities[artifact.name]
        assert entity["@type"] == "File" and entity["sha256"] == artifact.sha256
        assert hashlib.sha256(archive.read(artifact.name)).hexdigest() == artifact.sha256
    for name in ("metadata/record.ttl", "metadata/datacite.xml", "CITATION.cff"):
        assert hashlib.sha256(archive.read(name)).hexdigest() == entities[name]["sha256"]
    assert {part["@id"] for part in root["hasPart"]} >= {a.name for a in record.artifacts}


def test_ro_crate_refuses_a_tampered_artifact(registry: Registry) -> None:
    artifact = read_record(registry.store, registry.model).artifacts[0]
    path = registry.home / artifact.location
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(ArtifactError, match="does not match"):
        ro_crate(registry.store, registry.model, home=registry.home)


def test_a_withdrawn_model_still_exports_marked_withdrawn(registry: Registry) -> None:
    withdraw(registry.store, "10.5072/test.model", home=registry.home, base_iri=BASE_IRI, reason="wrong labels")
    doc = datacite_json(registry.store, registry.model)
    assert datacite_errors(doc) == []
    withdrawn = [d for d in doc["dates"] if d["dateType"] == "Withdrawn"]
    assert withdrawn and withdrawn[0]["dateInformation"] == "wrong labels"
    assert "sizes" not in doc
    assert etree.fromstring(datacite_xml(registry.store, registry.model)).find(
        f"{DATACITE_NS}dates/{DATACITE_NS}date[@dateType='Withdrawn']") is not None
    assert schema_org(registry.store, registry.model)["creativeWorkStatus"] == "Withdrawn"
    assert "distribution" not in schema_org(registry.store, registry.model)
    assert "withdrawn" in yaml.safe_load(citation_cff(registry.store, registry.model))["message"]
    crate = ro_crate(registry.store, registry.model, home=registry.home)  # files gone: metadata only
    names = zipfile.ZipFile(io.BytesIO(b"".join(crate.chunks()))).namelist()
    assert "ro-crate-metadata.json" in names and "model.onnx" not in names
    root = next(e for e in crate.metadata["@graph"] if e["@id"] == "./")
    assert root["creativeWorkStatus"] == "Withdrawn"


def test_only_records_export(registry: Registry) -> None:
    part = read_record(registry.store, registry.model).artifacts[0].iri
    with pytest.raises(NotFoundError, match="not a registered model or dataset"):
        datacite_json(registry.store, part)

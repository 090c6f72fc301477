"""Identifiers: mint, parse every common spelling, normalise, and look up the resource for one.

Every resource's IRI is ``{base_iri}/id/{uuid}``; the uuid is the resource's URL-safe *key*. Models and datasets
carry persistent identifiers in the SPAR DataCite pattern, the DOI as the bare lower-case string. Demo DOIs are
minted under DataCite's test prefix 10.5072 and the uuid is derived from the DOI (uuid5), so rebuilding the demo
replaces records instead of adding new ones.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from rdflib import Literal, URIRef

from fairkg.kg.errors import IdentifierError, NotFoundError
from fairkg.kg.namespaces import DATACITE, FKG, SPARQL_PREFIXES
from fairkg.kg.store.base import Store

TEST_DOI_PREFIX = "10.5072"
TEST_ARK_NAAN = "99999"
FAIRKG_UUID_NAMESPACE = uuid.UUID("6f1c6c2e-6c55-5b8e-9a43-3f5d1b7e2a10")

_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi:")
_ARK = re.compile(r"^ark:/?(\d{5,9})/(\S+)$", re.IGNORECASE)
_ARK_RESOLVERS = ("https://n2t.net/", "http://n2t.net/", "https://arks.org/", "https://identifiers.org/")
_MINID = re.compile(r"^minid:([A-Za-z0-9._\-/]+)$", re.IGNORECASE)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)

#: scheme name -> the SPAR DataCite scheme individual (minid has none: ours)
SCHEME_IRIS: dict[str, URIRef] = {
    "doi": DATACITE.doi,
    "ark": DATACITE.ark,
    "handle": DATACITE.handle,
    "url": DATACITE.url,
    "minid": FKG.minid,
    "uuid": FKG.uuid,
}


@dataclass(frozen=True)
class Identifier:
    """A parsed identifier: ``scheme`` (doi, ark, minid, handle, uuid, url) and its normalised ``value``."""

    scheme: str
    value: str

    def __str__(self) -> str:
        return self.value

    @property
    def scheme_iri(self) -> URIRef:
        """The SPAR DataCite identifier scheme of this identifier."""
        return SCHEME_IRIS[self.scheme]

    @property
    def url(self) -> str | None:
        """The resolver URL of this identifier (None for uuids and local values)."""
        if self.scheme == "doi":
            return f"https://doi.org/{self.value}"
        if self.scheme == "ark":
            return f"https://n2t.net/{self.value}"
        if self.scheme == "handle":
            return f"https://hdl.handle.net/{self.value}"
        if self.scheme == "url":
            return self.value
        return None


def parse_identifier(text: str, *, base_iri: str | None = None) -> Identifier:
    """Parse any common spelling of an identifier into its normalised form.

    Raises:
        IdentifierError: ``text`` is none of the spellings fairkg understands.

    >>> parse_identifier("https://doi.org/10.5072/FAIRKG.Digits")
    Identifier(scheme='doi', value='10.5072/fairkg.digits')
    >>> parse_identifier("ark:99999/fk4x").value
    'ark:/99999/fk4x'
    """
    raw = text.strip()
    if not raw:
        raise IdentifierError("empty identifier: give a DOI, ARK, minid, UUID or resource IRI")
    lowered = raw.lower()
    for prefix in _DOI_PREFIXES:
        if lowered.startswith(prefix):
            return _doi(raw[len(prefix):], original=text)
    if lowered.startswith("10."):
        return _doi(raw, original=text)
    for resolver in _ARK_RESOLVERS:
        if lowered.startswith(resolver + "ark:"):
            raw = raw[len(resolver):]
            break
    if match := _ARK.match(raw):
        return Identifier("ark", f"ark:/{match.group(1)}/{match.group(2)}")
    if match := _MINID.match(raw):
        return Identifier("minid", f"minid:{match.group(1)}")
    if lowered.startswith("hdl:"):
        return Identifier("handle", raw[4:])
    if _UUID.match(raw):
        return Identifier("uuid", raw.lower())
    if base_iri and raw.startswith(base_iri.rstrip("/") + "/id/"):
        key = raw[len(base_iri.rstrip("/")) + 4:].split("#", 1)[0].strip("/")
        if _UUID.match(key):
            return Identifier("uuid", key.lower())
    if lowered.startswith(("http://", "https://")):
        return Identifier("url", raw)
    raise IdentifierError(
        f"{text!r} is not an identifier fairkg understands: expected a DOI (10.5072/x, doi:10.5072/x, "
        "https://doi.org/10.5072/x), an ARK (ark:/99999/x), a minid (minid:x), a UUID or a resource IRI"
    )


def _doi(value: str, *, original: str) -> Identifier:
    doi = value.strip().lower()
    if not _DOI.match(doi):
        raise IdentifierError(f"{original!r} is not a DOI: expected 10.<registrant>/<suffix>, e.g. 10.5072/abc")
    return Identifier("doi", doi)


def is_test_doi(doi: str) -> bool:
    """True for DOIs under DataCite's test prefix 10.5072, which resolve nowhere in the real world."""
    return doi.lower().startswith(TEST_DOI_PREFIX + "/")


def slug(text: str) -> str:
    """A lower-case, URL- and DOI-safe slug of ``text``."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value or "resource"


def mint_doi(name: str, *, prefix: str = TEST_DOI_PREFIX) -> str:
    """A DOI under ``prefix`` (DataCite's test prefix by default), deterministic in ``name``.

    >>> mint_doi("Digits CNN")
    '10.5072/fairkg.digits-cnn'
    """
    return f"{prefix}/fairkg.{slug(name)}"


def mint_ark(name: str, *, naan: str = TEST_ARK_NAAN) -> str:
    """An ARK under ``naan`` (the test NAAN 99999 by default, shoulder fk4), deterministic in ``name``."""
    return f"ark:/{naan}/fk4{uuid.uuid5(FAIRKG_UUID_NAMESPACE, name).hex[:12]}"


def uuid_for(identifier: Identifier | str) -> str:
    """The uuid (the resource's key) derived from a persistent identifier: uuid5 of its normalised value.

    >>> uuid_for("10.5072/fairkg.digits") == uuid_for("https://doi.org/10.5072/FAIRKG.DIGITS")
    True
    """
    ident = identifier if isinstance(identifier, Identifier) else parse_identifier(identifier)
    if ident.scheme == "uuid":
        return ident.value
    return str(uuid.uuid5(FAIRKG_UUID_NAMESPACE, f"{ident.scheme}:{ident.value}"))


def derived_uuid(parent_key: str, role: str) -> str:
    """A deterministic uuid for a part of a record (a distribution, a run...) from its parent's key and role."""
    return str(uuid.uuid5(uuid.UUID(parent_key), role))


def name_uuid(name: str) -> str:
    """A deterministic uuid for a shared named thing (a software package, a machine, a metric)."""
    return str(uuid.uuid5(FAIRKG_UUID_NAMESPACE, name))


def resource_iri(base_iri: str, key: str) -> URIRef:
    """The IRI ``{base_iri}/id/{key}``."""
    return URIRef(f"{base_iri.rstrip('/')}/id/{key}")


def key_of(iri: str) -> str:
    """The key (uuid) of a resource IRI ``.../id/{uuid}`` (fragment ignored).

    Raises:
        IdentifierError: the IRI is not of that form.
    """
    tail = str(iri).split("#", 1)[0].rstrip("/").rsplit("/id/", 1)
    if len(tail) != 2 or not _UUID.match(tail[1]):
        raise IdentifierError(f"{iri} is not a fairkg resource IRI (…/id/<uuid>)")
    return tail[1].lower()


_LOOKUP_BY_VALUE = """
  { ?resource datacite:hasIdentifier ?id . ?id literal:hasLiteralValue ?value . }
  UNION
  { ?resource dcterms:identifier ?value . }"""
_LOOKUP_BY_IRI = """
  UNION
  { ?iri ?p ?o . BIND(?iri AS ?resource) }"""


def lookup(store: Store, identifier: str | Identifier, *, base_iri: str) -> URIRef:
    """The IRI of the resource that ``identifier`` names, found with one SPARQL query.

    Raises:
        IdentifierError: not an identifier.
        NotFoundError: no resource carries it.
    """
    ident = identifier if isinstance(identifier, Identifier) else parse_identifier(identifier, base_iri=base_iri)
    body = _LOOKUP_BY_VALUE.replace("?value", Literal(ident.value).n3())
    if ident.scheme in ("uuid", "url"):
        iri = resource_iri(base_iri, ident.value) if ident.scheme == "uuid" else URIRef(ident.value)
        body += _LOOKUP_BY_IRI.replace("?iri", iri.n3())
    rows = list(store.query(f"{SPARQL_PREFIXES}SELECT DISTINCT ?resource WHERE {{{body}\n}} LIMIT 2").bindings())
    if not rows:
        raise NotFoundError(f"no resource in this registry has the identifier {ident.value!r}")
    return URIRef(str(rows[0]["resource"]))

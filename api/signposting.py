"""FAIR Signposting (https://signposting.org/FAIR/), level 1: typed ``Link`` headers (RFC 8288 Web Linking,
https://www.rfc-editor.org/rfc/rfc8288) on a resource's landing page, so a machine finds, from the page alone, the
identifier to cite, the metadata records, the files, the licence, the type and the authors.

* ``cite-as``: the persistent identifier (``https://doi.org/…``), or the resource's IRI when it has none.
* ``describedby``: each metadata record, with its ``type`` (and ``profile`` where one media type has several).
* ``item``: each file of the record, with its ``type``; none for a withdrawn record (its files are gone).
* ``license``, ``type`` (``schema:AboutPage`` plus the resource's schema.org type), ``author`` (ORCID iDs).
* a metadata record links back to the page it describes with ``describes``.

Links to this service are relative (RFC 8288 §3.2 resolves them against the request URI): an IRI under the base
(``{base_iri}/artifacts/…``) becomes the path ``/artifacts/…``, so the links work whatever host and port the
service is reached on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fairkg.kg.exports.record import Record

SCHEMA_ORG = "https://schema.org/"
SCHEMA_ORG_PROFILE = "https://schema.org"
#: The metadata records a registered model or dataset offers: (file name under the page, media type, profile).
RECORD_METADATA: tuple[tuple[str, str, str | None], ...] = (
    ("datacite.xml", "application/vnd.datacite.datacite+xml", None),
    ("datacite.json", "application/vnd.datacite.datacite+json", None),
    ("record.ttl", "text/turtle", None),
    ("record.jsonld", "application/ld+json", None),
    ("schemaorg.jsonld", "application/ld+json", SCHEMA_ORG_PROFILE),
)
#: What any other resource (a distribution, a run, a person) offers.
RESOURCE_METADATA: tuple[tuple[str, str, str | None], ...] = (
    ("record.ttl", "text/turtle", None),
    ("record.jsonld", "application/ld+json", None),
)


@dataclass(frozen=True)
class Link:
    """One link-value of a ``Link`` header (RFC 8288 §3)."""

    target: str
    rel: str
    type: str | None = None
    profile: str | None = None

    def __str__(self) -> str:
        value = f'<{self.target}>; rel="{self.rel}"'
        if self.type:
            value += f'; type="{self.type}"'
        if self.profile:
            value += f'; profile="{self.profile}"'
        return value


def link_header(links: Iterable[Link]) -> str:
    """The ``Link`` header value for ``links`` (one header, link-values separated by commas)."""
    return ", ".join(str(link) for link in links)


def local_href(url: str, *, base_iri: str, root_path: str = "") -> str:
    """``url`` as a path on this service when it is under ``base_iri``, else unchanged."""
    base = base_iri.rstrip("/")
    if url == base or url.startswith(base + "/"):
        return root_path + (url[len(base):] or "/")
    return url


def record_links(record: Record, *, page: str, base_iri: str, root_path: str = "") -> list[Link]:
    """The Signposting links of the landing page ``page`` (a path) of a registered model or dataset."""
    links = [Link(record.doi_url or record.iri, "cite-as")]
    links += [Link(f"{page}/{name}", "describedby", media, profile) for name, media, profile in RECORD_METADATA]
    if not record.withdrawn:
        links += [Link(local_href(a.download_url, base_iri=base_iri, root_path=root_path), "item", a.media_type)
                  for a in record.artifacts if a.download_url]
    if record.license_iri:
        links.append(Link(record.license_iri, "license"))
    links.append(Link(SCHEMA_ORG + "AboutPage", "type"))
    links.append(Link(SCHEMA_ORG + ("SoftwareApplication" if record.kind == "model" else "Dataset"), "type"))
    links += [Link(p.orcid_url, "author") for p in record.creators if p.orcid_url]
    return links


def resource_links(iri: str, *, page: str) -> list[Link]:
    """The Signposting links of the page of a resource that is not a registered record (no DOI, no files)."""
    links = [Link(iri, "cite-as")]
    links += [Link(f"{page}/{name}", "describedby", media, profile) for name, media, profile in RESOURCE_METADATA]
    links.append(Link(SCHEMA_ORG + "AboutPage", "type"))
    return links


def describes_link(page: str) -> Link:
    """The link from a metadata record back to the landing page it describes."""
    return Link(page, "describes")


__all__ = ["Link", "describes_link", "link_header", "local_href", "record_links", "resource_links"]

"""Which representation of a resource to answer: proactive content negotiation on ``Accept`` (RFC 9110 §12.5.1,
by :func:`fairkg.api.sparql_results.negotiate`), overridden by ``?format=`` or by a file name under the resource's
page (``/id/{uuid}/datacite.xml``), as LodView and Trifid do for clients that cannot set headers.

The media types are the ones DOI content negotiation uses where it defines one
(https://support.datacite.org/docs/datacite-content-resolver): ``application/vnd.datacite.datacite+json``,
``application/vnd.datacite.datacite+xml``, ``application/vnd.schemaorg.ld+json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fairkg.api.problems import PROBLEM_BASE, ProblemError
from fairkg.api.sparql_results import Format, negotiate


@dataclass(frozen=True)
class Representation:
    """One way to answer for a resource: ``name`` (also the ``?format=`` value), the ``media_type`` clients ask
    for, the ``content_type`` answered, other media types that select it, other ``?format=`` spellings, and the
    file name it has under the resource's page (``/id/{uuid}/{filename}``)."""

    name: str
    media_type: str
    content_type: str
    filename: str | None = None
    also_accepts: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    negotiable: bool = True  # False: only by ?format= or file name (a zip, a YAML file nobody asks for by type)
    records_only: bool = False  # only registered models and datasets have it


#: Every representation, in the service's order of preference: a client that accepts anything (``*/*``) gets HTML,
#: the landing page, as a DOI resolves to for a browser.
REPRESENTATIONS: tuple[Representation, ...] = (
    Representation("html", "text/html", "text/html; charset=utf-8", also_accepts=("application/xhtml+xml",)),
    Representation("turtle", "text/turtle", "text/turtle; charset=utf-8", "record.ttl", aliases=("ttl",)),
    Representation("jsonld", "application/ld+json", "application/ld+json", "record.jsonld",
                   aliases=("json-ld",)),
    Representation("rdfxml", "application/rdf+xml", "application/rdf+xml", "record.rdf", aliases=("rdf",)),
    Representation("ntriples", "application/n-triples", "application/n-triples", "record.nt", aliases=("nt",)),
    Representation("json", "application/json", "application/json", "resolved.json"),
    Representation("datacite-json", "application/vnd.datacite.datacite+json",
                   "application/vnd.datacite.datacite+json", "datacite.json", aliases=("datacite",),
                   records_only=True),
    Representation("datacite-xml", "application/vnd.datacite.datacite+xml", "application/vnd.datacite.datacite+xml",
                   "datacite.xml", records_only=True),
    Representation("schemaorg", "application/vnd.schemaorg.ld+json", "application/vnd.schemaorg.ld+json",
                   "schemaorg.jsonld", aliases=("schema.org",)),
    Representation("cff", "application/yaml", "application/yaml; charset=utf-8", "CITATION.cff",
                   aliases=("citation",), negotiable=False, records_only=True),
    Representation("ro-crate", "application/zip", "application/zip", "ro-crate.zip", aliases=("rocrate", "zip"),
                   negotiable=False, records_only=True),
)
BY_NAME: dict[str, Representation] = {r.name: r for r in REPRESENTATIONS}
_BY_FORMAT: dict[str, Representation] = {alias: r for r in REPRESENTATIONS for alias in (r.name, *r.aliases)}
_BY_FILENAME: dict[str, Representation] = {r.filename: r for r in REPRESENTATIONS if r.filename}


def available(*, is_record: bool) -> tuple[Representation, ...]:
    """The representations of a registered model or dataset (``is_record``), or of any other resource."""
    return tuple(r for r in REPRESENTATIONS if is_record or not r.records_only)


def by_filename(filename: str) -> Representation | None:
    """The representation served as ``/id/{uuid}/{filename}``, if any."""
    return _BY_FILENAME.get(filename)


def choose(accept: str | None, format: str | None, offered: Iterable[Representation]) -> Representation:
    """The representation to answer: the one ``format`` names, else the best for ``accept`` among ``offered``.

    Raises:
        ProblemError: 400 for an unknown ``format``; 406 when nothing offered fits (the problem lists what is).
    """
    offered = tuple(offered)
    if format:
        wanted = _BY_FORMAT.get(format.strip().lower())
        if wanted is None:
            names = ", ".join(sorted(_BY_FORMAT))
            raise ProblemError(400, f"unknown format {format!r}; use one of: {names}", title="Unknown format",
                               type=PROBLEM_BASE + "unknown-format")
        if wanted not in offered:
            raise not_acceptable(f"format={format}", offered)
        return wanted
    formats = [Format(media, r.name, r.content_type) for r in offered if r.negotiable
               for media in (r.media_type, *r.also_accepts)]
    chosen = negotiate(accept, formats)
    if chosen is None:
        raise not_acceptable(f"Accept: {accept}", offered)
    return BY_NAME[chosen.writer]


def not_acceptable(asked: str, offered: Iterable[Representation]) -> ProblemError:
    """The 406 problem for ``asked``, naming the media types and ``?format=`` values that are available."""
    offered = tuple(offered)
    media = [r.media_type for r in offered if r.negotiable]
    return ProblemError(406, f"no representation of this resource fits {asked}; available by Accept: "
                        f"{', '.join(media)}; by ?format=: {', '.join(r.name for r in offered)}",
                        title="Not acceptable", type=PROBLEM_BASE + "not-acceptable", available=media,
                        formats=[r.name for r in offered])


__all__ = ["BY_NAME", "REPRESENTATIONS", "Representation", "available", "by_filename", "choose", "not_acceptable"]

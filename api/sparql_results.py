"""SPARQL query results as bytes, and choosing the format by ``Accept``.

Written from the W3C Recommendations, one function per format:

* JSON: SPARQL 1.1 Query Results JSON Format, https://www.w3.org/TR/sparql11-results-json/
* XML: SPARQL Query Results XML Format (Second Edition), https://www.w3.org/TR/rdf-sparql-XMLres/
* CSV and TSV: SPARQL 1.1 Query Results CSV and TSV Formats, https://www.w3.org/TR/sparql11-results-csv-tsv/
  (SELECT only: "This document describes their use for expressing SPARQL query results from SELECT queries", so an
  ASK result offers JSON and XML only)
* graphs (CONSTRUCT, DESCRIBE): rdflib's serialisers.

The SELECT writers read rdflib terms and pyoxigraph's alike: the embedded store hands the endpoint its own terms
(:meth:`fairkg.kg.store.oxigraph.OxigraphStore.query_async`), which saves converting every term to rdflib (a third
of the time of a 10,000-row answer).

:func:`negotiate` implements proactive content negotiation (RFC 9110 §12.5.1) and knows nothing of SPARQL; it lives
here until a second router needs it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef

from fairkg.kg.namespaces import bind_prefixes
from fairkg.kg.store.base import SelectResult


@dataclass(frozen=True)
class Format:
    """A result format: the media type asked for (and answered in ``Content-Type``) and the writer's name."""

    media_type: str
    writer: str
    content_type: str


# Offered formats per query form, in the service's order of preference (the first is the default).
SELECT_FORMATS: tuple[Format, ...] = (
    Format("application/sparql-results+json", "json", "application/sparql-results+json"),
    Format("application/sparql-results+xml", "xml", "application/sparql-results+xml; charset=utf-8"),
    Format("text/csv", "csv", "text/csv; charset=utf-8"),
    Format("text/tab-separated-values", "tsv", "text/tab-separated-values; charset=utf-8"),
    # Plain JSON is the same document: clients (browsers' fetch, SPARQLWrapper) list it beside the SPARQL type.
    Format("application/json", "json", "application/json"),
)
ASK_FORMATS: tuple[Format, ...] = tuple(f for f in SELECT_FORMATS if f.writer in ("json", "xml"))
GRAPH_FORMATS: tuple[Format, ...] = (
    Format("text/turtle", "turtle", "text/turtle; charset=utf-8"),
    Format("application/n-triples", "nt", "application/n-triples"),
    Format("application/ld+json", "json-ld", "application/ld+json"),
    Format("application/rdf+xml", "xml", "application/rdf+xml"),
)


# -- content negotiation -------------------------------------------------------------------------------------------
_MEDIA_RANGE = re.compile(r"^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)/([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*$")


def parse_accept(header: str) -> list[tuple[str, str, float]]:
    """The media ranges of an ``Accept`` header as (type, subtype, q), lower-cased, in the header's order; ranges
    that do not parse are skipped (RFC 9110 §12.5.1)."""
    ranges = []
    for item in header.split(","):
        media, *params = item.split(";")
        match = _MEDIA_RANGE.match(media)
        if not match:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = 1.0
        ranges.append((match.group(1).lower(), match.group(2).lower(), q))
    return ranges


def negotiate(accept: str | None, offered: Sequence[Format]) -> Format | None:
    """The offered format the client prefers, or None if it accepts none of them.

    Each offer takes the q of the most specific range matching it (``type/sub`` over ``type/*`` over ``*/*``); the
    highest q wins, then the more specific match, then the range the client listed first, then the service's order.
    No ``Accept`` (or an empty one) accepts anything: the first offer.
    """
    media_types = tuple(f.media_type for f in offered)
    if accept is not None and len(accept) > _CACHED_ACCEPT_CHARS:
        chosen = _preferred(accept, media_types)
    else:
        chosen = _preferred_cached(accept, media_types)
    # The caller's own object: callers compare the answer by identity (`fmt is JSON`), and equal formats exist in
    # several modules, so what is remembered is the position, never a Format.
    return None if chosen is None else offered[chosen]


#: Accept headers longer than this are not remembered, so that the cache stays small whatever clients send.
_CACHED_ACCEPT_CHARS = 256


@lru_cache(maxsize=256)
def _preferred_cached(accept: str | None, media_types: tuple[str, ...]) -> int | None:
    # Clients send the same few Accept headers again and again: parsing one costs ~20 us, a look-up ~1 us.
    return _preferred(accept, media_types)


def _preferred(accept: str | None, media_types: tuple[str, ...]) -> int | None:
    """The position in ``media_types`` of the one :func:`negotiate` chooses, or None."""
    if not accept or not accept.strip():
        return 0 if media_types else None
    ranges = parse_accept(accept)
    best: tuple[float, int, int, int] | None = None
    chosen: int | None = None
    for server_rank, media_type in enumerate(media_types):
        main, _, sub = media_type.partition("/")
        match: tuple[int, int, float] | None = None  # (specificity, client position, q)
        for position, (r_main, r_sub, q) in enumerate(ranges):
            if (r_main, r_sub) == (main, sub):
                specificity = 2
            elif r_main == main and r_sub == "*":
                specificity = 1
            elif (r_main, r_sub) == ("*", "*"):
                specificity = 0
            else:
                continue
            if match is None or specificity > match[0]:
                match = (specificity, position, q)
        if match is None or match[2] <= 0:
            continue
        key = (match[2], match[0], -match[1], -server_rank)
        if best is None or key > best:
            best, chosen = key, server_rank
    return chosen


# -- SELECT and ASK ------------------------------------------------------------------------------------------------
def write_select(result: SelectResult, writer: str) -> bytes:
    """A SELECT result in the format named ``writer`` (json, xml, csv, tsv)."""
    return _SELECT_WRITERS[writer](result)


def write_ask(value: bool, writer: str) -> bytes:
    """An ASK result in the format named ``writer`` (json, xml)."""
    if writer == "json":
        # SPARQL 1.1 JSON §3.1 and §3.3: an empty head and a "boolean" member.
        return json.dumps({"head": {}, "boolean": value}).encode()
    if writer == "xml":
        # XML results §2.3.2 ("Boolean Results").
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<sparql xmlns="{_XML_NS}">\n  <head/>\n'
                f"  <boolean>{'true' if value else 'false'}</boolean>\n</sparql>\n").encode()
    raise ValueError(f"no ASK writer {writer!r}")


#: (type, lexical form, language, datatype) of an RDF term: type "uri", "bnode" or "literal"; a simple literal has
#: neither language nor datatype (RDF 1.1: its datatype is xsd:string, which the result formats leave out).
TermParts = tuple[str, str, str | None, str | None]
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def _rdflib_literal(term: Literal) -> TermParts:
    if term.language:
        return "literal", str(term), term.language, None
    return "literal", str(term), None, None if term.datatype is None else str(term.datatype)


def _ox_literal(term: ox.Literal) -> TermParts:
    if term.language:
        return "literal", term.value, term.language, None
    datatype = term.datatype.value
    return "literal", term.value, None, None if datatype == XSD_STRING else datatype


# By exact type: one dict look-up per term instead of a chain of isinstance checks (subclasses take the slow path).
_PARTS: dict[type, Callable[[object], TermParts]] = {
    URIRef: lambda t: ("uri", str(t), None, None),
    BNode: lambda t: ("bnode", str(t), None, None),
    Literal: _rdflib_literal,  # type: ignore[dict-item]
    ox.NamedNode: lambda t: ("uri", t.value, None, None),  # type: ignore[attr-defined]
    ox.BlankNode: lambda t: ("bnode", t.value, None, None),  # type: ignore[attr-defined]
    ox.Literal: _ox_literal,  # type: ignore[dict-item]
}


def term_parts(term: object) -> TermParts:
    """The parts of an RDF term, rdflib's (URIRef, BNode, Literal) or pyoxigraph's (NamedNode, BlankNode, Literal).

    Raises:
        TypeError: not one of those (a variable, an RDF-star triple term).
    """
    parts = _PARTS.get(type(term))
    if parts is not None:
        return parts(term)
    for kind, handler in _PARTS.items():
        if isinstance(term, kind):
            return handler(term)
    raise TypeError(f"not an RDF term: {term!r}")


def _json_term(term: object) -> dict[str, str]:
    # SPARQL 1.1 JSON §3.2.2: {"type": "uri" | "literal" | "bnode", "value": ..., "xml:lang" | "datatype": ...}.
    kind, value, language, datatype = term_parts(term)
    out = {"type": kind, "value": value}
    if language:
        out["xml:lang"] = language
    elif datatype is not None:
        out["datatype"] = datatype
    return out


# One encoder for every answer: json.dumps with options builds a new one per call.
_JSON = json.JSONEncoder(ensure_ascii=False)


def _select_json(result: SelectResult) -> bytes:
    # §3.1: "head" with "vars"; §3.2: "results" with "bindings", one object per row, unbound variables absent.
    bindings = [{var: _json_term(value) for var, value in row.items()} for row in result.rows]
    doc = {"head": {"vars": list(result.variables)}, "results": {"bindings": bindings}}
    return _JSON.encode(doc).encode()


_XML_NS = "http://www.w3.org/2005/sparql-results#"
# XML 1.0 §2.2 has no way to carry these characters, even as character references; they become U+FFFD.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: str) -> str:
    return escape(_NOT_XML_CHAR.sub("\ufffd", value))


def _xml_term(term: object) -> str:
    # XML results §2.3.1: <uri>, <literal> (with xml:lang or datatype) and <bnode>.
    kind, value, language, datatype = term_parts(term)
    if kind != "literal":
        return f"<{kind}>{_xml_text(value)}</{kind}>"
    if language:
        return f"<literal xml:lang={quoteattr(language)}>{_xml_text(value)}</literal>"
    if datatype is not None:
        return f"<literal datatype={quoteattr(datatype)}>{_xml_text(value)}</literal>"
    return f"<literal>{_xml_text(value)}</literal>"


def _select_xml(result: SelectResult) -> bytes:
    # §2.1 header (<variable name=...> in the SELECT's order), §2.2 <results> with one <result> per row.
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<sparql xmlns="{_XML_NS}">\n', "  <head>\n"]
    parts += [f"    <variable name={quoteattr(var)}/>\n" for var in result.variables]
    parts.append("  </head>\n  <results>\n")
    for row in result.rows:
        parts.append("    <result>\n")
        parts += [f"      <binding name={quoteattr(var)}>{_xml_term(row[var])}</binding>\n"
                  for var in result.variables if var in row]
        parts.append("    </result>\n")
    parts.append("  </results>\n</sparql>\n")
    return "".join(parts).encode()


def _csv_field(value: str) -> str:
    # CSV/TSV §2 (after RFC 4180): fields holding a quote, comma, CR or LF are quoted, quotes doubled.
    if any(c in value for c in '",\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_value(term: object) -> str:
    # §2: IRIs and literals as plain strings (lossy: no language, no datatype), blank nodes as _:label.
    if term is None:
        return ""
    kind, value, _, _ = term_parts(term)
    return f"_:{value}" if kind == "bnode" else value


def _select_csv(result: SelectResult) -> bytes:
    # §2: a header line of the variable names (without "?"), then one line per row; lines end in CRLF.
    lines = [",".join(_csv_field(v) for v in result.variables)]
    lines += [",".join(_csv_field(_csv_value(row.get(v))) for v in result.variables) for row in result.rows]
    return ("\r\n".join(lines) + "\r\n").encode()


_NT_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _nt_string(value: str) -> str:
    return '"' + "".join(_NT_STRING_ESCAPES.get(c, c) for c in value) + '"'


def _nt_iri(value: str) -> str:
    # N-Triples IRIREF excludes <>"{}|^`\ and characters up to U+0020: written as \\uXXXX escapes.
    return "<" + "".join(f"\\u{ord(c):04X}" if c in '<>"{}|^`\\' or ord(c) <= 0x20 else c for c in value) + ">"


def tsv_term(term: object) -> str:
    """An RDF term in the syntax of N-Triples (a subset of the Turtle/SPARQL syntax TSV §3 asks for), on one line."""
    if term is None:
        return ""
    kind, value, language, datatype = term_parts(term)
    if kind == "uri":
        return _nt_iri(value)
    if kind == "bnode":
        return f"_:{value}"
    if language:
        return f"{_nt_string(value)}@{language}"
    if datatype is not None:
        return f"{_nt_string(value)}^^{_nt_iri(datatype)}"
    return _nt_string(value)


def _select_tsv(result: SelectResult) -> bytes:
    # §3: a header line of "?"-prefixed variables, then the terms separated by tabs; lines end in LF.
    lines = ["\t".join(f"?{v}" for v in result.variables)]
    lines += ["\t".join(tsv_term(row.get(v)) for v in result.variables) for row in result.rows]
    return ("\n".join(lines) + "\n").encode()


_SELECT_WRITERS = {"json": _select_json, "xml": _select_xml, "csv": _select_csv, "tsv": _select_tsv}


# -- graphs --------------------------------------------------------------------------------------------------------
def write_graph(graph: Graph, writer: str) -> bytes:
    """A graph (CONSTRUCT, DESCRIBE, the service description) in the rdflib format named ``writer``."""
    if writer == "turtle":
        bind_prefixes(graph)  # readable Turtle: fairkg's prefixes where the graph uses them
    out = graph.serialize(format=writer, encoding="utf-8")
    return out if isinstance(out, bytes) else out.encode()


__all__ = [
    "ASK_FORMATS", "Format", "GRAPH_FORMATS", "SELECT_FORMATS", "negotiate", "parse_accept", "tsv_term", "write_ask",
    "write_graph", "write_select",
]

"""Graphs written straight as N-Triples, without rdflib: how records are built at registration speed.

A record only ever goes to the store, and the store takes N-Triples. Building it as an rdflib graph cost ~20 ms a
model (term objects, validation, a store with three indexes), then ~9 ms to serialise and re-parse; writing the
N-Triples terms directly costs ~1 µs a triple. Terms are plain strings already in N-Triples syntax:

>>> g = Triples()
>>> g.add(iri("http://example.org/m"), T.rdf.type, T.schema.Person)
>>> g.add(iri("http://example.org/m"), T.schema.name, literal('Ada "the first"'))
>>> print(g.ntriples().decode(), end="")
<http://example.org/m> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/Person> .
<http://example.org/m> <http://schema.org/name> "Ada \\"the first\\"" .

The lexical forms match what rdflib writes for the same Python values (``tests/test_ntriples.py`` checks it), so
records are the same triples as when they were built with rdflib; non-finite doubles are written in their XSD form
(``NaN``, ``INF``, ``-INF``), where rdflib wrote Python's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator

import pyoxigraph as ox

from fairkg.kg.namespaces import PREFIXES

XSD = "http://www.w3.org/2001/XMLSchema#"

# What a fragment part built from free text (a tensor or hyperparameter name) keeps as it is: RFC 3987's ifragment
# characters (unreserved, sub-delims, ":@/?" and the "ucschar" ranges), except "%", which is always encoded so that
# two names never give one IRI ("a b" and "a%20b").
_FRAGMENT_KEEPS = re.compile(
    "[A-Za-z0-9\\-._~!$&'()*+,;=:@/?"
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    "\U00010000-\U0001fffd\U00020000-\U0002fffd\U00030000-\U0003fffd\U00040000-\U0004fffd"
    "\U00050000-\U0005fffd\U00060000-\U0006fffd\U00070000-\U0007fffd\U00080000-\U0008fffd"
    "\U00090000-\U0009fffd\U000a0000-\U000afffd\U000b0000-\U000bfffd\U000c0000-\U000cfffd"
    "\U000d0000-\U000dfffd\U000e1000-\U000efffd]*")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}
_TO_ESCAPE = re.compile(r'[\\"\n\r]')


def iri(value: str) -> str:
    """The N-Triples term of the absolute IRI ``value``, checked as the store checks it (RFC 3987).

    Raises:
        ValueError: ``value`` is not an absolute IRI (a relative reference, a space, a bad percent-encoding...).
    """
    try:
        ox.NamedNode(value)  # Oxigraph's own parser: what it accepts here, the bulk loader accepts later
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an absolute IRI: {exc}") from None
    return f"<{value}>"


def fragment(text: str) -> str:
    """``text`` made safe as part of an IRI fragment: what RFC 3987 forbids there, and every "%", is
    percent-encoded (as UTF-8); two different texts never give the same fragment."""
    if _FRAGMENT_KEEPS.fullmatch(text):
        return text
    out = []
    for char in text:
        if _FRAGMENT_KEEPS.fullmatch(char):
            out.append(char)
        else:  # surrogatepass: a lone surrogate still gets a distinct, valid encoding
            out.append("".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass")))
    return "".join(out)


def literal(value: str) -> str:
    """A plain (``xsd:string``) literal."""
    if _TO_ESCAPE.search(value):
        value = _TO_ESCAPE.sub(lambda m: _ESCAPES[m.group()], value)
    return f'"{value}"'


def typed(lexical: str, datatype: str) -> str:
    """A literal with ``datatype`` (an N-Triples IRI term, e.g. ``T.xsd.dateTime``)."""
    return f"{literal(lexical)}^^{datatype}"


def integer(value: int) -> str:
    """An ``xsd:integer`` literal."""
    return f'"{int(value)}"^^<{XSD}integer>'


def double(value: float) -> str:
    """An ``xsd:double`` literal, with the lexical form rdflib gives a Python float."""
    value = float(value)
    if math.isnan(value):
        text = "NaN"
    elif math.isinf(value):
        text = "INF" if value > 0 else "-INF"
    else:
        text = str(value)
    return f'"{text}"^^<{XSD}double>'


def boolean(value: bool) -> str:
    """An ``xsd:boolean`` literal."""
    return f'"{"true" if value else "false"}"^^<{XSD}boolean>'


def value_literal(value: str | int | float | bool) -> str:
    """The literal for a card value, typed by its Python type (a bool before an int: ``True`` is an int too)."""
    if isinstance(value, bool):
        return boolean(value)
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, float):
        return double(value)
    return literal(value)


class NTriples(bytes):
    """N-Triples written by :class:`Triples`: one triple a line, every term checked or escaped when it was made.
    The store bulk-loads it without parsing it first (:meth:`fairkg.kg.store.oxigraph.OxigraphStore.load_graphs`),
    which is ~1 ms a model record."""

    __slots__ = ()


class Vocabulary:
    """The N-Triples terms of one namespace, by attribute (``T.dcat.version``) or item (``T.fkg["split"]``)."""

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        term = f"<{self._namespace}{name}>"
        setattr(self, name, term)  # looked up once: later reads are plain attribute reads
        return term

    def __getitem__(self, name: str) -> str:
        return self.__getattr__(name)


class _Vocabularies:
    """Every namespace of :data:`fairkg.kg.namespaces.PREFIXES` (and foaf), by prefix."""

    def __init__(self) -> None:
        for prefix, namespace in PREFIXES.items():
            setattr(self, prefix, Vocabulary(str(namespace)))
        self.foaf = Vocabulary("http://xmlns.com/foaf/0.1/")
        self.orcid = Vocabulary("https://orcid.org/")
        self.spdx_licenses = Vocabulary("http://spdx.org/licenses/")

    def __getattr__(self, name: str) -> Vocabulary:  # for type checkers: prefixes are set in __init__
        raise AttributeError(f"no namespace with the prefix {name!r}")


#: the namespaces' terms: ``T.rdf.type``, ``T.dcterms.title``, ``T.xsd.dateTime``...
T = _Vocabularies()


class Triples:
    """The triples of one graph, as N-Triples terms (strings), in the order added, without duplicates."""

    __slots__ = ("_triples",)

    def __init__(self, triples: Iterable[tuple[str, str, str]] = ()) -> None:
        self._triples: dict[tuple[str, str, str], None] = dict.fromkeys(triples)

    def add(self, subject: str, predicate: str, obj: str) -> None:
        """Add one triple (terms as returned by :func:`iri`, :func:`literal`, :data:`T`...)."""
        self._triples[(subject, predicate, obj)] = None

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        return iter(self._triples)

    def __len__(self) -> int:
        return len(self._triples)

    def __contains__(self, triple: object) -> bool:
        return triple in self._triples

    def value(self, subject: str, predicate: str) -> str | None:
        """The object of the first triple with ``subject`` and ``predicate``, or None."""
        return next((o for s, p, o in self._triples if s == subject and p == predicate), None)

    def ntriples(self) -> NTriples:
        """The graph as N-Triples, one triple per line."""
        return NTriples("".join(f"{s} {p} {o} .\n" for s, p, o in self._triples).encode())

    def to_rdflib(self):  # noqa: ANN201 - an rdflib Graph; rdflib is imported only when asked
        """The graph as an rdflib ``Graph`` (for callers that read a record rather than write it)."""
        from rdflib import Graph

        return Graph(bind_namespaces="none").parse(data=self.ntriples(), format="nt")

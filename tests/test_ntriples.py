"""kg.ntriples: N-Triples terms written as strings must be the terms rdflib wrote before (literals), IRIs the store
accepts, and fragments built from free text that are valid and tell names apart."""

from __future__ import annotations

import math

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef

from fairkg.kg.ntriples import NTriples, T, Triples, fragment, integer, iri, literal, typed, value_literal

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_NS = "http://www.w3.org/2001/XMLSchema#"
# not rdflib's XSD namespace: pytest looks up attributes on test modules' globals, and it warns on unknown names
XSD_BOOLEAN, XSD_INTEGER, XSD_DOUBLE = (URIRef(f"{XSD_NS}{name}") for name in ("boolean", "integer", "double"))


def _parse(data: bytes | str) -> list[ox.Triple]:
    quads = ox.parse(data.encode() if isinstance(data, str) else data, format=ox.RdfFormat.N_TRIPLES)
    return [quad.triple for quad in quads]


def _ours(value: object) -> list[ox.Triple]:
    return _parse(f"<http://s> <http://p> {value_literal(value)} .\n")


def _rdflib(value: object) -> list[ox.Triple]:
    """The triple as the records built with rdflib held it (kg/records.py before kg.ntriples: a bool is
    xsd:boolean, an int xsd:integer, a float xsd:double, a str a plain literal)."""
    datatype = (XSD_BOOLEAN if isinstance(value, bool) else XSD_INTEGER if isinstance(value, int)
                else XSD_DOUBLE if isinstance(value, float) else None)
    graph = Graph()
    graph.add((URIRef("http://s"), URIRef("http://p"), Literal(value, datatype=datatype)))
    return _parse(graph.serialize(format="nt", encoding="utf-8"))


FINITE_VALUES = [
    0, 1, -1, 42, 2**63, -(2**63) - 1, 10**40, -(10**50),
    0.0, -0.0, 1.0, -2.5, 0.1 + 0.2, 1e20, 1e-7, 1e16, 1e15, 123456789.123, 5e-324, 1.7976931348623157e308, 3e-5,
    True, False,
    "", "plain", 'say "hi"', "back\\slash", "\\n is not a newline", "line\nfeed", "carriage\rreturn", "tab\there",
    "ctrl \x01 \x1f \x7f \x00 \x08 \x0c", "é ü ß 中文 Ελληνικά", "line\u2028separator\u2029", "emoji 😀🧪", "\ufeffbom",
    'all "\\\n\r\t" at once', ' trailing .', "ends with .\n",
]


@pytest.mark.parametrize("value", FINITE_VALUES, ids=repr)
def test_literals_are_the_triples_rdflib_wrote(value: object) -> None:
    ours = _ours(value)
    assert ours == _rdflib(value)
    assert len(ours) == 1


@pytest.mark.parametrize(("value", "lexical"), [(math.nan, "NaN"), (math.inf, "INF"), (-math.inf, "-INF")])
def test_non_finite_doubles_are_written_in_xsd_form(value: float, lexical: str) -> None:
    """rdflib writes ``"nan"``/``"inf"``/``"-inf"``, which are not xsd:double lexical forms; kg.ntriples writes XSD's
    ``NaN``/``INF``/``-INF``: the one place where the records' terms differ from rdflib's (the same value read back,
    but a different literal: a record built before kg.ntriples and one built now are not the same triples)."""
    (triple,) = _ours(value)
    assert triple.object == ox.Literal(lexical, datatype=ox.NamedNode(f"{XSD_NS}double"))
    back = Literal(lexical, datatype=XSD_DOUBLE).toPython()
    assert repr(back) == repr(value)
    (rdflib_triple,) = _rdflib(value)
    assert rdflib_triple.object.value == lexical.lower()  # rdflib's form: another RDF term for the same value


def test_a_bool_is_a_boolean_not_an_integer() -> None:
    assert value_literal(True) == f'"true"^^<{XSD_NS}boolean>'
    assert value_literal(1) == f'"1"^^<{XSD_NS}integer>'
    assert value_literal(1.0) == f'"1.0"^^<{XSD_NS}double>'
    assert value_literal("1") == '"1"'


@pytest.mark.parametrize("value", [
    "http://example.org", "https://example.org/a/b?c=d&e=f#g", "http://localhost:8000/id/1234", "urn:isbn:0451450523",
    "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", "mailto:someone@example.org", "https://例え.jp/パス",
    "http://example.org/café", "https://doi.org/10.5072/test.model", "https://github.com/example/train-3",
    "http://example.org/%41%20b", "ftp://user@example.org:21/x",
])
def test_iri_accepts_absolute_iris(value: str) -> None:
    term = iri(value)
    assert term == f"<{value}>"
    assert _parse(f"{term} <http://p> <http://o> .\n")[0].subject == ox.NamedNode(value)


@pytest.mark.parametrize("value", [
    "", "relative/path", "/absolute/path", "//example.org/x", "#frag", "example.org", "1http://x", "not a url",
    "http://example.org/a b", " http://example.org", "http://example.org/a\"b", "http://example.org/<x>",
    "http://example.org/>", "http://example.org/a\nb", "http://example.org/a\tb", "http://example.org/\x00",
    "http://example.org/\x7f", "http://example.org/a\\b", "http://example.org/{x}", "http://example.org/a|b",
    "http://example.org/a^b", "http://example.org/a`b",
])
def test_iri_refuses_what_is_not_an_absolute_iri(value: str) -> None:
    with pytest.raises(ValueError, match="not an absolute IRI"):
        iri(value)


STORE_REFUSES = ["http://example.org/100%", "http://example.org/%zz", "https://github.com/a/b#x#y",
                 "http://example.org:PORT/", "http://example.org/[x]", "http://example.org/\x85", "http://example.org/\ufffe"]


@pytest.mark.parametrize("value", STORE_REFUSES, ids=repr)
def test_the_store_refuses_these_iris(value: str) -> None:
    with pytest.raises(ValueError):
        ox.NamedNode(value)
    with pytest.raises(SyntaxError):
        _parse(f"<{value}> <http://p> <http://o> .\n")


@pytest.mark.parametrize("value", STORE_REFUSES, ids=repr)
def test_iri_refuses_what_the_store_refuses(value: str) -> None:
    with pytest.raises(ValueError):
        iri(value)


VALID_NAMES = ["lr", "batch_size", "x.y-z~1", "A", "é", "数据", "😀", "a/b?c", "a:b@c", "!$&'()*+,;=", "\u00a0nbsp"]
# valid in an IRI, but a "%" is always encoded so that "a%20b" and "a b" stay apart
PERCENT_NAMES = {"%41": "%2541", "a%2Fb": "a%252Fb"}
ODD_NAMES = ["learning rate", "a#b", "##", 'say "x"', "%", "%4", "50%", "%zz", "%%41", "<tag>", "{x}", "a|b", "a\\b",
             "a^b", "a`b", "tab\t", "nl\n", "cr\r", "\x00", "\x01", "\x1f", "\x7f", " ", "a b#c%d"]


@pytest.mark.parametrize("name", VALID_NAMES, ids=repr)
def test_fragment_leaves_valid_names_as_they_are(name: str) -> None:
    assert fragment(name) == name
    ox.NamedNode("http://e/x#hp-" + name)


@pytest.mark.parametrize(("name", "expected"), PERCENT_NAMES.items(), ids=repr)
def test_fragment_always_encodes_a_percent_sign(name: str, expected: str) -> None:
    assert fragment(name) == expected
    ox.NamedNode("http://e/x#hp-" + fragment(name))


@pytest.mark.parametrize("name", ODD_NAMES, ids=repr)
def test_fragment_makes_any_name_a_valid_iri_fragment(name: str) -> None:
    made = fragment(name)
    assert made != name
    ox.NamedNode("http://e/x#hp-" + made)  # raises ValueError on an invalid IRI
    _parse(f"<http://e/x#hp-{made}> <http://p> <http://o> .\n")


def test_fragment_tells_names_apart() -> None:
    names = VALID_NAMES + ODD_NAMES
    fragments = [fragment(name) for name in names]
    assert len(set(fragments)) == len(names), {f: [n for n in names if fragment(n) == f] for f in fragments}


@pytest.mark.parametrize("name", ["betas[0]", "a]", "\x85", "\ufffe", "\ue000"], ids=repr)
def test_fragment_encodes_brackets_and_other_characters_iris_forbid(name: str) -> None:
    ox.NamedNode("http://e/x#hp-" + fragment(name))


def test_fragment_is_injective_on_names_that_look_encoded() -> None:
    assert fragment("learning rate") != fragment("learning%20rate")
    assert fragment("a#b") != fragment("a%23b")


def _sample() -> tuple[Triples, list[tuple[str, str, str]], list[ox.Triple]]:
    s, o = iri("http://example.org/s"), iri("http://example.org/o")
    terms = [
        (s, T.rdf.type, T.schema.Person),
        (s, T.schema.name, literal('Ada "the first"\nLovelace')),
        (s, T.schema.position, integer(3)),
        (s, T.dcterms.issued, typed("2026", T.xsd.gYear)),
        (s, T.fkg["split"], literal("train")),
        (o, T.schema.name, literal("")),
        (s, T.dcterms.relation, o),
        (s, T.mls.hasValue, value_literal(0.5)),
        (s, T.mls.hasValue, value_literal(False)),
    ]
    expected = [
        ox.Triple(ox.NamedNode("http://example.org/s"), ox.NamedNode(RDF_TYPE), ox.NamedNode("http://schema.org/Person")),
        ox.Triple(ox.NamedNode("http://example.org/s"), ox.NamedNode("http://schema.org/name"),
                  ox.Literal('Ada "the first"\nLovelace')),
        ox.Triple(ox.NamedNode("http://example.org/s"), ox.NamedNode("http://schema.org/position"),
                  ox.Literal("3", datatype=ox.NamedNode(f"{XSD_NS}integer"))),
        ox.Triple(ox.NamedNode("http://example.org/s"), ox.NamedNode("http://purl.org/dc/terms/issued"),
                  ox.Literal("2026", datatype=ox.NamedNode(f"{XSD_NS}gYear"))),
        ox.Triple(ox.NamedNode("http://example.org/s"), ox.NamedNode("https://w3id.org/fairkg/ontology#split"),
                  ox.Literal("train")),
        ox.Triple(ox.NamedNode("http://example.org/o"), ox.NamedNode("http://schema.org/name"), ox.Literal("")),
        ox.Triple(ox.NamedNode("http://example.org/s"), ox.NamedNode("http://purl.org/dc/terms/relation"),
                  ox.NamedNode("http://example.org/o")),
        ox.Triple(ox.NamedNode("http://example.org/s"), ox.NamedNode("http://www.w3.org/ns/mls#hasValue"),
                  ox.Literal("0.5", datatype=ox.NamedNode(f"{XSD_NS}double"))),
        ox.Triple(ox.NamedNode("http://example.org/s"), ox.NamedNode("http://www.w3.org/ns/mls#hasValue"),
                  ox.Literal("false", datatype=ox.NamedNode(f"{XSD_NS}boolean"))),
    ]
    graph = Triples()
    for triple in terms:
        graph.add(*triple)
    return graph, terms, expected


def test_triples_keep_order_drop_duplicates_and_parse_back_to_what_was_added() -> None:
    graph, terms, expected = _sample()
    for triple in reversed(terms):  # added again, in another order: nothing changes
        graph.add(*triple)
    assert list(graph) == terms and len(graph) == len(terms)
    assert terms[1] in graph and (terms[0][0], T.rdf.type, T.schema.Organization) not in graph
    assert graph.value(terms[0][0], T.mls.hasValue) == value_literal(0.5)  # the first one added
    assert graph.value(terms[0][0], T.dcterms.title) is None
    data = graph.ntriples()
    assert isinstance(data, NTriples) and isinstance(data, bytes)
    assert data.count(b"\n") == len(terms) and data.endswith(b" .\n")
    assert _parse(data) == expected
    assert Triples(terms + terms).ntriples() == data
    assert Triples().ntriples() == b""


def test_triples_to_rdflib_holds_the_same_triples() -> None:
    graph, _terms, _expected = _sample()
    converted = graph.to_rdflib()
    assert isinstance(converted, Graph) and len(converted) == len(graph)
    assert set(_parse(converted.serialize(format="nt", encoding="utf-8"))) == set(_parse(graph.ntriples()))


def test_vocabulary_terms_are_iri_terms() -> None:
    assert T.rdf.type == f"<{RDF_TYPE}>"
    assert T.xsd.dateTime == f"<{XSD_NS}dateTime>"
    assert T.fkg["split"] == T.fkg.split
    assert T.foaf.primaryTopic == "<http://xmlns.com/foaf/0.1/primaryTopic>"
    with pytest.raises(AttributeError):
        T.nosuchprefix  # noqa: B018

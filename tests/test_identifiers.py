from __future__ import annotations

import pytest
from rdflib import Graph, Literal, URIRef

from fairkg.kg.errors import IdentifierError, NotFoundError
from fairkg.kg.identifiers import (
    is_test_doi,
    key_of,
    lookup,
    mint_ark,
    mint_doi,
    parse_identifier,
    resource_iri,
    uuid_for,
)
from fairkg.kg.namespaces import DATACITE, LITERAL
from fairkg.kg.store import open_store

BASE = "http://localhost:8000"


@pytest.mark.parametrize("spelling", [
    "10.5072/Fairkg.X", "doi:10.5072/fairkg.x", "DOI:10.5072/FAIRKG.X", "https://doi.org/10.5072/fairkg.x",
    "http://dx.doi.org/10.5072/fairkg.x", "  10.5072/fairkg.x  ",
])
def test_every_doi_spelling_normalises_to_the_bare_lower_case_doi(spelling: str) -> None:
    assert parse_identifier(spelling) == parse_identifier("10.5072/fairkg.x")
    assert parse_identifier(spelling).value == "10.5072/fairkg.x"


def test_ark_minid_uuid_and_resource_iri_spellings() -> None:
    assert parse_identifier("ark:/99999/fk4abc").value == "ark:/99999/fk4abc"
    assert parse_identifier("ark:99999/fk4abc").value == "ark:/99999/fk4abc"
    assert parse_identifier("https://n2t.net/ark:/99999/fk4abc").value == "ark:/99999/fk4abc"
    assert parse_identifier("minid:b9Xz7").scheme == "minid"
    key = "6f1c6c2e-6c55-5b8e-9a43-3f5d1b7e2a10"
    assert parse_identifier(key.upper()) == parse_identifier(key)
    assert parse_identifier(f"{BASE}/id/{key}", base_iri=BASE).value == key
    assert parse_identifier("https://example.org/x").scheme == "url"


@pytest.mark.parametrize("bad", ["", "   ", "10.5072", "doi:11.1/x", "hello world", "ark:/12/x"])
def test_non_identifiers_are_refused_with_what_was_expected(bad: str) -> None:
    with pytest.raises(IdentifierError, match="expected|empty|not a DOI"):
        parse_identifier(bad)


def test_minted_identifiers_are_deterministic_and_under_test_prefixes() -> None:
    assert mint_doi("Digits CNN") == mint_doi("Digits CNN") == "10.5072/fairkg.digits-cnn"
    assert is_test_doi(mint_doi("x")) and not is_test_doi("10.1234/x")
    assert mint_ark("x") == mint_ark("x") and mint_ark("x").startswith("ark:/99999/fk4")
    assert uuid_for("10.5072/a") == uuid_for("https://doi.org/10.5072/A") != uuid_for("10.5072/b")


def test_key_of_inverts_resource_iri_and_refuses_foreign_iris() -> None:
    key = uuid_for("10.5072/a")
    assert key_of(resource_iri(BASE, key)) == key
    assert key_of(f"{resource_iri(BASE, key)}#input-x") == key
    with pytest.raises(IdentifierError):
        key_of("https://example.org/thing")


def test_lookup_finds_the_resource_for_every_spelling_with_one_query() -> None:
    store = open_store("oxigraph:")
    key = uuid_for("10.5072/a")
    node = resource_iri(BASE, key)
    graph = Graph()
    ident = URIRef(f"{node}#doi-identifier")
    graph.add((node, DATACITE.hasIdentifier, ident))
    graph.add((ident, LITERAL.hasLiteralValue, Literal("10.5072/a")))
    alt = URIRef(f"{node}#ark")
    graph.add((node, DATACITE.hasIdentifier, alt))
    graph.add((alt, LITERAL.hasLiteralValue, Literal("ark:/99999/fk4a")))
    store.replace_graph(str(node), graph)
    for spelling in ["10.5072/A", "https://doi.org/10.5072/a", "ark:99999/fk4a", key, str(node)]:
        assert lookup(store, spelling, base_iri=BASE) == node
    with pytest.raises(NotFoundError, match="10.5072/unknown"):
        lookup(store, "10.5072/unknown", base_iri=BASE)
    with pytest.raises(NotFoundError):
        lookup(store, uuid_for("10.5072/unknown"), base_iri=BASE)

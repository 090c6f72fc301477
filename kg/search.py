"""Search over the registered models and datasets (FAIR F4), with facets, as SPARQL.

A query is split into words; a resource matches when every word occurs (case-insensitively) in its title, a
keyword, a creator's name or its description. Each word scores its best field: title 8, keyword 4, creator 2,
description 1; results are ranked by the sum, then by title. Facets (kind, licence, task, framework, training
dataset) are counted with ``GROUP BY`` over the matching resources, filters included. Every value from the user is
written into the query as an escaped literal (rdflib's ``.n3()``), never spliced in as text.

:func:`display_names` gives the human name of any resources (title, name or label), for pages that show links.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from rdflib import Literal, URIRef

from fairkg.kg.namespaces import SPARQL_PREFIXES
from fairkg.kg.store.base import Store

#: The facets, in the order pages show them.
FACETS = ("kind", "licence", "task", "framework", "dataset")
MAX_WORDS = 10
MAX_PAGE_SIZE = 100

# Each binds ?v to the facet's value(s) of ?r.
_FACET_VALUE = {
    "kind": '?r a ?kt . VALUES (?kt ?v) { (mls:Model "model") (mls:Dataset "dataset") }',
    "licence": "?r dcterms:license ?v .",
    "task": "?r fair4ml:mlTask ?v .",
    "framework": "?r schema:runtimePlatform ?v .",
    "dataset": "?r fair4ml:trainedOn ?v .",
}
# Field patterns binding ?x, with the score a word found there earns.
_FIELDS = (("?r dcterms:title ?x", 8), ("?r dcat:keyword ?x", 4), ("?r dcterms:creator/schema:name ?x", 2),
           ("?r dcterms:description ?x", 1))
_RESOURCES = "VALUES ?type { mls:Model mls:Dataset } ?r a ?type ."


@dataclass(frozen=True)
class SearchHit:
    """One model or dataset found."""

    iri: str
    kind: str  # "model" | "dataset"
    title: str | None
    score: int
    description: str | None = None
    keywords: list[str] = field(default_factory=list)
    creators: list[str] = field(default_factory=list)
    licence: str | None = None
    doi: str | None = None
    withdrawn: bool = False


@dataclass(frozen=True)
class FacetValue:
    """A value of a facet, its label where the graph has one, and how many results have it."""

    value: str
    label: str | None
    count: int


@dataclass(frozen=True)
class SearchResults:
    """A page of results, the total number of matches, and the facets over all matches."""

    text: str
    total: int
    limit: int
    offset: int
    hits: list[SearchHit]
    facets: dict[str, list[FacetValue]]
    filters: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The results as plain JSON-ready data."""
        return {"query": self.text, "filters": self.filters, "total": self.total, "limit": self.limit,
                "offset": self.offset, "results": [asdict(h) for h in self.hits],
                "facets": {name: [asdict(v) for v in values] for name, values in self.facets.items()}}


def search_words(text: str) -> list[str]:
    """The lower-cased words of a search text (at most :data:`MAX_WORDS`).

    >>> search_words("  Digits CNN  ")
    ['digits', 'cnn']
    """
    return list(dict.fromkeys(text.lower().split()))[:MAX_WORDS]


def search(store: Store, text: str = "", *, filters: Mapping[str, Sequence[str]] | None = None, limit: int = 20,
           offset: int = 0, timeout: float | None = None) -> SearchResults:
    """Models and datasets matching ``text`` and ``filters`` (facet name -> accepted values; a resource passes
    a facet when it has any of the values, and must pass every facet given), best first.

    An empty ``text`` matches everything, so filters alone browse the registry.

    Raises:
        ValueError: a filter names no facet in :data:`FACETS`.

    >>> from fairkg.kg.store import open_store
    >>> search(open_store("oxigraph:"), 'nothing"} here').total
    0
    """
    unknown = set(filters or {}) - set(FACETS)
    if unknown:
        raise ValueError(f"unknown facet(s) {', '.join(sorted(unknown))}: filter by {', '.join(FACETS)}")
    chosen = {name: list(dict.fromkeys(values)) for name, values in (filters or {}).items() if values}
    limit = min(max(int(limit), 1), MAX_PAGE_SIZE)
    offset = max(int(offset), 0)
    words = search_words(text)
    where = _where(words, chosen)
    score = " + ".join(f"MAX(?s{i})" for i in range(len(words))) or "0"
    page = (f"{SPARQL_PREFIXES}SELECT ?r ({score} AS ?score) (SAMPLE(?t) AS ?title) WHERE {{ {where}"
            f" OPTIONAL {{ ?r dcterms:title ?t }} }} GROUP BY ?r ORDER BY DESC(?score) ?title ?r"
            f" LIMIT {limit} OFFSET {offset}")
    ranked = [(URIRef(str(row["r"])), int(row["score"]), _opt(row, "title"))  # type: ignore[call-overload]
              for row in store.query(page, timeout=timeout).bindings()]
    count = f"{SPARQL_PREFIXES}SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE {{ {where} }}"
    total = int(next(store.query(count, timeout=timeout).bindings(), {"n": 0})["n"])  # type: ignore[call-overload]
    return SearchResults(text=text, total=total, limit=limit, offset=offset, hits=_hits(store, ranked, timeout),
                         facets=_facets(store, where, timeout), filters=chosen)


def _where(words: list[str], filters: Mapping[str, list[str]]) -> str:
    parts = [_RESOURCES]
    for i, word in enumerate(words):
        needle = Literal(word).n3()
        branches = [f"{{ {pattern.replace('?x', f'?x{i}')} . BIND({points} AS ?s{i})"
                    f" FILTER(CONTAINS(LCASE(STR(?x{i})), {needle})) }}" for pattern, points in _FIELDS]
        parts.append(" UNION ".join(branches))
    for name, values in filters.items():
        accepted = ", ".join(Literal(str(value)).n3() for value in values)
        pattern = _FACET_VALUE[name].replace("?v", f"?f_{name}")
        parts.append(f"FILTER EXISTS {{ {pattern} FILTER(STR(?f_{name}) IN ({accepted})) }}")
    return "\n".join(parts)


_DETAILS = SPARQL_PREFIXES + """
SELECT ?r (SAMPLE(?k0) AS ?kind) (SAMPLE(?d) AS ?description) (SAMPLE(?l) AS ?licence) (SAMPLE(?i) AS ?doi)
       (SAMPLE(?w) AS ?withdrawn) (GROUP_CONCAT(DISTINCT ?kw; separator="\\n") AS ?keywords)
       (GROUP_CONCAT(DISTINCT ?c; separator="\\n") AS ?creators) WHERE {
  VALUES ?r { ?resources }
  BIND(IF(EXISTS { ?r a mls:Model }, "model", "dataset") AS ?k0)
  OPTIONAL { ?r dcterms:description ?d } OPTIONAL { ?r dcterms:license ?l } OPTIONAL { ?r dcterms:identifier ?i }
  OPTIONAL { ?r fkg:withdrawn ?w } OPTIONAL { ?r dcat:keyword ?kw } OPTIONAL { ?r dcterms:creator/schema:name ?c }
} GROUP BY ?r
"""


def _hits(store: Store, ranked: list[tuple[URIRef, int, str | None]], timeout: float | None) -> list[SearchHit]:
    if not ranked:
        return []
    query = _DETAILS.replace("?resources", " ".join(iri.n3() for iri, _, _ in ranked))
    details = {str(row["r"]): row for row in store.query(query, timeout=timeout).bindings()}
    hits = []
    for iri, score, title in ranked:
        row = details.get(str(iri), {})
        hits.append(SearchHit(
            iri=str(iri), kind=_opt(row, "kind") or "model", title=title, score=score,
            description=_opt(row, "description"), keywords=sorted(_split(row, "keywords")),
            creators=sorted(_split(row, "creators")), licence=_opt(row, "licence"), doi=_opt(row, "doi"),
            withdrawn=str(row.get("withdrawn", "")).lower() in ("true", "1")))
    return hits


def _facets(store: Store, where: str, timeout: float | None) -> dict[str, list[FacetValue]]:
    branches = " UNION ".join(f'{{ BIND("{name}" AS ?facet) {pattern} }}' for name, pattern in _FACET_VALUE.items())
    query = (f"{SPARQL_PREFIXES}SELECT ?facet ?v (SAMPLE(?l) AS ?label) (COUNT(DISTINCT ?r) AS ?n) WHERE {{"
             f" {{ SELECT DISTINCT ?r WHERE {{ {where} }} }} {branches}"
             " OPTIONAL { ?v dcterms:title|rdfs:label ?l } } GROUP BY ?facet ?v ORDER BY ?facet DESC(?n) ?v")
    facets: dict[str, list[FacetValue]] = {name: [] for name in FACETS}
    for row in store.query(query, timeout=timeout).bindings():
        facets[str(row["facet"])].append(FacetValue(str(row["v"]), _opt(row, "label"),
                                                    int(row["n"])))  # type: ignore[call-overload]
    return facets


_NAMES = SPARQL_PREFIXES + """
SELECT ?r (SAMPLE(COALESCE(?t, ?n, ?p, ?l)) AS ?name) WHERE {
  VALUES ?r { ?resources }
  OPTIONAL { ?r dcterms:title ?t } OPTIONAL { ?r schema:name ?n } OPTIONAL { ?r skos:prefLabel ?p }
  OPTIONAL { ?r rdfs:label ?l }
} GROUP BY ?r
"""


def display_names(store: Store, iris: Iterable[URIRef], *, timeout: float | None = None) -> dict[str, str]:
    """The name to show for each IRI that has one in the graph: its title, else ``schema:name``, ``skos:prefLabel``
    or ``rdfs:label``. IRIs without any are left out.

    >>> from fairkg.kg.store import open_store
    >>> display_names(open_store("oxigraph:"), [URIRef("http://example.org/x")])
    {}
    """
    unique = list(dict.fromkeys(i for i in iris if isinstance(i, URIRef)))
    names: dict[str, str] = {}
    for start in range(0, len(unique), 200):
        chunk = unique[start:start + 200]
        query = _NAMES.replace("?resources", " ".join(iri.n3() for iri in chunk))
        for row in store.query(query, timeout=timeout).bindings():
            if "name" in row:
                names[str(row["r"])] = str(row["name"])
    return names


def _opt(row: Mapping[str, object], name: str) -> str | None:
    return str(row[name]) if name in row else None


def _split(row: Mapping[str, object], name: str) -> list[str]:
    return [part for part in str(row.get(name, "")).split("\n") if part]


__all__ = ["FACETS", "FacetValue", "SearchHit", "SearchResults", "display_names", "search", "search_words"]

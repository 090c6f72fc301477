"""The one small interface every graph store offers (see DESIGN.md, "The store").

Each registered record lives in its own named graph, replaced atomically; queries see the union of all named
graphs as their default graph unless the query names its dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

from rdflib import Graph

T = TypeVar("T")


@dataclass(frozen=True)
class SelectResult:
    """Variables and rows of a SELECT, each row a dict of variable -> rdflib term (unbound variables absent; the
    store's own terms where :meth:`AsyncQueryStore.query_async` was asked for ``native_terms``)."""

    variables: list[str]
    rows: list[dict[str, object]]
    truncated: bool = False


@dataclass(frozen=True)
class QueryResult:
    """The answer to any SPARQL query: exactly one of ``select``, ``boolean`` or ``graph`` is set."""

    kind: str  # "select" | "ask" | "graph"
    select: SelectResult | None = None
    boolean: bool | None = None
    graph: Graph | None = field(default=None)

    def bindings(self) -> Iterator[dict[str, object]]:
        """The rows of a SELECT (empty for other kinds)."""
        return iter(self.select.rows if self.select else [])


@runtime_checkable
class Store(Protocol):
    """A SPARQL store holding one named graph per record."""

    def query(self, sparql: str, *, timeout: float | None = None, limit: int | None = None,
              default_graph_uris: list[str] | None = None, named_graph_uris: list[str] | None = None,
              public: bool = False) -> QueryResult:
        """Run a SPARQL 1.1 query; the default graph is the union of the named graphs unless given.

        ``public``: the query comes from outside (the SPARQL endpoint, the query page). A store that cannot stop a
        running query keeps such queries apart from fairkg's own (resolution, pages, inference look-ups), so runaway
        public queries cannot starve the service.
        """
        ...

    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 update."""
        ...

    def replace_graph(self, name: str, graph: Graph) -> None:
        """Replace the named graph ``name`` by ``graph``, atomically."""
        ...

    def load_graphs(self, graphs: Mapping[str, Graph | bytes]) -> None:
        """Replace each named graph of ``graphs`` by its triples, an rdflib graph or UTF-8 N-Triples (one triple a
        line), several graphs at a time (bulk registration): afterwards each holds exactly the given triples. Not
        one transaction across the graphs; each graph is seen whole by readers (on a remote store, unless it is
        larger than one request). Graphs whose content is already stored may be left untouched."""
        ...

    def drop_graph(self, name: str) -> None:
        """Remove the named graph ``name`` (nothing happens if it does not exist)."""
        ...

    def get_graph(self, name: str) -> Graph:
        """The triples of the named graph ``name`` (empty if it does not exist)."""
        ...

    def graph_names(self) -> list[str]:
        """The names of every named graph."""
        ...

    def describe(self, iri: str) -> Graph:
        """Every triple with ``iri`` as subject or object, across all named graphs."""
        ...

    def dump(self) -> bytes:
        """The whole store as N-Quads."""
        ...

    def restore(self, nquads: bytes) -> None:
        """Replace the whole store by the N-Quads ``nquads``."""
        ...

    def count(self) -> int:
        """Number of quads in the store."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


@runtime_checkable
class AsyncQueryStore(Protocol):
    """A store that can also answer a query awaited from an asyncio event loop, without a thread of the caller's
    waiting for it (optional: callers fall back to :meth:`Store.query` in a worker thread)."""

    async def query_async(self, sparql: str, then: Callable[[QueryResult], T], *, timeout: float | None = None,
                          limit: int | None = None, default_graph_uris: list[str] | None = None,
                          named_graph_uris: list[str] | None = None, public: bool = False,
                          native_terms: bool = False) -> T:
        """:meth:`Store.query`, then ``then(result)`` off the event loop (serialising an answer there keeps the loop
        free); the deadline covers both. Raises what :meth:`Store.query` raises, and whatever ``then`` raises.

        ``native_terms``: the rows of a SELECT may hold the store's own term objects instead of rdflib's, for a
        ``then`` that reads both (:mod:`fairkg.api.sparql_results`' writers); converting every term to rdflib costs a
        third of a large answer's time. ASK and graph results are as :meth:`Store.query` gives them.
        """
        ...

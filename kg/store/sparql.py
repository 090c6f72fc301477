"""The remote store: any SPARQL 1.1 Query/Update endpoint, through SPARQLWrapper (DESIGN.md, "The store").

Tested against Virtuoso 7.2 (Debian's ``virtuoso-opensource``): queries on ``/sparql``, updates on
``/sparql-auth`` with HTTP digest authentication.

**The union default graph.** fairkg's queries see the union of every named graph as their default graph unless they
name a dataset (FROM / FROM NAMED, or ``default_graph_uris`` / ``named_graph_uris``). This store sends the query as
it is, so that semantics is the server's:

* Virtuoso: a query without FROM runs over every graph the user may read: the union. Virtuoso keeps its own graphs
  in the same store (``http://www.openlinksw.com/schemas/virtrdf#``, ``http://www.w3.org/ns/ldp#``,
  ``http://localuriqaserver/sparql``, and more once VAD packages or inference rule sets are installed); make them
  private with graph-level security (README, "A Virtuoso server") so that they stay out of the union.
* GraphDB: the default graph is the union of all graphs. Oxigraph server: start it with ``--union-default-graph``.
  Fuseki / TDB2: set ``tdb2:unionDefaultGraph true`` on the dataset. Stardog: ``query.all.graphs=true``.
  Elsewhere queries without FROM see only the server's own default graph.

The store's own reads (:meth:`SparqlStore.count`, :meth:`~SparqlStore.graph_names`, :meth:`~SparqlStore.describe`,
:meth:`~SparqlStore.dump`) go through ``GRAPH ?g`` and therefore hold on every server; they skip the server's own
graphs named in :data:`SYSTEM_GRAPHS`.

**Deadlines.** A query's deadline is the HTTP read timeout (the caller gets :class:`QueryTimeoutError` on time) and
is also sent as the ``timeout`` parameter in milliseconds, which Virtuoso honours server-side ("anytime" queries:
it stops the query, within about twice the deadline, and answers with partial results flagged by ``X-SQL-State:
S1TAT``, which this store turns into :class:`QueryTimeoutError` as well). Servers that read ``timeout`` in seconds
(Fuseki) get a generous limit from it, no harm. Virtuoso's ``MaxQueryExecutionTime`` ([SPARQL]) caps every query.

**Writes.** :meth:`SparqlStore.replace_graph` sends ``DROP SILENT GRAPH <g> ; INSERT DATA { GRAPH <g> {...} }`` as
one request: Virtuoso runs one request in one transaction, so readers see the old record or the new one, never an
empty graph (tested). Graphs larger than ``chunk_triples`` go in several requests, the first one together with the
DROP: while the later ones travel, readers see part of the new graph, and a failure half-way leaves it incomplete
(the error says so; replacing it again repairs it). :meth:`~SparqlStore.load_graphs` and
:meth:`~SparqlStore.bulk_load` pack many small graphs into each request. Triples with blank nodes go in an
``INSERT { ... } WHERE {}`` (Virtuoso refuses blank nodes in INSERT DATA), those linked by a blank node always in
the same request. On Virtuoso, INSERT DATA is prefixed with ``define sql:big-data-const 1``: without it Virtuoso
compiles each triple into SQL and refuses requests past ~1500 triples (SP031); with it ~5000-triple requests load at
~15-20k triples/s. No GRAPH block holds more than 1000 triples (Virtuoso's parser fails near 5000, SP030).

**Reads.** Results are asked for as SPARQL XML, which Virtuoso writes ~3x faster than JSON (JSON is read too).
Whole graphs, graph lists and dumps are read in pages of ``page_rows`` (at most Virtuoso's ``ResultSetMaxRows``,
whose cut it flags with ``X-SPARQL-MaxRows``: a query result cut there comes back ``truncated``).

**Credentials.** ``user``/``password`` go with every update, with HTTP digest (Virtuoso's ``/sparql-auth``) or
basic authentication. SPARQLWrapper installs its digest handler process-wide (``urllib.request.install_opener``):
use one digest-authenticated update endpoint per process.

**What Virtuoso changes.** It stores typed numbers, dates and booleans as values: ``"01"^^xsd:integer`` comes back
as ``"1"``, ``"1e3"^^xsd:double`` as ``"1000.0"``, ``xsd:long`` as ``xsd:integer``, booleans as ``"1"``/``"0"``
(read back here as ``true``/``false``), and ``true`` and ``1`` on the same subject and property collapse into one
triple; integers beyond 64 bits are refused (SR341). Language tags come back lower-cased (Oxigraph does the same).
Blank nodes get new labels (``nodeID://b10001``, read back as ``_:b10001``). Carriage returns in literals come back
raw in XML results, and are kept (escaped before parsing).
"""

from __future__ import annotations

import ast
import json
import logging
import re
import urllib.error
import xml.etree.ElementTree as ET  # noqa: N817 - the usual name
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.client import HTTPException

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node
from SPARQLWrapper import BASIC, DIGEST, INSERT, POST, SELECT, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed, SPARQLWrapperException, Unauthorized

from fairkg.kg.errors import QuerySyntaxError, QueryTimeoutError, StoreError
from fairkg.kg.store.base import QueryResult, SelectResult
from fairkg.kg.store.terms import RDF_LANG_STRING, XSD_STRING, ntriples_lines

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
XSD_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"
# Graphs the server keeps for itself, never listed, counted, dumped or dropped by fairkg: on a fresh Virtuoso 7.2, its
# RDF views and settings (virtrdf#) and the LDP vocabulary and URIQA graph it loads at start; the OWL ontology it
# loads with inference rule sets. Exact names, because a FILTER (?g NOT IN (...)) compares IDs and costs nothing,
# where string tests on every quad's graph made counts 10x slower. Other graphs on the server (DAV, VAD packages,
# other applications' data) count as fairkg's: give fairkg a server of its own, or make them private.
SYSTEM_GRAPHS = (
    "http://www.openlinksw.com/schemas/virtrdf#",
    "http://www.w3.org/ns/ldp#",
    "http://localuriqaserver/sparql",
    "http://www.w3.org/2002/07/owl#",
)
_RESULTS = "application/sparql-results+xml, application/sparql-results+json;q=0.9"
_RDF = "application/n-triples, text/plain;q=0.9, text/turtle;q=0.8, application/rdf+xml;q=0.7"
_RDF_PARSERS = {"application/n-triples": "nt", "text/plain": "nt", "text/turtle": "turtle",
                "application/turtle": "turtle", "application/rdf+xml": "xml"}
_BLOCK_TRIPLES = 1000
_LINKED_TRIPLES = 500
_DROPS_PER_REQUEST = 500
_TIMEOUT_CODES = ("S1T00", "SR171", "exceeds the limit")  # Virtuoso: transaction timed out, estimated time too long


@dataclass(frozen=True)
class _Response:
    body: bytes
    headers: Message


class SparqlStore:
    """A :class:`~fairkg.kg.store.base.Store` on a SPARQL 1.1 Query/Update endpoint (see the module docstring).

    Args:
        query_url: the query endpoint (Virtuoso: ``http://HOST:8890/sparql``).
        update_url: the update endpoint (Virtuoso: ``http://HOST:8890/sparql-auth``); default ``query_url``.
        user: user for HTTP authentication, sent to both endpoints when they ask for it.
        password: its password.
        http_auth: ``"digest"`` (Virtuoso) or ``"basic"``.
        default_timeout: seconds a query may run unless the call says otherwise.
        bulk_timeout: seconds one update or one page of a dump may take.
        chunk_triples: triples per update request when writing large graphs or loading in bulk.
        page_rows: rows per request when reading whole graphs or the whole store; at most the server's result cap
            (Virtuoso: ``ResultSetMaxRows``, 10000 by default).
        read_only: refuse every write.

    >>> SparqlStore("http://127.0.0.1:8890/sparql").update_url
    'http://127.0.0.1:8890/sparql'
    """

    def __init__(self, query_url: str, update_url: str | None = None, *, user: str | None = None,
                 password: str | None = None, http_auth: str = "digest", default_timeout: float = DEFAULT_TIMEOUT,
                 bulk_timeout: float = 300.0, chunk_triples: int = 5000, page_rows: int = 10_000,
                 read_only: bool = False) -> None:
        if http_auth not in ("digest", "basic"):
            raise ValueError(f"http_auth must be 'digest' or 'basic', not {http_auth!r}")
        self.query_url = query_url
        self.update_url = update_url or query_url
        self.user, self._password, self.http_auth = user, password, http_auth
        self.default_timeout = default_timeout
        self.bulk_timeout = bulk_timeout
        self.chunk_triples = max(1, chunk_triples)
        self.page_rows = max(1, page_rows)
        self.read_only = read_only
        self._virtuoso: bool | None = None  # learnt from the Server header before the first write

    # -- queries -------------------------------------------------------------------------------------------------
    def query(self, sparql: str, *, timeout: float | None = None, limit: int | None = None,
              default_graph_uris: list[str] | None = None, named_graph_uris: list[str] | None = None,
              public: bool = False) -> QueryResult:
        """Run a SPARQL 1.1 query with a deadline, on the server's default graph unless a dataset is named.

        Raises:
            QuerySyntaxError: the server says the query does not parse (HTTP 400).
            QueryTimeoutError: no answer within ``timeout`` seconds, or the server stopped the query at its deadline.
            StoreError: the server failed, refused the credentials or cannot be reached.
        """
        deadline = self.default_timeout if timeout is None else timeout
        form = query_form(sparql)
        response = self._send(sparql, update=False, timeout=deadline, accept=_RDF if form == "graph" else _RESULTS,
                              default_graph_uris=default_graph_uris, named_graph_uris=named_graph_uris)
        content_type = (response.headers.get_content_type() or "").lower()
        if content_type in _RDF_PARSERS:
            graph = Graph()
            graph.parse(data=response.body, format=_RDF_PARSERS[content_type])
            return QueryResult(kind="graph", graph=graph)
        boolean, select = self._results(response, deadline, limit, result_term)
        if boolean is not None:
            return QueryResult(kind="ask", boolean=boolean)
        return QueryResult(kind="select", select=select)

    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 update (one request: one transaction on Virtuoso)."""
        if self.read_only:
            raise StoreError("this store was opened read-only")
        self._send(sparql, update=True, timeout=self.bulk_timeout, accept=_RESULTS)

    # -- named graphs --------------------------------------------------------------------------------------------
    def replace_graph(self, name: str, graph: Graph | bytes) -> None:
        """Replace the named graph ``name`` by ``graph`` (an rdflib graph, or UTF-8 N-Triples): in one request when it
        fits in ``chunk_triples``."""
        iri = _iri(name)
        chunks = list(_chunks({iri: _ntriples(graph)}, self.chunk_triples))
        self._write([iri], chunks[0] if chunks else None)
        for number, chunk in enumerate(chunks[1:], start=2):
            try:
                self._write([], chunk)
            except StoreError as exc:
                raise StoreError(f"graph <{iri}> is incomplete: chunk {number} of {len(chunks)} failed ({exc}); "
                                 "replace it again") from exc

    def drop_graph(self, name: str) -> None:
        """Remove the named graph ``name`` if it exists."""
        self.update(f"DROP SILENT GRAPH <{_iri(name)}>")

    def get_graph(self, name: str) -> Graph:
        """The triples of the named graph ``name``."""
        graph = Graph()
        for row in self._select_all(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{_iri(name)}> {{ ?s ?p ?o }} }}", "?s ?p ?o"):
            graph.add((row["s"], row["p"], row["o"]))
        return graph

    def graph_names(self) -> list[str]:
        """Names of every named graph, without the server's own (:data:`SYSTEM_GRAPHS`)."""
        # GROUP BY, not DISTINCT: Virtuoso 7.2 answers it in 40 ms at 1000 graphs, and the DISTINCT not in 20 s.
        rows = self._select_all(f"SELECT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {_not_system('?g')} }} GROUP BY ?g", "?g")
        return sorted(str(row["g"]) for row in rows if isinstance(row.get("g"), URIRef))

    def describe(self, iri: str) -> Graph:
        """Triples about ``iri`` (as subject or object) in any named graph, without duplicates."""
        node = f"<{_iri(iri)}>"
        sparql = (f"SELECT ?s ?p ?o WHERE {{ {{ GRAPH ?g {{ {node} ?p ?o }} BIND({node} AS ?s) }} "
                  f"UNION {{ GRAPH ?g {{ ?s ?p {node} }} BIND({node} AS ?o) }} {_not_system('?g')} }}")
        graph = Graph()
        for row in self._select_all(sparql, "?s ?p ?o"):
            graph.add((row["s"], row["p"], row["o"]))
        return graph

    # -- whole store ---------------------------------------------------------------------------------------------
    def count(self) -> int:
        """Number of quads in the named graphs (the server's own graphs left out)."""
        result = self._select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {_not_system('?g')} }}")
        return int(result.rows[0]["n"]) if result.rows else 0  # type: ignore[call-overload]

    def dump(self) -> bytes:
        """Every quad of the named graphs as N-Quads, read in pages of at most ``page_rows`` rows: whole graphs,
        several to a page, and a graph larger than a page in ordered pages of its own."""
        out: list[str] = []
        batch: list[str] = []
        size = 0
        for name, triples in self._graph_sizes():  # pages stay below page_rows: a full page may be a cut one
            if triples >= self.page_rows:
                out.extend(self._dump_big_graph(name))
                continue
            if size + triples >= self.page_rows:
                out.extend(self._dump_graphs(batch))
                batch, size = [], 0
            batch.append(name)
            size += triples
        out.extend(self._dump_graphs(batch))
        return "".join(out).encode()

    def restore(self, nquads: bytes) -> None:
        """Replace every named graph (not the server's own) by those of ``nquads``. Not atomic: readers see the
        store empty, then filling up, and a failure half-way leaves it partly loaded."""
        self.clear()
        self.bulk_load(nquads)

    def clear(self) -> None:
        """Drop every named graph except the server's own, in requests of up to 500 graphs."""
        names = self.graph_names()
        for start in range(0, len(names), _DROPS_PER_REQUEST):
            self._write(names[start:start + _DROPS_PER_REQUEST], None)

    def bulk_load(self, nquads: bytes) -> None:
        """Add the quads of ``nquads`` (every one in a named graph), several graphs to a request of at most
        ``chunk_triples`` triples. Existing graphs are not dropped first: see :meth:`load_graphs` and :meth:`restore`.
        Blank nodes are taken as local to their graph."""
        graphs: dict[str, list[str]] = {}
        try:
            for quad in ox.parse(nquads, format=ox.RdfFormat.N_QUADS):
                if not isinstance(quad.graph_name, ox.NamedNode):
                    raise StoreError(f"a quad outside any named graph: {quad}; fairkg keeps each record in one")
                graphs.setdefault(quad.graph_name.value, []).append(f"{quad.subject} {quad.predicate} {quad.object} .")
        except SyntaxError as exc:
            raise StoreError(f"not valid N-Quads: {exc}") from exc
        for chunk in _chunks(graphs, self.chunk_triples):
            self._write([], chunk)

    def load_graphs(self, graphs: Mapping[str, Graph | bytes]) -> None:
        """Replace each named graph of ``graphs`` (an rdflib graph, or UTF-8 N-Triples), several to a request (bulk
        registration, benchmarks). Each request is atomic; a graph larger than a request is written like
        :meth:`replace_graph` writes it."""
        texts = {_iri(name): _ntriples(graph) for name, graph in graphs.items()}
        dropped: set[str] = set()
        for chunk in _chunks(texts, self.chunk_triples):
            self._write([name for name in chunk.graphs if name not in dropped], chunk)
            dropped.update(chunk.graphs)  # a graph split over requests is dropped only before its first one
        empty = [name for name in texts if name not in dropped]
        for start in range(0, len(empty), _DROPS_PER_REQUEST):
            self._write(empty[start:start + _DROPS_PER_REQUEST], None)

    def close(self) -> None:
        """Nothing to release: every request opens its own connection."""

    # -- helpers -------------------------------------------------------------------------------------------------
    def _results(self, response: _Response, deadline: float, limit: int | None, term: _TermFactory
                 ) -> tuple[bool | None, SelectResult]:
        """The answer of a SELECT or ASK, or :class:`QueryTimeoutError` if the server stopped the query."""
        if (response.headers.get("X-SQL-State") or "").strip() == "S1TAT":  # Virtuoso's partial "anytime" answer
            raise QueryTimeoutError(f"query exceeded its {deadline:g} s deadline (the server stopped it)")
        content_type = (response.headers.get_content_type() or "").lower()
        parse = _parse_xml if content_type == "application/sparql-results+xml" else _parse_json
        try:
            boolean, variables, rows = parse(response.body, limit, term)
        except (ValueError, KeyError, TypeError, ET.ParseError) as exc:
            raise StoreError(f"{self.query_url} answered {content_type or 'an unknown type'} that is not SPARQL "
                             f"results: {response.body[:200]!r}") from exc
        truncated = _server_capped(response.headers) or (limit is not None and len(rows) > limit)
        return boolean, SelectResult(variables, rows[:limit], truncated)

    def _select(self, sparql: str, *, timeout: float | None = None, term: _TermFactory | None = None
                ) -> SelectResult:
        deadline = self.default_timeout if timeout is None else timeout
        response = self._send(sparql, update=False, timeout=deadline, accept=_RESULTS)
        return self._results(response, deadline, None, term or result_term)[1]

    def _select_all(self, sparql: str, order: str, *, timeout: float | None = None, term: _TermFactory | None = None
                    ) -> Iterator[dict[str, object]]:
        """Every row of a SELECT: one request when it fits in ``page_rows``, else ordered pages (``timeout`` for
        each). The ORDER BY sits in a subquery so that Virtuoso does not refuse OFFSETs past its sort limit
        (MaxSortedTopRows, SR353)."""
        first = self._select(f"{sparql} LIMIT {self.page_rows}", timeout=timeout, term=term)
        if len(first.rows) < self.page_rows and not first.truncated:
            yield from first.rows
            return
        variables = " ".join(f"?{v}" for v in first.variables)
        offset = 0
        while True:
            page = self._select(f"SELECT {variables} WHERE {{ {{ {sparql} ORDER BY {order} }} }} "
                                f"OFFSET {offset} LIMIT {self.page_rows}", timeout=timeout, term=term)
            if page.truncated and len(page.rows) < self.page_rows:
                raise StoreError(f"{self.query_url} cuts results at {len(page.rows)} rows, fewer than the "
                                 f"{self.page_rows} rows a page asks for: lower page_rows")
            yield from page.rows
            if len(page.rows) < self.page_rows:
                return
            offset += self.page_rows

    def _graph_sizes(self) -> Iterator[tuple[str, int]]:
        rows = self._select_all(f"SELECT ?g (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {_not_system('?g')} }} "
                                "GROUP BY ?g", "?g", timeout=self.bulk_timeout)
        for row in rows:
            if isinstance(row.get("g"), URIRef):
                yield str(row["g"]), int(row["n"])  # type: ignore[call-overload]

    def _dump_graphs(self, names: list[str]) -> list[str]:
        if not names:
            return []
        values = " ".join(f"<{_iri(n)}>" for n in names)
        page = self._select(f"SELECT ?g ?s ?p ?o WHERE {{ VALUES ?g {{ {values} }} GRAPH ?g {{ ?s ?p ?o }} }}",
                            timeout=self.bulk_timeout, term=_ox_term)
        if page.truncated or len(page.rows) > self.page_rows:
            raise StoreError("the store changed while it was being dumped; dump it again")
        return [f"{row['s']} {row['p']} {row['o']} {row['g']} .\n" for row in page.rows]

    def _dump_big_graph(self, name: str) -> Iterator[str]:
        rows = self._select_all(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{_iri(name)}> {{ ?s ?p ?o }} }}", "?s ?p ?o",
                                timeout=self.bulk_timeout, term=_ox_term)
        for row in rows:
            yield f"{row['s']} {row['p']} {row['o']} <{name}> .\n"

    def _write(self, drops: list[str], chunk: _Chunk | None) -> None:
        """One update request: drop the graphs ``drops``, then insert ``chunk``."""
        operations = [f"DROP SILENT GRAPH <{_iri(name)}>" for name in drops]
        if chunk is not None:
            operations.extend(chunk.operations())
        if not operations:
            return
        text = " ;\n".join(operations)
        if chunk is not None and chunk.plain and self._is_virtuoso():
            # Virtuoso compiles INSERT DATA into SQL, one block per triple, and refuses past 10000 lines (~1500
            # triples); big-data-const passes the constants as one dictionary instead (and is ~5x faster).
            text = f"define sql:big-data-const 1 {text}"
        self.update(text)

    def _is_virtuoso(self) -> bool:
        if self._virtuoso is None:
            response = self._send("ASK {}", update=False, timeout=self.default_timeout, accept=_RESULTS)
            self._virtuoso = (response.headers.get("Server") or "").startswith("Virtuoso")
        return self._virtuoso

    def _send(self, text: str, *, update: bool, timeout: float, accept: str,
              default_graph_uris: list[str] | None = None, named_graph_uris: list[str] | None = None) -> _Response:
        """One request through SPARQLWrapper: the one place where its and urllib's errors become fairkg's."""
        wrapper = SPARQLWrapper(self.query_url, updateEndpoint=self.update_url)
        wrapper.setMethod(POST)
        wrapper.setOnlyConneg(True)
        # Set directly: the store knows whether it sends a query or an update, and SPARQLWrapper's guess from the
        # text warns on bad syntax and sends updates it does not recognise (WITH <g> DELETE ...) as queries.
        wrapper.queryString = text
        wrapper.queryType = INSERT if update else SELECT
        wrapper.timeout = timeout  # type: ignore[assignment]  # setTimeout() truncates to int: 0.5 s would be none
        wrapper.addCustomHttpHeader("Accept", accept)
        if not update:
            wrapper.addParameter("timeout", str(max(1, int(timeout * 1000))))  # Virtuoso: server-side limit, in ms
        for uri in default_graph_uris or ():
            wrapper.addDefaultGraph(uri)
        for uri in named_graph_uris or ():
            wrapper.addNamedGraph(uri)
        if self.user is not None and self._password is not None and (
                update or self.http_auth == "basic" or self.query_url == self.update_url):
            # For digest, SPARQLWrapper installs a urllib opener process-wide that knows the password for this
            # request's URL only; requests to the other URL could pick it up and fail. So digest credentials go
            # where updates go, and to queries only when they share that URL (Virtuoso: /sparql is anonymous).
            wrapper.setCredentials(self.user, self._password)
            wrapper.setHTTPAuth(DIGEST if self.http_auth == "digest" else BASIC)
        url = self.update_url if update else self.query_url
        what = "update" if update else "query"
        log.debug("SPARQL %s to %s (%d characters, %g s)", what, url, len(text), timeout)
        try:
            result = wrapper.query()
            return _Response(result.response.read(), result.response.info())
        except QueryBadFormed as exc:
            raise QuerySyntaxError(f"{url} refused the {what}: {_server_message(exc)}") from exc
        except SPARQLWrapperException as exc:  # 401, 404, 414, 500: the server's message says why
            message = _server_message(exc)
            if any(code in message for code in _TIMEOUT_CODES):
                raise QueryTimeoutError(f"{what} exceeded its deadline on the server: {message}") from exc
            hint = " (FAIRKG_STORE_USER, FAIRKG_STORE_PASSWORD)" if isinstance(exc, Unauthorized) else ""
            raise StoreError(f"{url} failed the {what}: {message}{hint}") from exc
        except urllib.error.HTTPError as exc:
            raise StoreError(f"{url} failed the {what}: HTTP {exc.code} {exc.reason}") from exc
        except TimeoutError as exc:
            raise _timeout(what, timeout, update) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise _timeout(what, timeout, update) from exc
            raise StoreError(f"cannot reach the SPARQL endpoint {url}: {exc.reason}") from exc
        except (HTTPException, OSError) as exc:
            raise StoreError(f"the SPARQL endpoint {url} broke off the {what}: {exc}") from exc


def query_form(sparql: str) -> str:
    """``"graph"`` for CONSTRUCT and DESCRIBE, else ``"select"`` (SELECT, ASK, and text the server will refuse).

    >>> query_form("PREFIX select: <http://x/> # SELECT\\nCONSTRUCT { ?s ?p ?o } WHERE { ?s select:p ?o }")
    'graph'
    """
    match = _FORM.search(_NOT_KEYWORDS.sub(" ", sparql))
    return "graph" if match and match.group(1).upper() in ("CONSTRUCT", "DESCRIBE") else "select"


def result_term(kind: str, text: str, lang: str | None = None, datatype: str | None = None) -> Node:
    """The rdflib term for one value of a SPARQL result: ``kind`` is ``uri``, ``bnode``, ``literal`` (or
    ``typed-literal``, Virtuoso's JSON). Virtuoso's ``nodeID://`` blank nodes and ``1``/``0`` booleans are read back
    as ``_:label`` and ``true``/``false``; ``xsd:string`` literals become plain literals, as in the embedded store.

    >>> result_term("literal", "1", None, "http://www.w3.org/2001/XMLSchema#boolean")
    rdflib.term.Literal('true', datatype=rdflib.term.URIRef('http://www.w3.org/2001/XMLSchema#boolean'))
    """
    if kind == "uri":
        return URIRef(text)
    if kind == "bnode":
        return BNode(_bnode_label(text))
    if kind in ("literal", "typed-literal"):
        if lang:
            return Literal(text, lang=lang)
        if datatype and datatype not in (XSD_STRING, RDF_LANG_STRING):
            if datatype == XSD_BOOLEAN and text in ("0", "1"):
                text = "true" if text == "1" else "false"
            return Literal(text, datatype=URIRef(datatype))
        return Literal(text)
    raise StoreError(f"a SPARQL result term fairkg cannot read: {kind} {text!r}")


def _ox_term(kind: str, text: str, lang: str | None = None, datatype: str | None = None
             ) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """Like :func:`result_term`, as a pyoxigraph term, whose ``str`` is its N-Triples form (dumps skip rdflib)."""
    if kind == "uri":
        return ox.NamedNode(text)
    if kind == "bnode":
        return ox.BlankNode(_bnode_label(text))
    if kind not in ("literal", "typed-literal"):
        raise StoreError(f"a SPARQL result term fairkg cannot read: {kind} {text!r}")
    if lang:
        return ox.Literal(text, language=lang)
    if datatype and datatype not in (XSD_STRING, RDF_LANG_STRING):
        if datatype == XSD_BOOLEAN and text in ("0", "1"):
            text = "true" if text == "1" else "false"
        return ox.Literal(text, datatype=ox.NamedNode(datatype))
    return ox.Literal(text)


_TermFactory = Callable[[str, str, "str | None", "str | None"], object]
_Parsed = tuple[bool | None, list[str], list[dict[str, object]]]


def _parse_xml(body: bytes, limit: int | None, term: _TermFactory) -> _Parsed:
    """SPARQL Query Results XML (https://www.w3.org/TR/rdf-sparql-XMLres/): Virtuoso writes it 3x faster than JSON.
    Virtuoso leaves carriage returns raw, which XML parsers turn into line feeds: they are escaped first. It writes
    other control characters as character references (``&#1;``) that XML 1.0 forbids: see :func:`_control_refs`."""
    body, restore = _control_refs(body.replace(b"\r", b"&#13;"))
    root = ET.fromstring(body)
    boolean = root.find(f"{_RS}boolean")
    if boolean is not None:
        return (boolean.text or "").strip() == "true", [], []
    head = root.find(f"{_RS}head")
    variables = [v.get("name", "") for v in head.iter(f"{_RS}variable")] if head is not None else []
    rows: list[dict[str, object]] = []
    for result in root.iter(f"{_RS}result"):
        if limit is not None and len(rows) > limit:
            break
        row: dict[str, object] = {}
        for binding in result:
            value = binding[0]
            kind, text = value.tag.removeprefix(_RS), value.text or ""
            row[binding.get("name", "")] = term(kind, restore(text), value.get(_XML_LANG), value.get("datatype"))
        rows.append(row)
    return None, variables, rows


_FORBIDDEN_REF = re.compile(rb"&#(x[0-9a-fA-F]+|[0-9]+);")


def _control_refs(body: bytes) -> tuple[bytes, Callable[[str], str]]:
    """``body`` with each reference to a control character XML 1.0 forbids (U+0001-U+001F but tab, line feed and
    carriage return) replaced by a private-use character absent from ``body`` and two hex digits, and the function
    that puts the characters back in a parsed text."""
    def code(match: re.Match[bytes]) -> int:
        text = match.group(1).decode()
        return int(text[1:], 16) if text.startswith("x") else int(text)

    if not any(0 < code(m) < 32 and code(m) not in (9, 10, 13) for m in _FORBIDDEN_REF.finditer(body)):
        return body, lambda text: text
    marker = next(chr(c) for c in range(0xE000, 0xF900) if chr(c).encode() not in body)

    def replace(match: re.Match[bytes]) -> bytes:
        n = code(match)
        return f"{marker}{n:02x}".encode() if 0 < n < 32 and n not in (9, 10, 13) else match.group(0)

    pattern = re.compile(re.escape(marker) + "([0-9a-f]{2})")
    return _FORBIDDEN_REF.sub(replace, body), lambda text: pattern.sub(lambda m: chr(int(m.group(1), 16)), text)


def _parse_json(body: bytes, limit: int | None, term: _TermFactory) -> _Parsed:
    """SPARQL 1.1 Query Results JSON (https://www.w3.org/TR/sparql11-results-json/), for servers that prefer it."""
    data = json.loads(body)
    if "boolean" in data:
        return bool(data["boolean"]), [], []
    bindings = data["results"]["bindings"]
    rows: list[dict[str, object]] = [
        {var: term(v["type"], str(v["value"]), v.get("xml:lang"), v.get("datatype"))
         for var, v in row.items()}
        for row in (bindings if limit is None else bindings[:limit + 1])
    ]
    return None, list(data["head"].get("vars", [])), rows


_RS = "{http://www.w3.org/2005/sparql-results#}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


_NOT_KEYWORDS = re.compile("|".join([  # strings, IRIs and comments, which may spell a keyword without being one
    r'"""(?:[^"\\]|\\.|"(?!""))*"""',
    r"'''(?:[^'\\]|\\.|'(?!''))*'''",
    r'"(?:[^"\\\n]|\\.)*"',
    r"'(?:[^'\\\n]|\\.)*'",
    r'<[^<>"{}|^`\\\x00-\x20]*>',
    r"#[^\n]*",
]))
_FORM = re.compile(r"(?<![?$:\w])(SELECT|ASK|CONSTRUCT|DESCRIBE)(?![\w:])", re.IGNORECASE)
_BNODE_LABEL = re.compile(r"[^A-Za-z0-9_-]")


def _bnode_label(text: str) -> str:
    for prefix in ("nodeID://", "_:"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return _BNODE_LABEL.sub("_", text) or "b"


def _not_system(var: str) -> str:
    return f"FILTER ({var} NOT IN ({', '.join(f'<{g}>' for g in SYSTEM_GRAPHS)}))"


def _server_capped(headers: Message) -> bool:
    # Virtuoso names its ResultSetMaxRows cap in this header when it cut the result short.
    return headers.get("X-SPARQL-MaxRows") is not None


@dataclass
class _Chunk:
    """The triples of one update request: N-Triples lines per graph, those with blank nodes apart."""

    plain: dict[str, list[str]] = field(default_factory=dict)
    linked: dict[str, list[str]] = field(default_factory=dict)
    size: int = 0
    linked_size: int = 0

    @property
    def graphs(self) -> list[str]:
        return list(dict.fromkeys([*self.plain, *self.linked]))

    def add(self, name: str, unit: list[str], *, linked: bool) -> None:
        (self.linked if linked else self.plain).setdefault(name, []).extend(unit)
        self.size += len(unit)
        self.linked_size += len(unit) if linked else 0

    def operations(self) -> list[str]:
        operations = []
        if self.plain:
            operations.append(f"INSERT DATA {{\n{_graph_blocks(self.plain)}\n}}")
        if self.linked:  # Virtuoso refuses blank nodes in INSERT DATA (SP031); a template makes fresh ones
            operations.append(f"INSERT {{\n{_graph_blocks(self.linked)}\n}} WHERE {{}}")
        return operations


def _graph_blocks(lines: Mapping[str, list[str]]) -> str:
    # Virtuoso's parser runs out of stack past ~4990 triples in one GRAPH block (SP030 "memory exhausted").
    return "\n".join(f"GRAPH <{name}> {{\n" + "\n".join(triples[start:start + _BLOCK_TRIPLES]) + "\n}"
                     for name, triples in lines.items() for start in range(0, len(triples), _BLOCK_TRIPLES))


def _chunks(graphs: Mapping[str, list[str]], size: int) -> Iterator[_Chunk]:
    """The N-Triples lines of ``graphs`` packed into chunks of at most ``size`` lines (more only when the lines
    linked by one blank node are more), several graphs to a chunk. The lines that share a blank node travel
    together: a request's blank node labels are its own. At most :data:`_LINKED_TRIPLES` lines with blank nodes go
    in one chunk, because Virtuoso compiles INSERT templates into SQL and refuses past 10000 lines of it."""
    chunk = _Chunk()
    for name, lines in graphs.items():
        for unit, linked in _bnode_units(lines):
            if chunk.size and (chunk.size + len(unit) > size
                               or (linked and chunk.linked_size + len(unit) > _LINKED_TRIPLES)):
                yield chunk
                chunk = _Chunk()
            chunk.add(name, unit, linked=linked)
    if chunk.size:
        yield chunk


def _bnode_units(lines: list[str]) -> Iterator[tuple[list[str], bool]]:
    """Lines grouped so that the lines sharing a blank node (directly or through others) form one group, flagged
    True; lines without blank nodes come one by one, flagged False."""
    parent: dict[str, str] = {}

    def root(label: str) -> str:
        while parent.setdefault(label, label) != label:
            parent[label] = parent[parent[label]]  # path halving
            label = parent[label]
        return label

    linked: list[tuple[str, str]] = []
    for line in lines:
        labels = _bnode_labels(line)
        if not labels:
            yield [line], False
            continue
        for other in labels[1:]:
            parent[root(other)] = root(labels[0])
        linked.append((labels[0], line))
    groups: dict[str, list[str]] = {}
    for label, line in linked:
        groups.setdefault(root(label), []).append(line)
    for group in groups.values():
        yield group, True


def _bnode_labels(line: str) -> list[str]:
    return _LABELS.findall(_QUOTED.sub("", line)) if "_:" in line else []


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_LABELS = re.compile(r"(?:^|\s)(_:\S+)")


def _ntriples(graph: Graph | bytes) -> list[str]:
    """The N-Triples lines of ``graph``, an rdflib graph or UTF-8 N-Triples (blank and comment lines left out)."""
    if isinstance(graph, bytes):
        try:
            text = graph.decode()
        except UnicodeDecodeError as exc:
            raise StoreError(f"N-Triples that are not UTF-8: {exc}") from exc
        # Split at line feeds only: str.splitlines also cuts at U+2028 and others, which literals may hold raw.
        lines = (line.rstrip("\r") for line in text.split("\n"))
        return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return ntriples_lines(graph)


def _iri(value: str) -> str:
    if any(c in value for c in '<>"{}|^`\\ \n'):
        raise ValueError(f"not a valid IRI: {value!r}")
    return value


def _timeout(what: str, timeout: float, update: bool) -> QueryTimeoutError:
    if update:
        return QueryTimeoutError(f"no answer to the update within {timeout:g} s: it may or may not have been applied")
    return QueryTimeoutError(f"{what} exceeded its {timeout:g} s deadline")


def _server_message(exc: SPARQLWrapperException) -> str:
    """The server's own words inside a SPARQLWrapper error (it keeps only ``repr(body)`` in its message), without
    the query Virtuoso echoes after them."""
    _, found, body = str(exc).partition("Response:\n")
    if not found:
        return exc.msg
    try:
        raw = ast.literal_eval(body.strip())
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    except (ValueError, SyntaxError):
        text = body
    return text.split("\nSPARQL query:", 1)[0].strip() or exc.msg

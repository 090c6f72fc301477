"""The embedded store: pyoxigraph (RocksDB) on disk, or in memory for tests.

pyoxigraph cannot cancel a running query (it releases the GIL while it works). Queries therefore run in a small,
bounded pool of worker threads and the caller waits at most ``timeout`` seconds: past it the caller gets
:class:`QueryTimeoutError` at once, while the abandoned query keeps one worker busy until it finishes. At most
``max_workers`` queries compute at once, so a burst of runaway queries cannot take every core; later queries wait
in line, and that wait counts towards their own deadline.
"""

from __future__ import annotations

import io
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph

from fairkg.kg.errors import QuerySyntaxError, QueryTimeoutError, StoreError
from fairkg.kg.store.base import QueryResult, SelectResult
from fairkg.kg.store.terms import graph_from_triples, to_rdflib

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0


class OxigraphStore:
    """A :class:`~fairkg.kg.store.base.Store` on pyoxigraph.

    >>> store = OxigraphStore(None)
    >>> store.count()
    0
    """

    def __init__(self, path: Path | str | None, *, default_timeout: float = DEFAULT_TIMEOUT, max_workers: int = 4,
                 read_only: bool = False) -> None:
        try:
            if path is None:
                self._store = ox.Store()
            elif read_only:
                self._store = ox.Store.read_only(str(path))
            else:
                Path(path).mkdir(parents=True, exist_ok=True)
                self._store = ox.Store(str(path))
        except OSError as exc:
            raise StoreError(
                f"cannot open the graph store at {path}: {exc}. If `fairkg serve` runs on this home, "
                "stop it or point the command at the running service."
            ) from exc
        self.path = Path(path) if path is not None else None
        self.default_timeout = default_timeout
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fairkg-query")
        self._write_lock = threading.Lock()

    # -- queries -------------------------------------------------------------------------------------------------
    def query(self, sparql: str, *, timeout: float | None = None, limit: int | None = None,
              default_graph_uris: list[str] | None = None, named_graph_uris: list[str] | None = None
              ) -> QueryResult:
        """Run a SPARQL 1.1 query with a deadline; see the module docstring for what a timeout still costs.

        Raises:
            QuerySyntaxError: the query does not parse.
            QueryTimeoutError: no answer within ``timeout`` seconds.
        """
        deadline = self.default_timeout if timeout is None else timeout
        future = self._pool.submit(self._run_query, sparql, limit, default_graph_uris, named_graph_uris)
        try:
            return future.result(timeout=deadline)
        except FutureTimeout as exc:
            future.cancel()  # drops it if it never started; a started query runs on (pyoxigraph cannot stop it)
            raise QueryTimeoutError(f"query exceeded its {deadline:g} s deadline") from exc

    def _run_query(self, sparql: str, limit: int | None, default_graph_uris: list[str] | None,
                   named_graph_uris: list[str] | None) -> QueryResult:
        kwargs: dict[str, object] = {}
        if default_graph_uris:
            kwargs["default_graph"] = [ox.NamedNode(u) for u in default_graph_uris]
        else:
            kwargs["use_default_graph_as_union"] = True
        if named_graph_uris:
            kwargs["named_graphs"] = [ox.NamedNode(u) for u in named_graph_uris]
        try:
            result = self._store.query(sparql, **kwargs)
            return _materialise(result, limit)
        except SyntaxError as exc:
            raise QuerySyntaxError(str(exc)) from exc
        except OSError as exc:
            raise StoreError(str(exc)) from exc

    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 update in one transaction."""
        try:
            with self._write_lock:
                self._store.update(sparql)
        except SyntaxError as exc:
            raise QuerySyntaxError(str(exc)) from exc
        except OSError as exc:
            raise StoreError(str(exc)) from exc

    # -- named graphs --------------------------------------------------------------------------------------------
    def replace_graph(self, name: str, graph: Graph) -> None:
        """Replace the named graph ``name`` by ``graph`` in one transaction (readers see old or new, never half)."""
        body = graph.serialize(format="nt")
        self.update(f"DROP SILENT GRAPH <{_iri(name)}> ;\nINSERT DATA {{ GRAPH <{_iri(name)}> {{\n{body}\n}} }}")

    def drop_graph(self, name: str) -> None:
        """Remove the named graph ``name`` if it exists."""
        self.update(f"DROP SILENT GRAPH <{_iri(name)}>")

    def get_graph(self, name: str) -> Graph:
        """The triples of the named graph ``name``."""
        return graph_from_triples(self._store.quads_for_pattern(None, None, None, ox.NamedNode(name)))

    def graph_names(self) -> list[str]:
        """Names of every named graph."""
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode))

    def describe(self, iri: str) -> Graph:
        """Triples about ``iri`` (as subject or object) in any named graph, without duplicates."""
        node = ox.NamedNode(iri)
        graph = graph_from_triples(self._store.quads_for_pattern(node, None, None, None))
        graph += graph_from_triples(self._store.quads_for_pattern(None, None, node, None))
        return graph

    # -- whole store ---------------------------------------------------------------------------------------------
    def dump(self) -> bytes:
        """Every quad as N-Quads."""
        return self._store.dump(format=ox.RdfFormat.N_QUADS)

    def restore(self, nquads: bytes) -> None:
        """Replace everything by ``nquads``."""
        with self._write_lock:
            self._store.clear()
            self._store.load(io.BytesIO(nquads), format=ox.RdfFormat.N_QUADS)
            self._store.flush()

    def count(self) -> int:
        """Number of quads."""
        return len(self._store)

    def close(self) -> None:
        """Flush and release the store (the worker pool stops once running queries end)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.path is not None:
            try:
                self._store.flush()
            except OSError:
                log.debug("flush on a read-only store", exc_info=True)
        del self._store


def _iri(value: str) -> str:
    if any(c in value for c in '<>"{}|^`\\ \n'):
        raise ValueError(f"not a valid IRI: {value!r}")
    return value


def _materialise(result: object, limit: int | None) -> QueryResult:
    if isinstance(result, ox.QueryBoolean):
        return QueryResult(kind="ask", boolean=bool(result))
    if isinstance(result, ox.QuerySolutions):
        variables = [v.value for v in result.variables]
        rows: list[dict[str, object]] = []
        truncated = False
        for solution in result:
            if limit is not None and len(rows) >= limit:
                truncated = True
                break
            row = {}
            for var in variables:
                value = solution[var]
                if value is not None:
                    row[var] = to_rdflib(value)
            rows.append(row)
        return QueryResult(kind="select", select=SelectResult(variables, rows, truncated))
    return QueryResult(kind="graph", graph=graph_from_triples(result))

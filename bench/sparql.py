"""SPARQL latency of representative queries over the synthetic registry, through every layer, in one run.

Backends (each query runs on all of them, interleaved repetition by repetition, so that a noisy machine slows
them alike):

* ``raw``: pyoxigraph itself, ``Store.read_only`` on the on-disk store, ``use_default_graph_as_union``;
* ``kg_store``: ``fairkg.kg.store.OxigraphStore.query`` on the same store (worker pool, deadline, rdflib terms);
* ``minimal_http``: a raw ASGI app under uvicorn running ``Store.query`` and pyoxigraph's JSON serialiser (the
  floor for any Python HTTP front end; ``bench/_serve.py``);
* ``fairkg_http``: the real fairkg service (``create_app`` under uvicorn) on the same store, on a socket bound as
  ``fairkg serve`` binds it; when that socket leaves Nagle's algorithm on (``bench/_serve.py`` checks), a twin
  ``fairkg_http_nodelay`` on a socket with TCP_NODELAY shows what the fix gains;
* ``rdflib``: rdflib's own SPARQL engine on the same quads in memory (only up to ``--rdflib-max-n`` models; each
  run capped at ``--cap`` seconds, then recorded as a timeout);
* Virtuoso (when installed and ``tests/_virtuoso.py`` exists): ``virtuoso_direct`` (its own ``/sparql``),
  ``fairkg_store_virtuoso`` (``kg.store``'s ``sparql:`` backend) and ``fairkg_http_virtuoso`` (the fairkg service
  on that backend).

The HTTP clients are httpx with keep-alive, POST ``application/sparql-query``, ``Accept:
application/sparql-results+json``; each timing includes reading the whole response (not parsing it).

Usage::

    python -m bench.sparql --n 100000          # the registry is generated and cached by bench.generate
    python -m bench.sparql --quick             # n=1000, fewer repetitions
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BASE_IRI, CACHE_DIR, console, summarize, table, write_results
from bench.generate import (
    TOPICS,
    cached_nquads,
    cached_store_path,
    dataset_card,
    dataset_count,
    dataset_doi,
    model_card,
    model_doi,
)

JSON_RESULTS = "application/sparql-results+json"
ROOT = Path(__file__).resolve().parents[1]

#: the targets of the scale issue: (ratio name, the most it may be)
TARGETS = {
    "lookup: fairkg_http / minimal_http": 1.5,
    "lookup: fairkg_http_nodelay / minimal_http": 1.5,
    "count_by_licence: fairkg_store_virtuoso / virtuoso_direct": 1.5,
    "count_by_licence: fairkg_http_virtuoso / virtuoso_direct": 1.5,
    "count_by_licence: fairkg_http_virtuoso_nodelay / virtuoso_direct": 1.5,
}
#: the ratios reported for every query: (numerator, denominator)
RATIOS = (
    ("kg_store", "raw"),
    ("minimal_http", "raw"),
    ("fairkg_http", "minimal_http"),
    ("fairkg_http_nodelay", "minimal_http"),
    ("fairkg_http", "raw"),
    ("rdflib", "raw"),
    ("virtuoso_direct", "raw"),
    ("fairkg_store_virtuoso", "virtuoso_direct"),
    ("fairkg_http_virtuoso", "virtuoso_direct"),
    ("fairkg_http_virtuoso_nodelay", "virtuoso_direct"),
)


# -- queries ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    """A representative query; ``texts`` are variants (different targets) cycled through the repetitions."""

    name: str
    description: str
    texts: list[str]


PREFIXES = """PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX mls: <http://www.w3.org/ns/mls#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX fair4ml: <https://w3id.org/fair4ml#>
"""


def lookup_query(identifier: str) -> str:
    """The exact query ``fairkg.kg.identifiers.lookup`` sends for ``identifier`` (captured, not copied)."""
    from rdflib import URIRef

    from fairkg.kg.identifiers import lookup
    from fairkg.kg.store.base import QueryResult, SelectResult

    sent: list[str] = []

    class Recorder:
        def query(self, sparql: str, **_: Any) -> QueryResult:
            sent.append(sparql)
            return QueryResult("select", SelectResult(["resource"], [{"resource": URIRef("urn:x")}]))

    lookup(Recorder(), identifier, base_iri=BASE_IRI)  # type: ignore[arg-type]
    return sent[0]


def spread(count: int, k: int, *, skip: Callable[[int], bool] = lambda i: False) -> list[int]:
    """Up to ``k`` indices spread evenly over ``range(count)``, avoiding those ``skip`` rejects."""
    picks: list[int] = []
    for j in range(k):
        i = int(count * (j + 0.5) / k)
        while skip(i) and i + 1 < count:
            i += 1
        if i not in picks:
            picks.append(i)
    return picks


def _licensed_training_data(i: int, n_models: int) -> bool:
    """Whether model ``i`` has a training run on a dataset with a licence (so the 3-hop path has an answer)."""
    card = model_card(i, n_models)
    if "training" not in card:
        return False
    index = int(card["training"]["datasets"][0].rsplit("-", 1)[1])
    return "license" in dataset_card(index, n_models)


def build_queries(n_models: int, variants: int = 16) -> list[Query]:
    from fairkg.kg.identifiers import resource_iri, uuid_for

    models = spread(n_models, variants)
    trained = spread(n_models, variants, skip=lambda i: not _licensed_training_data(i, n_models))
    datasets = spread(dataset_count(n_models), variants)
    topics = [TOPICS[(7 * j) % len(TOPICS)] for j in range(variants)]
    return [
        Query("ask_empty", "ASK {} (the floor of each layer)", ["ASK {}"]),
        Query("lookup", "identifier lookup (kg.identifiers.lookup's query, by DOI)",
              [lookup_query(model_doi(i)) for i in models]),
        Query("by_dataset", "models trained on a dataset (by its DOI)", [
            PREFIXES + "SELECT ?model ?title WHERE {\n"
            f'  ?dataset a mls:Dataset ; dcterms:identifier "{dataset_doi(i)}" .\n'
            "  ?model a mls:Model ; fair4ml:trainedOn ?dataset ; dcterms:title ?title .\n}"
            for i in datasets]),
        Query("count_by_licence", "models per licence (GROUP BY, whole registry)", [
            PREFIXES + "SELECT ?licence (COUNT(?model) AS ?models) WHERE {\n"
            "  ?model a mls:Model .\n  OPTIONAL { ?model dcterms:license ?licence }\n"
            "} GROUP BY ?licence ORDER BY DESC(?models)"]),
        Query("text_search", "CONTAINS on model titles, LIMIT 20 (a word in ~2% of titles)", [
            PREFIXES + "SELECT ?model ?title WHERE {\n  ?model a mls:Model ; dcterms:title ?title .\n"
            f'  FILTER(CONTAINS(LCASE(STR(?title)), "{topic}"))\n}} LIMIT 20'
            for topic in topics]),
        Query("provenance_3hop", "model -> training run -> dataset -> licence", [
            PREFIXES + "SELECT ?run ?dataset ?licence WHERE {\n"
            f"  <{resource_iri(BASE_IRI, uuid_for(model_doi(i)))}> prov:wasGeneratedBy ?run .\n"
            "  ?run mls:hasInput ?dataset .\n  ?dataset a mls:Dataset ; dcterms:license ?licence .\n}"
            for i in trained]),
    ]


# -- backends -----------------------------------------------------------------------------------------------------
class Backend:
    """One way of answering a query. ``run`` is timed and must consume the whole answer; ``rows`` is not."""

    name = "?"

    def run(self, sparql: str) -> Any:
        raise NotImplementedError

    def rows(self, answer: Any) -> int:
        return int(answer)

    def close(self) -> None:
        pass


class RawOxigraph(Backend):
    name = "raw"

    def __init__(self, path: Path) -> None:
        import pyoxigraph as ox

        self._ox = ox
        self.store = ox.Store.read_only(str(path))

    def run(self, sparql: str) -> Any:
        result = self.store.query(sparql, use_default_graph_as_union=True)
        if isinstance(result, self._ox.QueryBoolean):
            return int(bool(result))
        return sum(1 for _ in result)


class KgStore(Backend):
    def __init__(self, store: Any, name: str, timeout: float) -> None:
        self.store, self.name, self.timeout = store, name, timeout

    def run(self, sparql: str) -> Any:
        return self.store.query(sparql, timeout=self.timeout)

    def rows(self, answer: Any) -> int:
        return int(bool(answer.boolean)) if answer.kind == "ask" else sum(1 for _ in answer.bindings())

    def close(self) -> None:
        try:
            self.store.close()
        except RuntimeError:  # OxigraphStore.close() flushes, which a read-only pyoxigraph store refuses
            pass


class Http(Backend):
    """POST the query to ``url`` over one keep-alive connection: as ``application/sparql-query``, or as a form
    (``form``: Virtuoso 7.2 never answers the former)."""

    def __init__(self, url: str, name: str, timeout: float, *, form: bool = False) -> None:
        import httpx

        self.name, self.url, self.form = name, url, form
        # TCP_NODELAY: httpx writes the headers and the body separately; with Nagle's algorithm on, the body waits
        # for the ACK of the headers, which the server delays (~40 ms on Linux).
        transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self.client = httpx.Client(timeout=timeout, trust_env=False, transport=transport)
        self.headers = {"Content-Type": "application/x-www-form-urlencoded" if form else "application/sparql-query",
                        "Accept": JSON_RESULTS}

    def run(self, sparql: str) -> Any:
        body = urlencode({"query": sparql}).encode() if self.form else sparql.encode()
        response = self.client.post(self.url, content=body, headers=self.headers)
        if response.status_code != 200:
            raise RuntimeError(f"{self.name}: HTTP {response.status_code}: {response.text[:300]}")
        return response.content

    def rows(self, answer: Any) -> int:
        document = json.loads(answer)
        if "boolean" in document:
            return int(bool(document["boolean"]))
        return len(document["results"]["bindings"])

    def close(self) -> None:
        self.client.close()


class HttpLean(Http):
    """As :class:`Http`, with the standard library's ``http.client`` (one keep-alive connection, TCP_NODELAY):
    ~1 ms less client overhead per request than httpx here, so the servers' own costs weigh more in ratios."""

    def __init__(self, url: str, name: str, timeout: float, *, form: bool = False) -> None:
        import http.client
        from urllib.parse import urlsplit

        self.name, self.url, self.form, self.timeout = name, url, form, timeout
        parts = urlsplit(url)
        self.path = parts.path
        self._connect = lambda: http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.connection = self._open()
        self.headers = {"Content-Type": "application/x-www-form-urlencoded" if form else "application/sparql-query",
                        "Accept": JSON_RESULTS}

    def _open(self) -> Any:
        connection = self._connect()
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def run(self, sparql: str) -> Any:
        body = urlencode({"query": sparql}).encode() if self.form else sparql.encode()
        try:
            self.connection.request("POST", self.path, body=body, headers=self.headers)
            response = self.connection.getresponse()
        except (ConnectionError, OSError):  # the server closed the kept-alive connection: once more, anew
            self.connection.close()
            self.connection = self._open()
            self.connection.request("POST", self.path, body=body, headers=self.headers)
            response = self.connection.getresponse()
        content = response.read()
        if response.status != 200:
            raise RuntimeError(f"{self.name}: HTTP {response.status}: {content[:300]!r}")
        return content

    def close(self) -> None:
        self.connection.close()


class Rdflib(Backend):
    """rdflib's SPARQL engine on an in-memory Dataset whose default graph is the union of the named graphs."""

    name = "rdflib"

    def __init__(self, nquads: Path) -> None:
        from rdflib import Dataset

        self.dataset = Dataset(default_union=True)
        self.dataset.parse(str(nquads), format="nquads")

    def run(self, sparql: str) -> Any:
        result = self.dataset.query(sparql)
        if result.type == "ASK":
            return int(bool(result.askAnswer))
        return sum(1 for _ in result)


class CapExceeded(Exception):
    """A run went past its cap."""


@contextlib.contextmanager
def capped(seconds: float | None) -> Iterator[None]:
    """Interrupt pure-Python work (rdflib) after ``seconds`` with :class:`CapExceeded` (main thread only; code that
    holds no GIL, like pyoxigraph, is only interrupted once it returns)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CapExceeded

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- measuring ----------------------------------------------------------------------------------------------------
@dataclass
class Cell:
    samples: list[float] = field(default_factory=list)
    status: str = "ok"  # ok | timeout | error: ...
    rows: int | None = None

    @property
    def spent(self) -> float:
        return sum(self.samples)


def measure(queries: list[Query], backends: list[Backend], *, reps: int, warmup: int, budget: float,
            cap: float, min_reps: int = 3) -> dict[str, dict[str, Cell]]:
    """Every query on every backend: ``warmup`` untimed runs, then up to ``reps`` timed ones, the backends taking
    turns (in a rotating order) within each repetition. A backend stops early on a query once it has spent
    ``budget`` seconds on it (after at least ``min_reps`` runs); a run past ``cap`` seconds is a timeout."""
    results: dict[str, dict[str, Cell]] = {}
    for query in queries:
        cells = {b.name: Cell() for b in backends}
        results[query.name] = cells
        console.print(f"[bold]{query.name}[/bold]: {query.description}")
        for backend in backends:
            cell = cells[backend.name]
            for k in range(max(1, warmup)):
                try:
                    start = time.perf_counter()
                    with capped(cap if backend.name == "rdflib" else None):
                        answer = backend.run(query.texts[k % len(query.texts)])
                    if k == 0:
                        cell.rows = backend.rows(answer)
                    if time.perf_counter() - start > budget:  # one run eats the budget: record it, go on
                        cell.samples.append(time.perf_counter() - start)
                        break
                except CapExceeded:
                    cell.status = "timeout"
                    break
                except Exception as exc:  # recorded, the others go on
                    cell.status = f"error: {type(exc).__name__}: {str(exc)[:300]}"
                    break
        for rep in range(reps):
            text = query.texts[rep % len(query.texts)]
            order = backends[rep % len(backends):] + backends[:rep % len(backends)]
            for backend in order:
                cell = cells[backend.name]
                if cell.status != "ok" or (len(cell.samples) >= min_reps and cell.spent > budget):
                    continue
                try:
                    with capped(cap if backend.name == "rdflib" else None):
                        start = time.perf_counter()
                        backend.run(text)
                        cell.samples.append(time.perf_counter() - start)
                except CapExceeded:
                    cell.status = "timeout"
                except Exception as exc:
                    cell.status = f"error: {type(exc).__name__}: {str(exc)[:300]}"
        console.print("  " + "  ".join(f"{name}={_median_text(cell)}" for name, cell in cells.items()))
    return results


def _median_text(cell: Cell) -> str:
    if cell.status != "ok":
        return cell.status.split(":")[0]
    stats = summarize(cell.samples)
    return f"{stats['median_ms']:.2f}ms" if stats["n"] else "-"


def median(cell: Cell | None) -> float | None:
    if cell is None or cell.status != "ok" or not cell.samples:
        return None
    return float(summarize(cell.samples)["median_ms"])


def ratios(results: dict[str, dict[str, Cell]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for query, cells in results.items():
        for top, bottom in RATIOS:
            a, b = median(cells.get(top)), median(cells.get(bottom))
            if a is not None and b:
                out[f"{query}: {top} / {bottom}"] = a / b
    return out


# -- Virtuoso -----------------------------------------------------------------------------------------------------
def virtuoso_module() -> tuple[Any | None, str | None]:
    """``tests/_virtuoso.py`` as a module, or (None, why not)."""
    path = ROOT / "tests" / "_virtuoso.py"
    if not path.exists():
        return None, "tests/_virtuoso.py does not exist yet"
    spec = importlib.util.spec_from_file_location("fairkg_bench_virtuoso", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    if not module.virtuoso_installed():
        return None, f"Virtuoso is not installed ({module.INSTALL_HINT})"
    return module, None


@contextlib.contextmanager
def bigger_buffers(module: Any, buffers: int | None) -> Iterator[None]:
    """Give the Virtuoso that ``running_virtuoso`` starts ``buffers`` 8 KiB pages of cache (its ini is sized for
    the tests: 20000 pages, 160 MB) by wrapping the ini writer of this benchmark's copy of the module."""
    if not buffers:
        yield
        return
    original = module._ini

    def ini(*args: Any, **kwargs: Any) -> str:
        text = original(*args, **kwargs)
        lines = []
        for line in text.splitlines():
            key = line.split("=", 1)[0].strip()
            if key == "NumberOfBuffers":
                line = f"NumberOfBuffers      = {buffers}"
            elif key == "MaxDirtyBuffers":
                line = f"MaxDirtyBuffers      = {buffers * 3 // 4}"
            lines.append(line)
        return "\n".join(lines) + "\n"

    module._ini = ini
    try:
        yield
    finally:
        module._ini = original


def isql(server: Any, sql: str, *, timeout: float) -> str:
    """Run SQL as dba through ``isql-vt`` (as ``tests/_virtuoso.py`` does, with a longer timeout); its output.

    Raises:
        RuntimeError: a statement failed (``isql-vt`` exits 0 even then: its output says ``*** Error``).
    """
    import subprocess

    done = subprocess.run(
        ["isql-vt", server.isql_address, "dba", server.dba_password, "VERBOSE=OFF", "BANNER=OFF", "PROMPT=OFF",
         "ECHO=OFF", "ERRORS=STDOUT"],
        input=sql.encode() + b"\nEXIT;\n", capture_output=True, timeout=timeout, check=False)
    output = (done.stdout + done.stderr).decode(errors="replace")
    if done.returncode != 0 or "*** Error" in output:
        raise RuntimeError(f"isql-vt failed (exit {done.returncode}):\n{output}")
    return output


def load_virtuoso(server: Any, nquads: Path, *, timeout: float = 3600.0) -> float:
    """Bulk-load ``nquads`` into ``server`` (ld_dir, rdf_loader_run, checkpoint); seconds taken.

    Raises:
        RuntimeError: the loader recorded an error.
    """
    folder = server.directory / "load"
    folder.mkdir(exist_ok=True)
    target = folder / "registry.nq"
    try:
        target.symlink_to(nquads.resolve())
    except OSError:
        shutil.copyfile(nquads, target)
    start = time.perf_counter()
    # not server.isql: its client gives up after 60 s, and 18M quads take minutes
    isql(server, f"ld_dir('{folder}', 'registry.nq', '{BASE_IRI}/bench-default');\nrdf_loader_run();\n"
         "checkpoint;\n", timeout=timeout)
    seconds = time.perf_counter() - start
    errors = server.isql("SELECT ll_file, ll_error FROM DB.DBA.load_list WHERE ll_error IS NOT NULL;")
    if "registry.nq" in errors:
        raise RuntimeError(f"Virtuoso's bulk loader failed: {errors}")
    return seconds


def remote_store(query_url: str, timeout: float) -> Any:
    """kg.store's ``sparql:`` backend on ``query_url`` (read-only): through ``open_store`` when it knows the scheme,
    else the backend's class itself."""
    from fairkg.kg.errors import ConfigurationError
    from fairkg.kg.store import open_store

    try:
        return open_store(f"sparql:{query_url}", timeout=timeout, read_only=True)
    except ConfigurationError:
        from fairkg.kg.store.sparql import SparqlStore

        return SparqlStore(query_url, default_timeout=timeout, read_only=True)


# -- main -----------------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sparql", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="models in the registry; default 10000")
    parser.add_argument("--quick", action="store_true", help="n=1000 (unless --n is given), 15 repetitions")
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions per query and backend (50)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds a backend may spend on one query before it stops early (20; quick: 5)")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds one rdflib run may take (60)")
    parser.add_argument("--rdflib-max-n", type=int, default=1000, help="run rdflib only up to this many models")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP servers")
    parser.add_argument("--no-virtuoso", action="store_true", help="skip Virtuoso")
    parser.add_argument("--only-virtuoso", action="store_true",
                        help="only the Virtuoso backends (no raw, kg_store, *_http on Oxigraph, rdflib)")
    parser.add_argument("--no-nodelay-twin", action="store_true",
                        help="do not add the *_nodelay twins of the fairkg servers (see bench/_serve.py)")
    parser.add_argument("--virtuoso-buffers", type=int, default=None,
                        help="Virtuoso NumberOfBuffers (8 KiB pages; default: 20000 per 10k models, 170000 max)")
    parser.add_argument("--client", choices=("httpx", "http.client"), default="httpx",
                        help="HTTP client of the *_http backends (httpx, as the issue asks; http.client costs ~1 ms "
                        "less per request)")
    parser.add_argument("--server-log-level", default="warning",
                        help="uvicorn log level of the servers (fairkg serve's default, info, logs every request)")
    parser.add_argument("--queries", default=None, help="comma-separated query names (default: all)")
    parser.add_argument("--results-dir", type=Path, default=None, help="default bench/results")
    parser.add_argument("--name", default="sparql", help="results file name (default: sparql)")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help="default bench/.cache")
    parser.add_argument("--reuse-cache", action="store_true",
                        help="reuse a cached registry built before kg/records.py or kg/cards.py last changed")
    args = parser.parse_args(argv)
    given = argv if argv is not None else sys.argv[1:]
    if args.quick and "--n" not in given:
        args.n = 1000
    if args.reps is None:
        args.reps = 15 if args.quick else 50
    if args.budget is None:
        args.budget = 5.0 if args.quick else 20.0
    if args.virtuoso_buffers is None:
        args.virtuoso_buffers = min(170_000, max(20_000, 20_000 * args.n // 10_000))
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the SPARQL benchmark; write ``sparql.json``; return what was written."""
    args = parse_args(argv)
    n = args.n
    queries = build_queries(n)
    if args.queries:
        wanted = set(args.queries.split(","))
        queries = [q for q in queries if q.name in wanted]
    console.print(f"[bold]bench.sparql: {n:,} models[/bold]")
    nquads, _ = cached_nquads(n, cache_dir=args.cache_dir, progress=n >= 1000, reuse_any=args.reuse_cache)
    store_path = None if args.only_virtuoso else cached_store_path(n, cache_dir=args.cache_dir,
                                                                   reuse_any=args.reuse_cache)
    skipped: dict[str, str] = {}
    setup: dict[str, Any] = {"nquads": str(nquads), "store": str(store_path)}

    from fairkg.kg.store import OxigraphStore

    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sparql-", dir=args.cache_dir)))
        backends: list[Backend] = []
        Client = Http if args.client == "httpx" else HttpLean  # noqa: N806 - a class

        def add(backend: Backend) -> None:
            backends.append(backend)
            stack.callback(backend.close)

        serve = _serve()
        if store_path is not None:
            raw = RawOxigraph(store_path)
            add(raw)
            setup["quads"] = len(raw.store)
            add(KgStore(OxigraphStore(store_path, read_only=True, default_timeout=args.cap), "kg_store", args.cap))
        else:
            skipped["oxigraph"] = skipped["rdflib"] = "--only-virtuoso"
        shipped_nodelay = serve.shipped_socket_sets_nodelay()
        setup["fairkg_serve_socket_sets_tcp_nodelay"] = shipped_nodelay
        twins = not shipped_nodelay and not args.no_nodelay_twin  # Nagle on: add a twin with TCP_NODELAY
        fairkg_sockets = [("", "shipped"), ("_nodelay", "tcp")] if twins else [("", "shipped")]
        if args.no_http:
            skipped["minimal_http"] = skipped["fairkg_http"] = "--no-http"
        elif store_path is not None:
            home = work / "home"
            started = [("minimal_http", serve.Server("minimal", str(store_path), home=home,
                                                     log_level=args.server_log_level))]
            for suffix, mode in fairkg_sockets:  # started together: each takes seconds to import
                started.append(("fairkg_http" + suffix, serve.Server(
                    "fairkg", f"oxigraph:{store_path}", home=home, timeout=args.cap, log_level=args.server_log_level,
                    socket_mode=mode, log_file=home / f"fairkg{suffix}.log")))
            for _, front in started:
                stack.callback(front.stop)
            for name, front in started:
                add(Client(front.url() + "/sparql", name, args.cap))
        if store_path is None:
            pass
        elif n <= args.rdflib_max_n:
            seconds, rdflib_backend = _timed(lambda: Rdflib(nquads))
            setup["rdflib_load_seconds"] = seconds
            add(rdflib_backend)
        else:
            skipped["rdflib"] = f"n={n} > --rdflib-max-n={args.rdflib_max_n} (rdflib's engine is 10^3-10^5x slower)"
        if args.no_virtuoso:
            skipped["virtuoso"] = "--no-virtuoso"
        else:
            module, why = virtuoso_module()
            if module is None:
                skipped["virtuoso"] = why or "unavailable"
            else:
                attempt = contextlib.ExitStack()
                try:
                    attempt.enter_context(bigger_buffers(module, args.virtuoso_buffers))
                    server = attempt.enter_context(module.running_virtuoso(work / "virtuoso"))
                    setup["virtuoso_load_seconds"] = load_virtuoso(server, nquads)
                    setup["virtuoso_buffers"] = args.virtuoso_buffers
                    stack.enter_context(attempt.pop_all())  # stopped with the rest at the end
                    add(Client(server.query_url, "virtuoso_direct", args.cap, form=True))
                except Exception as exc:
                    attempt.close()  # a Virtuoso that failed to load must not run on beside the measurements
                    skipped["virtuoso"] = f"Virtuoso did not start or load: {exc}"
                    server = None
                if server is not None:
                    try:
                        add(KgStore(remote_store(server.query_url, args.cap), "fairkg_store_virtuoso", args.cap))
                    except Exception as exc:
                        skipped["fairkg_store_virtuoso"] = f"kg.store's sparql: backend: {exc}"
                    if "fairkg_store_virtuoso" in skipped or args.no_http:
                        skipped["fairkg_http_virtuoso"] = skipped.get("fairkg_store_virtuoso", "--no-http")
                    else:
                        home_v = work / "home-virtuoso"
                        fronts = [("fairkg_http_virtuoso" + suffix, serve.Server(
                            "fairkg", f"sparql:{server.query_url}", home=home_v, timeout=args.cap,
                            log_level=args.server_log_level, socket_mode=mode,
                            log_file=home_v / f"fairkg{suffix}.log")) for suffix, mode in fairkg_sockets]
                        for _, front in fronts:
                            stack.callback(front.stop)
                        for name, front in fronts:
                            add(Client(front.url() + "/sparql", name, args.cap))
        for name, why in skipped.items():
            console.print(f"[yellow]skipped {name}: {why}[/yellow]")
        results = measure(queries, backends, reps=args.reps, warmup=args.warmup, budget=args.budget, cap=args.cap)

    all_ratios = ratios(results)
    targets = []
    for name, limit in TARGETS.items():
        value = all_ratios.get(name)
        targets.append({"ratio": name, "target_at_most": limit, "value": value,
                        "met": None if value is None else value <= limit, "n_models": n,
                        "note": None if n >= 100_000 else "the targets are set for n=100000"})
    agree = {q: len({c.rows for c in cells.values() if c.status == "ok" and c.rows is not None}) <= 1
             for q, cells in results.items()}
    payload = {
        "parameters": {"n_models": n, "n_datasets": dataset_count(n), "reps": args.reps, "warmup": args.warmup,
                       "budget_seconds": args.budget, "rdflib_cap_seconds": args.cap,
                       "server_log_level": args.server_log_level, "http_client": args.client,
                       "backends": [b.name for b in backends],
                       "skipped": skipped},
        "setup": setup,
        "queries": {q.name: {"description": q.description, "variants": len(q.texts), "example": q.texts[0]}
                    for q in queries},
        "results": {q: {b: {"status": c.status, "rows": c.rows, **summarize(c.samples),
                            "share_at_least_40ms": sum(x >= 0.040 for x in c.samples) / max(1, len(c.samples))}
                        for b, c in cells.items()}
                    for q, cells in results.items()},
        "rows_agree": agree,
        "ratios": all_ratios,
        "targets": targets,
    }
    _print(results, backends, all_ratios, targets, n, agree)
    write_results(args.name, payload, args.results_dir)
    return payload


def _serve() -> Any:
    from bench import _serve as module

    return module


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


SHORT = {"ask_empty": "ASK {}", "lookup": "lookup", "by_dataset": "by dataset", "count_by_licence": "count/licence",
         "text_search": "text", "provenance_3hop": "3-hop"}


def _print(results: dict[str, dict[str, Cell]], backends: list[Backend], all_ratios: dict[str, float],
           targets: list[dict[str, Any]], n: int, agree: dict[str, bool]) -> None:
    names = [b.name for b in backends]
    queries = list(results)
    columns = ["backend", *(SHORT.get(q, q) + ("" if agree[q] else " (rows differ!)") for q in queries)]

    def cell_text(cell: Cell, key: str) -> Any:
        if cell.status != "ok":
            return cell.status.split(":")[0]
        return summarize(cell.samples).get(key)

    table(f"bench.sparql: median ms (n={n:,})", columns,
          [[name, *(cell_text(results[q][name], "median_ms") for q in queries)] for name in names])
    table("p99 ms", columns, [[name, *(cell_text(results[q][name], "p99_ms") for q in queries)] for name in names])
    shown = [(top, bottom) for top, bottom in RATIOS if top in names and bottom in names]
    table("ratios of medians", ["ratio", *columns[1:]],
          [[f"{top} / {bottom}", *(all_ratios.get(f"{q}: {top} / {bottom}") for q in queries)]
           for top, bottom in shown])
    table("targets", ["ratio", "value", "at most", "met"],
          [[t["ratio"], t["value"], t["target_at_most"], "-" if t["met"] is None else ("yes" if t["met"] else "NO")]
           for t in targets])


if __name__ == "__main__":
    main()

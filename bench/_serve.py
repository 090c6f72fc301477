"""HTTP servers for ``bench/sparql.py``, each run in a process of its own (so that client and server do not share
a GIL) on a free loopback port:

* ``fairkg``: the real service, ``fairkg.api.app.create_app`` served by uvicorn as ``fairkg.api.server.serve``
  configures it, on a socket bound by ``serve``'s own ``_bind`` (``--socket shipped``) or with TCP_NODELAY
  (``--socket tcp``; see :func:`shipped_socket_sets_nodelay`); on a read-only store (the benchmark reads the
  same on-disk store from several processes, and RocksDB allows that only when nobody writes), or on a remote
  store URL (``sparql:...``);
* ``minimal``: the floor for any Python front end: a raw ASGI app, served by the same uvicorn, that runs
  ``pyoxigraph.Store.query`` on the event loop and answers with pyoxigraph's own SPARQL JSON serialiser.

``python -m bench._serve KIND --store ...`` prints ``LISTENING <url>`` once the socket is bound;
:func:`serving` starts one, waits until it answers, and stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

JSON_RESULTS = "application/sparql-results+json"
START_TIMEOUT = 120.0


def minimal_app(path: str) -> Any:
    """A raw ASGI app answering SPARQL queries (POST ``application/sparql-query`` or ``?query=``) on the read-only
    pyoxigraph store at ``path``, the default graph being the union of the named graphs."""
    import pyoxigraph as ox

    store = ox.Store.read_only(path)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["method"] == "POST":
            query = body.decode("utf-8")
        else:
            query = parse_qs(scope.get("query_string", b"").decode()).get("query", [""])[0]
        if not query:
            status, media, payload = 200, b"text/plain", b"minimal SPARQL endpoint\n"
        else:
            try:
                result = store.query(query, use_default_graph_as_union=True)
                if isinstance(result, ox.QueryTriples):
                    status, media = 200, b"application/n-triples"
                    payload = result.serialize(format=ox.RdfFormat.N_TRIPLES)
                else:
                    status, media = 200, JSON_RESULTS.encode()
                    payload = result.serialize(format=ox.QueryResultsFormat.JSON)
            except SyntaxError as exc:
                status, media, payload = 400, b"text/plain", str(exc).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", media), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    return app


def fairkg_app(store_url: str, home: Path, timeout: float) -> Any:
    """The fairkg service on ``store_url`` (``oxigraph:PATH`` is opened read-only)."""
    from fairkg.api.app import create_app
    from fairkg.kg.settings import Settings
    from fairkg.kg.store import OxigraphStore

    settings = Settings(home=home, store=store_url, query_timeout=timeout)
    scheme, _, rest = store_url.partition(":")
    if scheme == "oxigraph":
        store: Any = OxigraphStore(Path(rest), default_timeout=timeout, read_only=True)
    else:
        from bench.sparql import remote_store

        store = remote_store(rest, timeout)
    return create_app(settings, store=store)


def shipped_socket_sets_nodelay() -> bool:
    """Whether the listening socket ``fairkg.api.server.serve`` binds gets TCP_NODELAY on its connections.

    asyncio sets TCP_NODELAY on an accepted connection only when the socket's ``proto`` is ``IPPROTO_TCP``
    (``asyncio.base_events._set_nodelay``); ``socket.socket(AF_INET, SOCK_STREAM)`` has ``proto`` 0, so its
    connections keep Nagle's algorithm, and a response written in two parts (headers, then body, as uvicorn does)
    waits for the client's delayed ACK: ~40 ms on Linux.
    """
    from fairkg.api.server import _bind

    sock = _bind("127.0.0.1", 0)
    try:
        return sock.proto == socket.IPPROTO_TCP or bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    finally:
        sock.close()


def bind(mode: str) -> socket.socket:
    """A listening loopback socket on a free port: ``shipped`` as ``fairkg serve`` binds it
    (``fairkg.api.server._bind``), ``tcp`` with ``proto=IPPROTO_TCP`` so that asyncio sets TCP_NODELAY."""
    if mode == "shipped":
        from fairkg.api.server import _bind

        return _bind("127.0.0.1", 0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


def run(kind: str, store: str, home: Path, timeout: float, log_level: str, socket_mode: str) -> None:
    import uvicorn

    app = minimal_app(store) if kind == "minimal" else fairkg_app(store, home, timeout)
    sock = bind(socket_mode)
    print(f"LISTENING http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    # as fairkg.api.server.serve configures uvicorn (its default log level, info, also logs every request)
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="on"))
    server.run(sockets=[sock])


class Server:
    """A server started in a child process by :func:`start`; :meth:`url` waits until it answers."""

    def __init__(self, kind: str, store: str, *, home: Path, timeout: float = 60.0, log_level: str = "warning",
                 socket_mode: str = "tcp", log_file: Path | None = None) -> None:
        root = Path(__file__).resolve().parents[1]
        home.mkdir(parents=True, exist_ok=True)
        self.kind = kind
        self.log_path = log_file or (home / f"{kind}-server.log")
        self._log = self.log_path.open("wb")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench._serve", kind, "--store", store, "--home", str(home), "--timeout",
             str(timeout), "--log-level", log_level, "--socket", socket_mode],
            stdout=subprocess.PIPE, stderr=self._log, cwd=root, env=env,
        )
        self._url: str | None = None

    def url(self) -> str:
        """The server's base URL, once it answers (waits up to START_TIMEOUT seconds).

        Raises:
            RuntimeError: it exited or did not answer in time.
        """
        import httpx

        if self._url is not None:
            return self._url
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("LISTENING "):
            self.process.wait(10)
            raise RuntimeError(f"the {self.kind} server did not start (exit {self.process.returncode}); "
                               f"see {self.log_path}")
        url = line.split(" ", 1)[1]
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(f"{url}/sparql", timeout=5, trust_env=False,
                             headers={"Accept": "text/turtle"}).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.kind} server at {url} did not answer; see {self.log_path}")
            time.sleep(0.05)
        self._url = url
        return url

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


@contextlib.contextmanager
def serving(kind: str, store: str, **options: Any) -> Iterator[str]:
    """A ``kind`` server (see :class:`Server`) for the duration of the block; yields its base URL."""
    server = Server(kind, store, **options)
    try:
        yield server.url()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._serve")
    parser.add_argument("kind", choices=("fairkg", "minimal"))
    parser.add_argument("--store", required=True, help="minimal: a pyoxigraph directory; fairkg: a store URL")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--socket", choices=("shipped", "tcp"), default="tcp")
    args = parser.parse_args(argv)
    run(args.kind, args.store, args.home, args.timeout, args.log_level, args.socket)


if __name__ == "__main__":
    main()

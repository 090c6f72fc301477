"""Running the service: :func:`serve`, and finding a running one: :func:`read_server_info`.

RocksDB lets one process open a home for writing, so while ``fairkg serve`` runs it writes
``{home}/server.json`` (mode 0600: it holds a token) with its URL, pid and a fresh local admin token; CLI commands on
that home read it and go through the server instead of opening the store (DESIGN.md, "The store"). The file is
removed when the server stops; a file left by a killed server is recognised as stale and ignored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from fairkg.api.app import create_app
from fairkg.kg.errors import FairkgError
from fairkg.kg.settings import Settings
from fairkg.kg.tokens import write_private_json

log = logging.getLogger(__name__)

SERVER_FILE = "server.json"


class ServerRunningError(FairkgError):
    """A live server already serves this home."""


def server_file(home: Path) -> Path:
    """Where the server of ``home`` announces itself."""
    return Path(home) / SERVER_FILE


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "info") -> None:
    """Serve ``settings.home`` on ``host:port`` (port 0: any free port) until interrupted (SIGINT/SIGTERM).

    A fresh local admin token is accepted besides ``settings.admin_token`` (and is the only one if none is set); it
    is written with the URL and pid to ``{home}/server.json`` once the server listens, and the file is removed when
    it stops.

    Raises:
        ServerRunningError: a live server already announces itself in ``{home}/server.json``.
    """
    running = read_server_info(settings.home)
    if running is not None:
        raise ServerRunningError(f"{settings.home} is already served at {running['url']} (pid {running['pid']})")
    token = secrets.token_urlsafe(32)
    app_settings = settings if settings.admin_token else settings.model_copy(update={"admin_token": token})
    app = create_app(app_settings, admin_tokens=[token])
    sock = _bind(host, port)  # bound here so that port 0 works and the URL is known before serving
    url = f"http://{_url_host(host)}:{sock.getsockname()[1]}"
    info = {"url": url, "pid": os.getpid(), "token": token}
    path = server_file(settings.home)
    config = uvicorn.Config(app, log_level=log_level, lifespan="on")
    server = _AnnouncingServer(config, path, info)
    try:
        server.run(sockets=[sock])
    finally:  # reached on errors and SIGINT; after SIGTERM uvicorn re-raises the signal first, see shutdown()
        sock.close()
        _remove_info(path, os.getpid())


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that writes ``info`` to ``path`` once it listens (and the app's lifespan has opened the
    store), and removes it first thing when it shuts down: after a SIGTERM, uvicorn re-raises the signal once it
    has shut down, which ends the process before any ``finally`` of the caller runs."""

    def __init__(self, config: uvicorn.Config, path: Path, info: dict[str, Any]) -> None:
        super().__init__(config)
        self._path, self._info = path, info

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:  # a failed startup exits before this; belt and braces
            _write_info(self._path, self._info)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        _remove_info(self._path, self._info["pid"])  # stop announcing before the store closes
        await super().shutdown(sockets=sockets)


def read_server_info(home: Path) -> dict[str, Any] | None:
    """The ``server.json`` of ``home`` ({"url", "pid", "token"}) if its server is alive and answers ``GET /sparql``
    within a second; None if there is no file or it is stale (the process is gone or does not answer)."""
    try:
        info = json.loads(server_file(home).read_text(encoding="utf-8"))
        url, pid = str(info["url"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(pid):
        return None
    try:
        # trust_env=False: a proxy from the environment must not stand between us and a local server.
        answer = httpx.get(f"{url}/sparql", timeout=1.0, headers={"Accept": "text/turtle"}, trust_env=False)
    except httpx.HTTPError:
        return None
    return info if answer.status_code == 200 else None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except OSError:
        return False
    return True


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and without it every
    # keep-alive response waits ~40 ms for a delayed ACK (measured)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # listening everywhere: loopback reaches it from this machine
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _write_info(path: Path, info: dict[str, Any]) -> None:
    """Write ``info`` to ``path`` readable by the owner only, atomically (readers never see half a file)."""
    write_private_json(path, info)
    log.info("serving %s at %s (admin token in %s)", path.parent, info["url"], path)


def _remove_info(path: Path, pid: int) -> None:
    """Remove ``path`` if this process wrote it (never another server's announcement)."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") != pid:
            return
    except (OSError, ValueError, AttributeError):
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


__all__ = ["SERVER_FILE", "ServerRunningError", "read_server_info", "serve", "server_file"]

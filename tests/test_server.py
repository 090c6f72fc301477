"""``fairkg.api.server``: ``serve`` announces itself in ``{home}/server.json`` and cleans up; stale files are
ignored."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fairkg.api.server import ServerRunningError, read_server_info, serve, server_file
from fairkg.kg.settings import Settings

SERVE = "from fairkg.api.server import serve; from fairkg.kg.settings import Settings; serve(Settings(), port=0)"


def _start(home: Path, **env: str) -> subprocess.Popen[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FAIRKG_")}
    environment.update(FAIRKG_HOME=str(home), **env)
    return subprocess.Popen([sys.executable, "-c", SERVE], env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def _wait_for_file(path: Path, process: subprocess.Popen[bytes], seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"serve exited early: {process.stdout.read().decode() if process.stdout else ''}")
        if time.monotonic() > deadline:
            raise AssertionError("serve did not write server.json")
        time.sleep(0.05)
    return json.loads(path.read_text())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes], dict]]:
    process = _start(tmp_path, FAIRKG_ADMIN_TOKEN="env-token")
    try:
        info = _wait_for_file(server_file(tmp_path), process)
        yield tmp_path, process, info
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _insert(url: str, token: str, subject: str) -> httpx.Response:
    update = f"INSERT DATA {{ GRAPH <http://example.org/g> {{ <{subject}> a <http://example.org/Thing> }} }}"
    return httpx.post(f"{url}/sparql", data={"update": update}, headers={"Authorization": f"Bearer {token}"})


def _ask(url: str, subject: str) -> bool:
    answer = httpx.get(f"{url}/sparql", params={"query": f"ASK {{ <{subject}> a <http://example.org/Thing> }}"})
    return answer.json()["boolean"]


def test_serve_announces_itself_and_cleans_up(served: tuple[Path, subprocess.Popen[bytes], dict]) -> None:
    home, process, info = served
    path = server_file(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(info) == {"url", "pid", "token"}
    assert info["pid"] == process.pid
    assert info["url"].startswith("http://127.0.0.1:")
    assert info["token"] not in ("", "env-token")
    assert read_server_info(home) == info

    # The local token and the configured one are both admin; anything else is not.
    assert _insert(info["url"], info["token"], "http://example.org/a").status_code == 204
    assert _insert(info["url"], "env-token", "http://example.org/b").status_code == 204
    assert _insert(info["url"], "guess", "http://example.org/c").status_code == 403
    assert _ask(info["url"], "http://example.org/a") and _ask(info["url"], "http://example.org/b")
    assert not _ask(info["url"], "http://example.org/c")

    # A second server on the same home is refused while this one lives.
    with pytest.raises(ServerRunningError):
        serve(Settings(home=home))

    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so that the process ends as signalled.
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert not path.exists()
    assert read_server_info(home) is None


def test_local_token_is_the_admin_token_when_none_is_configured(tmp_path: Path) -> None:
    process = _start(tmp_path)
    try:
        info = _wait_for_file(server_file(tmp_path), process)
        assert _insert(info["url"], info["token"], "http://example.org/a").status_code == 204
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert not server_file(tmp_path).exists()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("content", [
    None,
    "not json",
    json.dumps({"url": "http://127.0.0.1:9", "token": "t"}),
    json.dumps({"url": "http://127.0.0.1:9", "pid": "dead", "token": "t"}),
    "dead-pid",
    "live-pid-nobody-listening",
], ids=["missing", "malformed", "no-pid", "bad-pid", "dead-pid", "no-answer"])
def test_read_server_info_ignores_stale_files(tmp_path: Path, content: str | None) -> None:
    if content == "dead-pid":
        content = json.dumps({"url": f"http://127.0.0.1:{_unused_port()}", "pid": _dead_pid(), "token": "t"})
    elif content == "live-pid-nobody-listening":  # our own pid is alive, but it serves nothing there
        content = json.dumps({"url": f"http://127.0.0.1:{_unused_port()}", "pid": os.getpid(), "token": "t"})
    if content is not None:
        server_file(tmp_path).write_text(content)
    started = time.monotonic()
    assert read_server_info(tmp_path) is None
    assert time.monotonic() - started < 3

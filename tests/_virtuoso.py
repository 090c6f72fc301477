"""A real Virtuoso (Debian's ``virtuoso-opensource``) for the tests: :func:`running_virtuoso`.

It runs on loopback only, on free ports, with its database in a temporary directory and a generated
``virtuoso.ini`` sized for a small shared machine. The dba password is set at first start (``+pwdold dba +pwddba X
+pwddav X``), a SPARQL update user is created and granted ``SPARQL_UPDATE`` through ``isql-vt``, and the server is
stopped with SIGTERM afterwards (killed if it has not stopped within 10 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

VIRTUOSO = "virtuoso-t"
ISQL = "isql-vt"
INSTALL_HINT = "needs Debian's virtuoso-opensource (apt-get install virtuoso-opensource)"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
PRIVATE_GRAPHS = "http://www.openlinksw.com/schemas/virtrdf#PrivateGraphs"


class VirtuosoStartError(RuntimeError):
    """Virtuoso did not start, or refused the set-up statements."""


@dataclass(frozen=True)
class VirtuosoServer:
    """A running Virtuoso: its SPARQL endpoints, the update user, and how to reach it as dba."""

    query_url: str
    update_url: str
    user: str
    password: str
    isql_address: str
    dba_password: str
    directory: Path

    @property
    def store_url(self) -> str:
        """The ``FAIRKG_STORE`` value for this server."""
        return f"sparql:{self.query_url},{self.update_url}"

    def isql(self, sql: str) -> str:
        """Run SQL statements as dba through ``isql-vt``; its output.

        Raises:
            VirtuosoStartError: a statement failed (``isql-vt`` exits 0 even then, so its output is checked).
        """
        return _isql(self.isql_address, self.dba_password, sql)


def virtuoso_installed() -> bool:
    """Whether Virtuoso's server and its isql client are on PATH."""
    return shutil.which(VIRTUOSO) is not None and shutil.which(ISQL) is not None


@contextlib.contextmanager
def running_virtuoso(tmp_dir: Path) -> Iterator[VirtuosoServer]:
    """Start Virtuoso with its database under ``tmp_dir``; stop it when the block ends.

    Raises:
        VirtuosoStartError: it did not answer on ``/sparql`` in time, or the set-up SQL failed.
    """
    directory = Path(tmp_dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vsp").mkdir(exist_ok=True)
    isql_port, http_port = _free_port(), _free_port()
    dba_password = secrets.token_hex(8)
    user, password = "fairkg", secrets.token_hex(8)
    ini = directory / "virtuoso.ini"
    ini.write_text(_ini(directory, isql_port, http_port))
    log = (directory / "stdout.log").open("wb")
    # With +pwddba Virtuoso creates the database, changes the passwords and exits; then it is started for real.
    first = subprocess.run(
        [VIRTUOSO, "+foreground", "+configfile", str(ini),
         "+pwdold", "dba", "+pwddba", dba_password, "+pwddav", dba_password],
        cwd=directory, stdout=log, stderr=subprocess.STDOUT, timeout=START_TIMEOUT, check=False,
    )
    if first.returncode != 0:
        log.close()
        raise VirtuosoStartError(f"virtuoso-t could not set the dba password:\n{_log_tail(directory)}")
    process = subprocess.Popen(
        [VIRTUOSO, "+foreground", "+configfile", str(ini)],
        cwd=directory, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{http_port}"
    server = VirtuosoServer(
        query_url=f"{base}/sparql", update_url=f"{base}/sparql-auth", user=user, password=password,
        isql_address=f"127.0.0.1:{isql_port}", dba_password=dba_password, directory=directory,
    )
    try:
        _wait_until_answering(process, server.query_url, directory)
        server.isql(setup_sql(user, password, _graphs(server.query_url)))
        yield server
    finally:
        _stop(process)
        log.close()


def setup_sql(user: str, password: str, own_graphs: list[str]) -> str:
    """The SQL that readies a fresh Virtuoso for fairkg (README, "A Virtuoso server"): an update user, and
    Virtuoso's own graphs ``own_graphs`` made private so that they stay out of the union default graph."""
    lines = [
        f"DB.DBA.USER_CREATE('{user}', '{password}');",
        f'GRANT SPARQL_UPDATE TO "{user}";',
        # Graph-level security: the user may read and write every public graph (15: read, write, sponge, list).
        f"DB.DBA.RDF_DEFAULT_USER_PERMS_SET('{user}', 15);",
        f"DB.DBA.RDF_GRAPH_GROUP_CREATE('{PRIVATE_GRAPHS}', 1);",
        *(f"DB.DBA.RDF_GRAPH_GROUP_INS('{PRIVATE_GRAPHS}', '{graph}');" for graph in own_graphs),
        # Nobody (anonymous /sparql) and the user may not read private graphs (the third argument: 1 = private).
        "DB.DBA.RDF_DEFAULT_USER_PERMS_SET('nobody', 0, 1);",
        f"DB.DBA.RDF_DEFAULT_USER_PERMS_SET('{user}', 0, 1);",
    ]
    return "\n".join(lines) + "\n"


def _graphs(query_url: str) -> list[str]:
    """Every graph an anonymous query sees: on a fresh database, Virtuoso's own."""
    query = "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
    request = urllib.request.Request(f"{query_url}?{urllib.parse.urlencode({'query': query})}",
                                     headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        bindings = json.load(response)["results"]["bindings"]
    return [row["g"]["value"] for row in bindings]


def _ini(directory: Path, isql_port: int, http_port: int) -> str:
    """A minimal virtuoso.ini: loopback only, small buffers (a few hundred MB), the database under ``directory``."""
    return f"""\
[Database]
DatabaseFile       = {directory}/virtuoso.db
ErrorLogFile       = {directory}/virtuoso.log
LockFile           = {directory}/virtuoso.lck
TransactionFile    = {directory}/virtuoso.trx
xa_persistent_file = {directory}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {directory}/virtuoso-temp.db
TransactionFile    = {directory}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort           = 127.0.0.1:{isql_port}
DisableUnixSocket    = 1
DisableTcpSocket     = 0
MaxClientConnections = 10
CheckpointInterval   = 60
O_DIRECT             = 0
CaseMode             = 2
MaxStaticCursorRows  = 5000
AllowOSCalls         = 0
DirsAllowed          = ., {directory}
NumberOfBuffers      = 20000
MaxDirtyBuffers      = 15000
MaxQueryMem          = 512M
ThreadsPerQuery      = 2
AsyncQueueMaxThreads = 4
SchedulerInterval    = 10

[HTTPServer]
ServerPort           = 127.0.0.1:{http_port}
ServerRoot           = {directory}/vsp
MaxClientConnections = 10
ServerThreads        = 10
MaxKeepAlives        = 10
KeepAliveTimeout     = 10
EnabledDavVSP        = 0
HTTPProxyEnabled     = 0
Charset              = UTF-8
EnabledGzipContent   = 0

[SPARQL]
ResultSetMaxRows           = 10000
MaxQueryCostEstimationTime = 400
MaxQueryExecutionTime      = 60
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_answering(process: subprocess.Popen[bytes], query_url: str, directory: Path) -> None:
    probe = f"{query_url}?{urllib.parse.urlencode({'query': 'ASK {}'})}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise VirtuosoStartError(f"virtuoso-t exited with {process.returncode}:\n{_log_tail(directory)}")
        try:
            with urllib.request.urlopen(probe, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise VirtuosoStartError(f"virtuoso-t did not answer on {query_url} in {START_TIMEOUT:g} s:\n"
                             f"{_log_tail(directory)}")


def _isql(address: str, dba_password: str, sql: str) -> str:
    # isql-vt exits 0 even when a statement fails; failures print "*** Error".
    completed = subprocess.run(
        [ISQL, address, "dba", dba_password, "VERBOSE=OFF", "BANNER=OFF", "PROMPT=OFF", "ECHO=OFF", "ERRORS=STDOUT"],
        input=sql.encode() + b"\nEXIT;\n", capture_output=True, timeout=60, check=False,
    )
    output = (completed.stdout + completed.stderr).decode(errors="replace")
    if completed.returncode != 0 or "*** Error" in output:
        raise VirtuosoStartError(f"isql-vt failed (exit {completed.returncode}):\n{output}")
    return output


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)


def _log_tail(directory: Path, lines: int = 30) -> str:
    path = directory / "virtuoso.log"  # in the foreground it also goes to stdout.log: the same lines
    if not path.exists():
        path = directory / "stdout.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

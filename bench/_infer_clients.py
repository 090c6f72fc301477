"""The HTTP clients of ``bench/infer.py``: what a request costs on the client's side is part of every HTTP number
there, so the benchmark can measure with the cheapest correct client and, beside it, with the usual ones.

* ``socket``: HTTP/1.1 written on one keep-alive TCP connection (``Content-Length`` or chunked bodies; anything else
  is an error), about 0.15-0.2 ms cheaper per request than ``http.client`` here, which parses every response's
  headers with the ``email`` package;
* ``http.client``: the standard library's, keep-alive;
* ``tritonclient``: Triton's own (geventhttpclient), as users call it.

Each thread gets connections of its own (a connection carries one request at a time). :class:`OipClient` encodes
and decodes the Open Inference Protocol itself, binary tensors (Triton's extension) or JSON.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

CLIENTS = ("socket", "http.client", "tritonclient")
#: errors of a keep-alive connection the server closed while it was idle (uvicorn closes one after 5 s)
STALE = (http.client.RemoteDisconnected, ConnectionError, http.client.IncompleteRead)

Answer = tuple[int, dict[str, str], bytes]


class Transport(Protocol):
    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        """Status, headers (names in lower case) and body of one request."""
        ...


class SocketTransport:
    """HTTP/1.1 on one keep-alive TCP connection (TCP_NODELAY; each request written with one ``sendall``)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.rfile = sock, sock.makefile("rb")
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.rfile.close()
            self.sock.close()
            self.sock = None

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        message = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for attempt in (1, 2):  # a connection the server closed while idle is reopened once
            reused = self.sock is not None
            try:
                (self.sock or self._connect()).sendall(message)
                return self._answer(method)
            except STALE:
                self.close()
                if attempt == 2 or not reused:
                    raise
        raise AssertionError("unreachable")

    def _answer(self, method: str) -> Answer:
        status_line = self.rfile.readline(65537)
        if not status_line:
            raise http.client.RemoteDisconnected("the server closed the connection without answering")
        version, status, _ = status_line.decode("latin-1").split(" ", 2)
        if not version.startswith("HTTP/1."):
            raise http.client.BadStatusLine(status_line.decode("latin-1"))
        headers: dict[str, str] = {}
        while (line := self.rfile.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in ("204", "304"):
            data = b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            data = self._chunked()
        elif "content-length" in headers:
            data = self._exactly(int(headers["content-length"]))
        else:
            raise http.client.HTTPException("a response without Content-Length or chunked encoding")
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(status), headers, data

    def _exactly(self, size: int) -> bytes:
        data = self.rfile.read(size)
        if len(data) != size:
            raise http.client.IncompleteRead(data, size - len(data))
        return data

    def _chunked(self) -> bytes:
        chunks = []
        while (size := int(self.rfile.readline(65537).split(b";", 1)[0], 16)) > 0:
            chunks.append(self._exactly(size))
            self.rfile.readline(65537)  # the CRLF after each chunk
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return b"".join(chunks)


class HttpClientTransport:
    """The standard library's ``http.client`` on one keep-alive connection."""

    def __init__(self, host: str, port: int) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=60)

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        for attempt in (1, 2):  # a connection the server closed while idle is reopened once
            try:
                self.connection.request(method, path, body=body or None, headers=headers or {})
                response = self.connection.getresponse()
                data = response.read()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, data
            except STALE:
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def transport(kind: str, url: str) -> Transport:
    host, _, port = url.removeprefix("http://").partition(":")
    return SocketTransport(host, int(port)) if kind == "socket" else HttpClientTransport(host, int(port))


class OipClient:
    """``GET`` and Open Inference Protocol infer requests over one :class:`Transport`."""

    def __init__(self, kind: str, url: str) -> None:
        self.transport = transport(kind, url)

    def get(self, path: str) -> bytes:
        status, _, data = self.transport.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {data[:300]!r}")
        return data

    def infer(self, key: str, name: str, array: np.ndarray, output: str, *, binary: bool) -> np.ndarray:
        """Send ``array`` as the input ``name`` (FP32) and return the output ``output``."""
        tensor: dict[str, Any] = {"name": name, "shape": list(array.shape), "datatype": "FP32"}
        if binary:
            raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
            tensor["parameters"] = {"binary_data_size": len(raw)}
        else:
            tensor["data"] = array.reshape(-1).tolist()
        document = {"inputs": [tensor], "outputs": [{"name": output, "parameters": {"binary_data": binary}}]}
        head = json.dumps(document, separators=(",", ":")).encode()
        if binary:
            headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(head))}
            body = head + raw
        else:
            headers, body = {"Content-Type": "application/json"}, head
        status, answer_headers, data = self.transport.request("POST", f"/v2/models/{key}/infer", body, headers)
        if status != 200:
            raise RuntimeError(f"infer: {status} {data[:300]!r}")
        return output_of(data, answer_headers.get("inference-header-content-length"), output)


def output_of(data: bytes, header_length: str | None, name: str) -> np.ndarray:
    """The output ``name`` of an ``$inference_response`` body (binary outputs follow its JSON part)."""
    split = int(header_length) if header_length is not None else len(data)
    document = json.loads(data[:split])
    offset = split
    for tensor in document["outputs"]:
        shape = tensor["shape"]
        size = tensor.get("parameters", {}).get("binary_data_size")
        if size is None:
            array = np.asarray(tensor["data"], dtype=np.float32).reshape(shape)
        else:
            array = np.frombuffer(data, dtype="<f4", count=size // 4, offset=offset).reshape(shape)
            offset += size
        if tensor["name"] == name:
            return array
    raise KeyError(name)


def _per_thread(make: Callable[[], Any]) -> Callable[[], Any]:
    """``make()``'s object for the calling thread, made on its first call."""
    local = threading.local()

    def own() -> Any:
        made = getattr(local, "made", None)
        if made is None:
            made = local.made = make()
        return made

    return own


def infer_call(kind: str, url: str, key: str, image: np.ndarray, *, binary: bool) -> Callable[[], np.ndarray]:
    """A call that infers ``image`` over HTTP with this thread's own client of ``kind``."""
    if kind == "tritonclient":
        return _triton_infer(url, key, image, binary=binary)
    client = _per_thread(lambda: OipClient(kind, url))
    return lambda: client().infer(key, "image", image, "logits", binary=binary)


def get_call(kind: str, url: str, path: str) -> Callable[[], Any]:
    """A ``GET path`` with this thread's own client of ``kind`` (tritonclient: ``/v2/health/live`` only)."""
    if kind == "tritonclient":
        import tritonclient.http as triton

        if path != "/v2/health/live":
            raise ValueError("tritonclient only asks the protocol's own endpoints")
        live = _per_thread(lambda: triton.InferenceServerClient(url.removeprefix("http://"), network_timeout=60))
        return lambda: live().is_server_live()
    client = _per_thread(lambda: OipClient(kind, url))
    return lambda: client().get(path)


def _triton_infer(url: str, key: str, image: np.ndarray, *, binary: bool) -> Callable[[], np.ndarray]:
    import tritonclient.http as triton

    client = _per_thread(lambda: triton.InferenceServerClient(url.removeprefix("http://"), network_timeout=60))

    def call() -> np.ndarray:
        tensor = triton.InferInput("image", list(image.shape), "FP32")
        tensor.set_data_from_numpy(image, binary_data=binary)
        output = triton.InferRequestedOutput("logits", binary_data=binary)
        return client().infer(key, [tensor], outputs=[output]).as_numpy("logits")

    return call

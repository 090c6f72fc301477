"""A Python client for a fairkg service (the role of DLHub's SDK): find, describe, download, infer and run.

>>> with Client("http://127.0.0.1:8000") as fkg:                                   # doctest: +SKIP
...     model = fkg.resolve("10.5072/fairkg.digits-cnn")                          # {"iri", "key", "identifiers"}
...     graph = fkg.describe("10.5072/fairkg.digits-cnn")                         # an rdflib Graph
...     onnx = fkg.download("10.5072/fairkg.digits-cnn", "models/", name="model.onnx")  # SHA-256 checked
...     logits = fkg.infer("10.5072/fairkg.digits-cnn", {"image": images})["logits"]
...     run = fkg.start_run("10.5072/fairkg.digits-cnn", "10.5072/fairkg.digits-data", split="test")
...     results = fkg.fetch_results(run, "results.h5")                            # an HDMF-AI ResultsTable

Everything goes through the service's public HTTP API: the resolver (``/resolve``, content negotiation), search
(``/search``), SPARQL (``/sparql``, to read files' checksums from the graph), artifacts (``/artifacts/...``), the Open
Inference Protocol (``/v2``, with binary tensors) and dataset runs (``/models/{key}/runs``). Every download is checked
against the SHA-256 the graph records; a mismatch raises :class:`ChecksumMismatchError` and leaves no file behind.
Errors raise :class:`ClientError` carrying the problem document's ``detail``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
from rdflib import Graph

from fairkg.api.oip import BINARY_HEADER, numpy_dtype, oip_datatype

__all__ = ["ChecksumMismatchError", "Client", "ClientError", "RemoteFile"]

_CHUNK = 1 << 20
_FILES = """PREFIX dcat: <http://www.w3.org/ns/dcat#> PREFIX spdx: <http://spdx.org/rdf/terms#>
PREFIX schema: <http://schema.org/> PREFIX fkg: <https://w3id.org/fairkg/ontology#>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT DISTINCT ?node ?name ?url ?sha256 ?format WHERE {
  { BIND(?resource AS ?node) } UNION { ?resource dcat:distribution|fkg:referenceExample|prov:generated ?node }
  ?node dcat:downloadURL ?url ; spdx:checksum/spdx:checksumValue ?sha256 .
  OPTIONAL { ?node schema:name ?name } OPTIONAL { ?node schema:encodingFormat ?format }
} ORDER BY ?name"""


class ClientError(Exception):
    """The service refused or failed a request (``status``, and the problem document in ``problem``), or could not
    be reached (``status`` None)."""

    def __init__(self, detail: str, *, status: int | None = None, problem: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.problem = dict(problem or {})


class ChecksumMismatchError(ClientError):
    """A downloaded file whose SHA-256 differs from the graph's; the file was deleted."""


@dataclass(frozen=True)
class RemoteFile:
    """A file a record publishes: its node in the graph, name, download URL, SHA-256 and media type."""

    iri: str
    name: str
    url: str
    sha256: str
    media_type: str | None = None


class Client:
    """A fairkg service at ``base_url``; ``token`` is a bearer token (restricted models need a reader's).

    ``transport`` replaces httpx's (tests). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # trust_env=False: a proxy from the environment must not stand between the client and the service
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, trust_env=False,
                                  follow_redirects=True, transport=transport)
        self._keys: dict[str, str] = {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach the fairkg service at {self.base_url}: {exc}") from exc
        _raise_for_problem(answer)
        return answer

    def _local(self, url: str) -> str:
        """A URL of this registry, as served here: the service answers for its IRIs wherever it runs."""
        parts = urlsplit(url)
        if url.startswith(self.base_url) or not parts.path.startswith(("/artifacts/", "/id/")):
            return url
        return self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")

    # -- finding and describing -------------------------------------------------------------------------------------
    def search(self, q: str = "", *, size: int = 20) -> list[dict[str, Any]]:
        """Models and datasets matching every word of ``q``, ranked, each ``{"iri", "title", ...}``."""
        answer = self._send("GET", "/search", params={"q": q, "size": size, "format": "json"},
                            headers={"Accept": "application/json"})
        return list(answer.json()["results"])

    def resolve(self, identifier: str) -> dict[str, Any]:
        """``{"iri", "key", "identifiers", ...}`` of the resource any identifier names (DOI, ARK, minid, UUID, IRI)."""
        answer = self._send("GET", "/resolve", params={"id": identifier}, headers={"Accept": "application/json"})
        data: dict[str, Any] = answer.json()
        self._keys[identifier] = str(data["key"])
        return data

    def _key(self, identifier: str) -> str:
        if identifier not in self._keys:
            self.resolve(identifier)
        return self._keys[identifier]

    def _iri(self, identifier: str) -> str:
        return str(self.resolve(identifier)["iri"])

    def describe(self, identifier: str) -> Graph:
        """The resource's description (its record) as an rdflib graph, fetched as Turtle."""
        answer = self._send("GET", "/resolve", params={"id": identifier}, headers={"Accept": "text/turtle"})
        return Graph().parse(data=answer.text, format="turtle")

    def describe_dict(self, identifier: str, *, form: str = "jsonld") -> Any:
        """The description as JSON-LD (``form="jsonld"``), or the resolver's JSON (``form="json"``)."""
        media = {"jsonld": "application/ld+json", "json": "application/json"}.get(form)
        if media is None:
            raise ValueError(f"form is jsonld or json, not {form!r}")
        return self._send("GET", "/resolve", params={"id": identifier}, headers={"Accept": media}).json()

    def files(self, identifier: str) -> list[RemoteFile]:
        """The files the resource publishes (itself, when it is a file), with the SHA-256 the graph records."""
        iri = self._iri(identifier)
        query = _FILES.replace("?resource", f"<{iri}>")
        answer = self._send("GET", "/sparql", params={"query": query},
                            headers={"Accept": "application/sparql-results+json"})
        found = []
        for row in answer.json()["results"]["bindings"]:
            url = row["url"]["value"]
            name = row.get("name", {}).get("value") or url.rstrip("/").rsplit("/", 1)[-1]
            found.append(RemoteFile(row["node"]["value"], name, url, row["sha256"]["value"].lower(),
                                    row.get("format", {}).get("value")))
        return found

    # -- downloading ------------------------------------------------------------------------------------------------
    def download(self, identifier_or_distribution: str, dest: str | os.PathLike[str], *,
                 name: str | None = None) -> Path:
        """Download a file and check it against the SHA-256 in the graph.

        ``identifier_or_distribution`` names a file (a distribution, data file, results file) or a record with files:
        ``name`` picks one of them (``model.onnx``); a record with one file needs no name. ``dest`` is a file path, or
        an existing folder to put the file in under its name.

        Raises:
            ChecksumMismatchError: the bytes do not match (nothing is left at ``dest``).
            ClientError: no such file, several and no ``name``, or the service refused (a restricted record without
                a token, a file that failed the service's own fixity check...).
        """
        files = self.files(identifier_or_distribution)
        if name is not None:
            files = [f for f in files if f.name == name or f.name.rsplit("/", 1)[-1] == name]
        if len(files) != 1:
            names = ", ".join(f.name for f in self.files(identifier_or_distribution)) or "none"
            what = "no file" if not files else "several files"
            raise ClientError(f"{identifier_or_distribution} has {what}{f' named {name!r}' if name else ''}; "
                              f"its files: {names} (pass name=...)")
        return self._fetch(files[0], Path(dest))

    def _fetch(self, file: RemoteFile, dest: Path) -> Path:
        target = dest / file.name.rsplit("/", 1)[-1] if dest.is_dir() else dest
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        digest = hashlib.sha256()
        try:
            with self._http.stream("GET", self._local(file.url)) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    _raise_for_problem(answer)
                with partial.open("wb") as handle:
                    for chunk in answer.iter_bytes(_CHUNK):
                        digest.update(chunk)
                        handle.write(chunk)
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            raise ClientError(f"the download of {file.url} failed: {exc}") from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        if digest.hexdigest() != file.sha256:
            partial.unlink(missing_ok=True)
            raise ChecksumMismatchError(f"{file.name} from {file.url} does not match the SHA-256 the graph records "
                                        f"(expected {file.sha256}, got {digest.hexdigest()}); it was deleted")
        os.replace(partial, target)
        return target

    # -- inference --------------------------------------------------------------------------------------------------
    def metadata(self, identifier: str) -> dict[str, Any]:
        """The model's Open Inference Protocol metadata: inputs and outputs with datatypes and shapes."""
        data: dict[str, Any] = self._send("GET", f"/v2/models/{self._key(identifier)}").json()
        return data

    def infer(self, identifier: str, inputs: Mapping[str, np.ndarray], *, runtime: str | None = None,
              device: str | None = None, binary: bool = True) -> dict[str, np.ndarray]:
        """Run the model on ``inputs`` (name -> array) through the Open Inference Protocol; returns name -> array.

        ``binary`` sends and receives tensors as raw bytes (Triton's binary extension) instead of JSON lists.
        ``runtime`` and ``device`` ask for where it runs (e.g. ``"onnxruntime"``, ``"cuda"``).
        """
        request, raw = _infer_request(inputs, runtime=runtime, device=device, binary=binary)
        head = json.dumps(request, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/octet-stream" if raw else "application/json"}
        if raw:
            headers[BINARY_HEADER] = str(len(head))
        answer = self._send("POST", f"/v2/models/{self._key(identifier)}/infer", content=b"".join([head, *raw]),
                            headers=headers)
        return _infer_outputs(answer.content, answer.headers.get(BINARY_HEADER))

    # -- dataset runs -----------------------------------------------------------------------------------------------
    def start_run(self, identifier: str, dataset: str, *, split: str = "test", runtime: str | None = None,
                  device: str | None = None, batch_size: int | None = None, inputs: Mapping[str, str] | None = None,
                  labels: str | None = None) -> dict[str, Any]:
        """Run the model over a split of a registered dataset on the service; returns ``{"iri", "key", "results",
        "metrics", ...}`` once the run is recorded."""
        body: dict[str, Any] = {"dataset": dataset, "split": split}
        for key, value in (("runtime", runtime), ("device", device), ("batch_size", batch_size),
                           ("inputs", dict(inputs) if inputs else None), ("labels", labels)):
            if value is not None:
                body[key] = value
        data: dict[str, Any] = self._send("POST", f"/models/{self._key(identifier)}/runs", json=body).json()
        return data

    def fetch_results(self, run: str | Mapping[str, Any], dest: str | os.PathLike[str]) -> Path:
        """Download a run's results file (HDF5, an HDMF-AI ResultsTable), checked against the graph's SHA-256.

        ``run`` is what :meth:`start_run` returned, or the run's IRI or key.
        """
        ident = str(run["iri"]) if isinstance(run, Mapping) else run
        return self.download(ident, dest)


def _raise_for_problem(answer: httpx.Response) -> None:
    if answer.status_code < 400:
        return
    problem: dict[str, Any] = {}
    try:
        loaded = answer.json()
        problem = loaded if isinstance(loaded, dict) else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    detail = str(problem.get("detail") or problem.get("error") or answer.text[:500] or answer.reason_phrase)
    raise ClientError(f"{answer.status_code} {problem.get('title') or answer.reason_phrase}: {detail}",
                      status=answer.status_code, problem=problem)


def _infer_request(inputs: Mapping[str, np.ndarray], *, runtime: str | None, device: str | None,
                   binary: bool) -> tuple[dict[str, Any], list[bytes]]:
    tensors, raw = [], []
    for name, value in inputs.items():
        array = np.asarray(value)
        tensor: dict[str, Any] = {"name": name, "shape": list(array.shape), "datatype": oip_datatype(array.dtype)}
        if binary:
            data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
            tensor["parameters"] = {"binary_data_size": len(data)}
            raw.append(data)
        else:
            tensor["data"] = array.reshape(-1).tolist()
        tensors.append(tensor)
    parameters: dict[str, Any] = {"binary_data_output": binary}
    if runtime:
        parameters["runtime"] = runtime
    if device:
        parameters["device"] = device
    return {"inputs": tensors, "parameters": parameters}, raw


def _infer_outputs(body: bytes, header: str | None) -> dict[str, np.ndarray]:
    length = int(header) if header is not None else len(body)
    document = json.loads(body[:length])
    buffer, offset = body[length:], 0
    outputs: dict[str, np.ndarray] = {}
    for tensor in document["outputs"]:
        dtype = numpy_dtype(tensor["datatype"])
        size = (tensor.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            array = np.frombuffer(buffer, dtype=dtype, count=size // dtype.itemsize, offset=offset).copy()
            offset += size
        else:
            array = np.asarray(tensor["data"], dtype=dtype)
        outputs[tensor["name"]] = array.reshape(tensor["shape"]).astype(dtype.newbyteorder("="), copy=False)
    return outputs

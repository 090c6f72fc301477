"""``/artifacts/{dist_key}/{filename}``: the files of models and datasets, checked against the graph on the way out.

* The file is found through the graph, never through the URL: the route looks up the node ``{base_iri}/id/{dist_key}``
  and serves the file at its ``fkg:location`` only if the request path is exactly its ``dcat:downloadURL``. A path
  that names anything else (another file name, ``..``, ``%2e%2e``, an absolute path) is 404, so no request can
  reach a file outside the registry home.
* Access (:func:`fairkg.api.auth.ensure_artifact_access`): a restricted record's files need a reader token (401 with
  ``WWW-Authenticate: Bearer`` without one); a withdrawn record's files are 410 Gone.
* Fixity: the file's SHA-256 is checked against the graph's (:func:`fairkg.kg.artifacts.verified_path`) before a
  byte is sent, on GET and HEAD alike. A mismatch is answered **500**, never the file: the client asked for a
  resource that exists, correctly; the server cannot produce it intact, which is the server's failure (RFC 9110
  §15.6.1). Not 409, which says the request conflicts with the resource's state and that the *client* might resolve
  it (§15.5.10): no client can repair our disk. Not 503 either: retrying will not help until the operator restores
  the file.
* Headers: ``Content-Type`` from ``schema:encodingFormat``, ``Content-Length``, a strong ``ETag`` (the SHA-256, so
  ``If-None-Match`` answers 304 without reading the file) and ``Repr-Digest: sha-256=:BASE64:`` (RFC 9530 §3,
  https://www.rfc-editor.org/rfc/rfc9530; it obsoletes RFC 3230's ``Digest``, so that header is not sent).
"""

from __future__ import annotations

import base64
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from fairkg.api.auth import ensure_artifact_access
from fairkg.api.deps import SettingsDep, StoreDep
from fairkg.api.problems import PROBLEM_BASE, ProblemError
from fairkg.kg.artifacts import verified_path
from fairkg.kg.errors import ArtifactError
from fairkg.kg.identifiers import resource_iri
from fairkg.kg.namespaces import SPARQL_PREFIXES
from fairkg.kg.records import download_url

log = logging.getLogger(__name__)
router = APIRouter(tags=["Artifacts"])

CHUNK = 1 << 20
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_FILE = SPARQL_PREFIXES + """
SELECT ?url ?location ?sha256 ?format WHERE {
  ?node dcat:downloadURL ?url ; fkg:location ?location ; spdx:checksum ?checksum .
  ?checksum spdx:checksumValue ?sha256 .
  OPTIONAL { ?node schema:encodingFormat ?format }
} LIMIT 1"""

_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "The file, after its SHA-256 matched the graph's.",
          "content": {"application/octet-stream": {}}},
    304: {"description": "If-None-Match named this file's ETag."},
    401: {"description": "The record is restricted and no valid token was sent (problem document)."},
    403: {"description": "The token may not read restricted artifacts (problem document)."},
    404: {"description": "No artifact has this URL (problem document)."},
    410: {"description": "The record was withdrawn; its metadata still resolves (problem document)."},
    500: {"description": "The stored file is missing or does not match its SHA-256; it is not served."},
}


@router.get("/artifacts/{dist_key}/{filename}", response_class=Response, responses=_RESPONSES,
            summary="Download a model's or dataset's file (checksum verified)")
@router.head("/artifacts/{dist_key}/{filename}", include_in_schema=False)
def get_artifact(dist_key: str, filename: str, request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """The file published at this ``dcat:downloadURL``, with ``Repr-Digest`` and ``ETag`` from its SHA-256.

    A sync route on purpose: FastAPI runs it in a worker thread, so hashing a large file never blocks the loop.
    """
    key = dist_key.lower()
    if not _UUID.match(key):
        raise _not_found(request.url.path)
    node = resource_iri(settings.base_iri, key)
    rows = list(store.query(_FILE.replace("?node", node.n3())).bindings())
    if not rows or str(rows[0]["url"]) != str(download_url(settings.base_iri, key, filename)):
        raise _not_found(request.url.path)
    row = rows[0]
    access = ensure_artifact_access(request, str(node))
    sha256 = str(row["sha256"]).lower()
    headers = {"ETag": f'"{sha256}"', "Repr-Digest": repr_digest(sha256), "Link": f'<{access.record}>; '
               'rel="collection"', "Content-Disposition": _disposition(filename)}
    if access.restricted:
        headers["Cache-Control"] = "private"
    if _etag_matches(request.headers.get("if-none-match"), sha256):
        return Response(status_code=304, headers=headers)
    try:
        handle, size = open_verified(settings.home, str(row["location"]), sha256)
    except ArtifactError as exc:
        log.error("refused to serve %s: %s", node, exc)
        raise ProblemError(500, f"the stored file of {node} is missing or does not match the SHA-256 recorded in the "
                           "graph, so it is not served. The registry's operator must restore it (`fairkg restore` "
                           "from a backup) or register the record again.", title="Artifact failed its fixity check",
                           type=PROBLEM_BASE + "artifact-integrity", sha256=sha256) from exc
    media_type = str(row.get("format") or "application/octet-stream")
    headers["Content-Length"] = str(size)
    if request.method == "HEAD":
        handle.close()
        return Response(status_code=200, headers=headers, media_type=media_type)
    return StreamingResponse(_chunks(handle), headers=headers, media_type=media_type)


def repr_digest(sha256: str) -> str:
    """The RFC 9530 §3 ``Repr-Digest`` field value for a hex SHA-256: ``sha-256=:BASE64:`` (a Structured Field
    byte sequence, RFC 8941 §3.3.5).

    >>> repr_digest("00" * 32)
    'sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:'
    """
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"


def open_verified(home: Path, location: str, sha256: str) -> tuple[BinaryIO, int]:
    """An open handle on the stored file and its size, after its SHA-256 matched ``sha256``.

    The file is opened first and then verified by :func:`verified_path`; the handle is returned only if it is the
    very file that was verified (same device, inode, size and modification time), so a file swapped in between
    cannot be served unchecked (artifacts are only ever written by rename, never in place).

    Raises:
        ArtifactError: the location escapes the home, the file is missing, or it does not match.
    """
    root = home.resolve()
    candidate = (root / location).resolve()
    if root not in candidate.parents:
        raise ArtifactError(f"artifact location {location!r} is outside the registry home")
    try:
        handle = candidate.open("rb")
    except OSError as exc:
        raise ArtifactError(f"artifact {location} is missing from the registry home: {exc}") from exc
    try:
        held = os.fstat(handle.fileno())
        checked = verified_path(home, location, sha256).stat()
    except (ArtifactError, OSError):
        handle.close()
        raise
    if (held.st_dev, held.st_ino, held.st_size, held.st_mtime_ns) != (
            checked.st_dev, checked.st_ino, checked.st_size, checked.st_mtime_ns):
        handle.close()
        raise ArtifactError(f"artifact {location} changed while it was being verified")
    return handle, held.st_size


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _etag_matches(header: str | None, sha256: str) -> bool:
    # RFC 9110 §13.1.2: If-None-Match is "*" or a list of entity tags, compared weakly.
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or f'"{sha256}"' in tags


def _disposition(filename: str) -> str:
    # RFC 6266 §4.3: a plain quoted name when it is safe ASCII, else the RFC 8187 encoded form.
    if re.fullmatch(r"[A-Za-z0-9._+\-]+", filename):
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}"


def _not_found(path: str) -> ProblemError:
    return ProblemError(404, f"no artifact is published at {path}: artifact URLs are the dcat:downloadURL of a "
                        "distribution, as its record lists them", title="Not found", type=PROBLEM_BASE + "not-found")


__all__ = ["open_verified", "repr_digest", "router"]

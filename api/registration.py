"""Registration and withdrawal over HTTP: ``POST /models`` and ``/datasets``; ``POST /models/{key}/withdraw``.

A registration is one ``multipart/form-data`` request (RFC 7578): a part named ``card`` holding the card (YAML or
JSON), and one part named ``files`` per file the card names, whose *filename* is the path the card gives (relative,
``/``-separated). It needs a publisher token. The parts are saved into a temporary folder and handed to
:func:`fairkg.kg.register.register`, which checks everything before it writes anything, so a refused request leaves
the registry as it was:

====================================  ===============================================================================
201 Created, ``Location: /id/{key}``  a new record, or a new version (``?new_version=true``)
200 OK                                identical content was already registered: nothing changed
400                                   a bad part name or file path, no card, a card that is not YAML
401 / 403                             no valid token / a token without the publisher role
409 Conflict                          changed content under a registered DOI (ask for a new version), a withdrawn
                                      DOI, or a dataset the card names is not registered
411 / 413                             no ``Content-Length`` / more than the upload limit (:data:`MAX_UPLOAD_BYTES`)
415                                   not ``multipart/form-data``
422                                   the card does not validate (``field`` names the bad field), its kind is not
                                      the route's, or files are missing or not named by the card
====================================  ===============================================================================

Withdrawal needs an admin token: it deletes files, and records do not say which publisher made them, so a
publisher's token may not withdraw another's model. Every error is an RFC 9457 problem document.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

import anyio.to_thread
import yaml
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from rdflib import Literal
from starlette.datastructures import UploadFile

from fairkg.api.auth import Principal, require_role
from fairkg.api.deps import SettingsDep, StoreDep
from fairkg.api.problems import PROBLEM_BASE, ProblemError
from fairkg.kg.cards import parse_card
from fairkg.kg.errors import ArtifactError, CardError, RegistrationError
from fairkg.kg.identifiers import resource_iri
from fairkg.kg.namespaces import DCT, FKG, MLS, RDF
from fairkg.kg.register import Registration, card_files, register, withdraw
from fairkg.kg.settings import Settings
from fairkg.kg.store.base import Store

router = APIRouter(tags=["Registration"])

#: The largest registration request accepted, in bytes (card and files together). An app may set
#: ``app.state.max_upload_bytes`` to change it.
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
#: The most files one registration may carry.
MAX_FILES = 256
_COPY_CHUNK = 1 << 20
#: One registration or withdrawal at a time per process: two uploads of one DOI must not both see "not yet
#: registered". (The embedded store allows one writing process anyway.)
_WRITE_LOCK = threading.Lock()

Publisher = Annotated[Principal, Depends(require_role("publisher"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]

_REGISTER_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "Registered: a new record or a new version. `Location` is its `/id/{key}`."},
    200: {"description": "The same content was already registered; nothing changed."},
    **{code: {"description": text + " (problem document)."} for code, text in [
        (400, "A bad part or file path, or no card"), (401, "No valid bearer token"),
        (403, "The token lacks the publisher role"), (409, "Refused: changed content under a registered DOI, a "
                                                           "withdrawn DOI, or an unregistered dataset"),
        (411, "No Content-Length"), (413, "Larger than the upload limit"), (415, "Not multipart/form-data"),
        (422, "The card does not validate (`field` names the bad field), or files are missing")]},
}
_MULTIPART_BODY = {"content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["card"],
    "properties": {"card": {"type": "string", "format": "binary", "description": "The card, YAML or JSON."},
                   "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": "Each file the card names; the part's filename is its path."}}}}},
    "required": True}


class Registered(BaseModel):
    """What a registration or withdrawal did."""

    iri: str
    key: str
    doi: str
    kind: str
    status: str = Field(description="created, new-version, unchanged or withdrawn")
    previous_version: str | None = None


class Withdrawal(BaseModel):
    reason: str = Field(min_length=1, description="Why the record is withdrawn; kept in its tombstone.")


@router.post("/models", status_code=201, response_model=Registered, responses=_REGISTER_RESPONSES,
             openapi_extra={"requestBody": _MULTIPART_BODY}, summary="Register a model card and its files")
async def register_model(request: Request, store: StoreDep, settings: SettingsDep, _: Publisher,
                         new_version: Annotated[bool, Query(description="Publish changed content as a new "
                                                                        "version with its own DOI.")] = False
                         ) -> JSONResponse:
    """Register a model: a multipart request with the card (part ``card``) and its files (parts ``files``, each
    named by its path in the card). Needs a publisher token."""
    return await _register(request, store, settings, kind="model", new_version=new_version)


@router.post("/datasets", status_code=201, response_model=Registered, responses=_REGISTER_RESPONSES,
             openapi_extra={"requestBody": _MULTIPART_BODY}, summary="Register a dataset card and its files")
async def register_dataset(request: Request, store: StoreDep, settings: SettingsDep, _: Publisher,
                           new_version: Annotated[bool, Query(description="Publish changed content as a new "
                                                                          "version with its own DOI.")] = False
                           ) -> JSONResponse:
    """Register a dataset, as ``POST /models`` registers a model."""
    return await _register(request, store, settings, kind="dataset", new_version=new_version)


@router.post("/models/{key}/withdraw", response_model=Registered, summary="Withdraw a model (admin)")
def withdraw_model(key: str, body: Withdrawal, store: StoreDep, settings: SettingsDep, _: Admin) -> Registered:
    """Withdraw a model: its files are deleted, its metadata stays as a tombstone that still resolves (marked
    withdrawn, with the reason). Withdrawing it again changes nothing."""
    return _withdraw(store, settings, key, kind="model", reason=body.reason)


@router.post("/datasets/{key}/withdraw", response_model=Registered, summary="Withdraw a dataset (admin)")
def withdraw_dataset(key: str, body: Withdrawal, store: StoreDep, settings: SettingsDep, _: Admin) -> Registered:
    """Withdraw a dataset, as ``/models/{key}/withdraw`` withdraws a model."""
    return _withdraw(store, settings, key, kind="dataset", reason=body.reason)


async def _register(request: Request, store: Store, settings: Settings, *, kind: str,
                    new_version: bool) -> JSONResponse:
    limit = int(getattr(request.app.state, "max_upload_bytes", MAX_UPLOAD_BYTES))
    _check_length(request.headers.get("content-length"), limit)
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "multipart/form-data":
        raise _bad(f"send the card and its files as multipart/form-data, not {media or '(no Content-Type)'}",
                   status=415)
    with tempfile.TemporaryDirectory(prefix="fairkg-upload-") as tmp:
        folder = Path(tmp)
        async with request.form(max_files=MAX_FILES, max_fields=16, max_part_size=4 << 20) as form:
            card_bytes = await _card_bytes(form.getlist("card"))
            card = _parse(card_bytes, kind)  # a bad card is refused before any file is saved
            uploaded: list[str] = []
            for name, part in form.multi_items():
                if name == "card":
                    continue
                if name != "files" or not isinstance(part, UploadFile):
                    raise _bad(f"unexpected part {name!r}: send `card` and one `files` part per file")
                rel = _relative_path(part.filename)
                if rel in uploaded:
                    raise _bad(f"the file {rel!r} was sent twice")
                uploaded.append(rel)
                await anyio.to_thread.run_sync(_save, part, folder / rel)
        wanted = card_files(card)
        missing = [p for p in wanted if p not in uploaded]
        extra = [p for p in uploaded if p not in wanted]
        if missing or extra:
            parts = ([f"missing: {', '.join(missing)}"] if missing else []) + (
                [f"not named by the card: {', '.join(extra)}"] if extra else [])
            raise ProblemError(422, f"the files sent do not match the card ({'; '.join(parts)}); send one `files` "
                               "part per path the card names, with that path as its filename",
                               title="Files do not match the card", type=PROBLEM_BASE + "files-mismatch",
                               missing=missing, unexpected=extra)
        (folder / "card.yaml").write_bytes(card_bytes)
        done = await anyio.to_thread.run_sync(_register_folder, store, settings, folder, new_version)
    status = 200 if done.status == "unchanged" else 201
    body = Registered(**done.__dict__).model_dump()
    return JSONResponse(body, status_code=status, headers={"Location": f"/id/{done.key}"})


def _register_folder(store: Store, settings: Settings, folder: Path, new_version: bool) -> Registration:
    with _WRITE_LOCK:
        try:
            return register(store, folder, home=settings.home, base_iri=settings.base_iri, new_version=new_version)
        except CardError as exc:
            raise _card_problem(exc) from exc
        except ArtifactError as exc:
            raise ProblemError(422, str(exc), title="Files do not match the card",
                               type=PROBLEM_BASE + "files-mismatch") from exc
        except RegistrationError as exc:
            raise ProblemError(409, str(exc), title="Registration refused",
                               type=PROBLEM_BASE + "registration-refused") from exc


def _withdraw(store: Store, settings: Settings, key: str, *, kind: str, reason: str) -> Registered:
    if not reason.strip():
        raise ProblemError(422, "say why the record is withdrawn (reason)", title="Invalid request",
                           type=PROBLEM_BASE + "invalid-request", field="reason")
    iri = resource_iri(settings.base_iri, key.lower())
    with _WRITE_LOCK:
        graph = store.get_graph(str(iri))
        cls = MLS.Model if kind == "model" else MLS.Dataset
        if len(graph) == 0 or (iri, RDF.type, cls) not in graph:
            raise ProblemError(404, f"no {kind} is registered with the key {key!r}", title="Not found",
                               type=PROBLEM_BASE + "not-found")
        if (iri, FKG.withdrawn, Literal(True)) in graph:
            doi = str(graph.value(iri, DCT.identifier) or "")
            return Registered(iri=str(iri), key=key.lower(), doi=doi, kind=kind, status="unchanged")
        try:
            done = withdraw(store, str(iri), home=settings.home, base_iri=settings.base_iri, reason=reason)
        except RegistrationError as exc:
            raise ProblemError(409, str(exc), title="Withdrawal refused",
                               type=PROBLEM_BASE + "registration-refused") from exc
    return Registered(iri=done.iri, key=done.key, doi=done.doi, kind=done.kind, status="withdrawn")


def _check_length(header: str | None, limit: int) -> None:
    # The server reads at most Content-Length bytes, so checking the header bounds the whole upload.
    if header is None:
        raise ProblemError(411, "send the request with a Content-Length header (uploads are limited to "
                           f"{limit} bytes)", title="Length required", type=PROBLEM_BASE + "length-required")
    try:
        length = int(header)
    except ValueError as exc:
        raise _bad(f"Content-Length {header!r} is not a number") from exc
    if length > limit:
        raise ProblemError(413, f"the upload is {length} bytes; this registry accepts at most {limit} bytes per "
                           "registration", title="Upload too large", type=PROBLEM_BASE + "upload-too-large",
                           limit=limit)


async def _card_bytes(parts: list[UploadFile | str]) -> bytes:
    if len(parts) != 1:
        raise _bad("send exactly one part named `card` holding the card (YAML or JSON)" if not parts
                   else "send the card once (one part named `card`)")
    part = parts[0]
    return await part.read() if isinstance(part, UploadFile) else part.encode("utf-8")


def _parse(card_bytes: bytes, kind: str) -> Any:
    try:
        data = yaml.safe_load(card_bytes.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _bad(f"the card is not UTF-8 YAML or JSON: {exc}") from exc
    try:
        card = parse_card(data)
    except CardError as exc:
        raise _card_problem(exc) from exc
    if card.kind != kind:
        raise ProblemError(422, f"kind: this is a {card.kind} card; send it to /{card.kind}s", title="Invalid card",
                           type=PROBLEM_BASE + "invalid-card", field="kind")
    return card


def _card_problem(exc: CardError) -> ProblemError:
    return ProblemError(422, f"the card does not validate: {exc}", title="Invalid card",
                        type=PROBLEM_BASE + "invalid-card", field=exc.field)


def _relative_path(filename: str | None) -> str:
    """The card-relative path a part's filename gives, refused unless it stays inside the upload folder."""
    if not filename:
        raise _bad("every `files` part needs a filename: the path the card gives for it")
    path = PurePosixPath(filename)
    if "\\" in filename or "\x00" in filename or path.is_absolute() or any(p in ("", ".", "..") for p in
                                                                            filename.split("/")):
        raise _bad(f"the filename {filename!r} is not a relative path inside the card's folder")
    return str(path)


def _save(part: UploadFile, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    part.file.seek(0)
    with target.open("wb") as out:
        shutil.copyfileobj(part.file, out, _COPY_CHUNK)


def _bad(detail: str, *, status: int = 400) -> ProblemError:
    return ProblemError(status, detail, title="Bad registration request", type=PROBLEM_BASE + "bad-registration")


__all__ = ["MAX_UPLOAD_BYTES", "Registered", "router"]

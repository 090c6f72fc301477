"""Bearer tokens with roles, kept hashed in ``$FAIRKG_HOME/tokens.json`` (mode 0600).

Roles nest: ``admin`` ⊇ ``publisher`` ⊇ ``reader``. A *reader* may download the artifacts of restricted models
(and run them), a *publisher* may also register models and datasets, an *admin* may also update the graph and
withdraw records. Metadata needs no token at all.

A token is ``secrets.token_urlsafe(32)`` (256 random bits), shown once when it is created; only its SHA-256 is
kept. A fast unsalted hash is enough here, unlike for passwords: nobody can enumerate 2^256 candidates, so a
leaked file reveals no token. Checking a token hashes it and compares the digest with every record in constant
time (``hmac.compare_digest``, no short-circuit).

Why a file and not the graph: RDF is fairkg's single source of truth for everything it *publishes*, and the whole
graph is public through ``/sparql``. Credentials are not published: even their hashes (and who holds which role)
must not be one query away, and a SPARQL update must not be able to mint a token. The file also lives outside the
store's lock, so ``fairkg token create`` works while ``fairkg serve`` holds the store, and the server sees a
revocation at the next request (it reads the file per request; the file is small).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast

from fairkg.kg.errors import FairkgError, NotFoundError

log = logging.getLogger(__name__)

TOKENS_FILE = "tokens.json"
Role = Literal["reader", "publisher", "admin"]
#: Roles from least to most; each includes the rights of those before it.
ROLES: tuple[Role, ...] = ("reader", "publisher", "admin")


class TokenError(FairkgError, ValueError):
    """A token request that cannot be honoured (an unknown role, an empty name, an unreadable tokens file)."""


@dataclass(frozen=True)
class TokenRecord:
    """A token as stored: never the token itself, only its SHA-256. ``revoked`` is when it was revoked, or None."""

    id: str
    name: str
    role: Role
    sha256: str
    created: str
    revoked: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: the only time its secret is known."""

    record: TokenRecord
    token: str


def tokens_file(home: Path) -> Path:
    """Where the tokens of ``home`` are kept."""
    return Path(home) / TOKENS_FILE


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` includes the rights of ``needed``.

    >>> role_allows("admin", "reader"), role_allows("reader", "publisher")
    (True, False)
    """
    return role in ROLES and needed in ROLES and ROLES.index(role) >= ROLES.index(needed)


def token_digest(token: str) -> str:
    """The hex SHA-256 of a token, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(home: Path, *, name: str, role: str) -> IssuedToken:
    """Create a token for ``name`` with ``role``; the returned secret is not stored anywhere.

    Raises:
        TokenError: ``role`` is not one of :data:`ROLES`, or ``name`` is empty.

    >>> import tempfile
    >>> issued = create_token(Path(tempfile.mkdtemp()), name="ci", role="reader")
    >>> issued.record.sha256 == token_digest(issued.token)
    True
    """
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if not name.strip():
        raise TokenError("give the token a name saying who or what holds it (--name)")
    token = secrets.token_urlsafe(32)
    record = TokenRecord(id=secrets.token_hex(6), name=name.strip(), role=cast(Role, role),
                         sha256=token_digest(token), created=_now())
    with _locked(home):
        records = _read(home)
        records.append(record)
        _write(home, records)
    return IssuedToken(record, token)


def list_tokens(home: Path) -> list[TokenRecord]:
    """Every token of ``home``, revoked ones included, oldest first (no secrets: there are none to show)."""
    return _read(home)


def revoke_token(home: Path, token_id: str) -> TokenRecord:
    """Revoke the token ``token_id`` (kept in the file, marked with the time); revoking twice changes nothing.

    Raises:
        NotFoundError: no token has that id.
    """
    with _locked(home):
        records = _read(home)
        for index, record in enumerate(records):
            if record.id == token_id:
                if record.active:
                    records[index] = replace(record, revoked=_now())
                    _write(home, records)
                return records[index]
    raise NotFoundError(f"no token with id {token_id!r}: `fairkg token list` shows them")


def find_token(home: Path, token: str) -> TokenRecord | None:
    """The active record whose hash is ``token``'s, or None (unknown or revoked).

    Every record is compared, in constant time, so the answer's timing says nothing about the stored hashes.
    """
    given = token_digest(token).encode()
    found: TokenRecord | None = None
    for record in _read(home):
        if hmac.compare_digest(given, record.sha256.encode()) and record.active:
            found = record
    return found


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _read(home: Path) -> list[TokenRecord]:
    path = tokens_file(home)
    try:
        text = path.read_text(encoding="utf-8")
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise TokenError(f"cannot read the tokens file {path}: {exc}") from exc
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); run `chmod 600 %s`", path, mode, path)
    try:
        return [TokenRecord(**entry) for entry in json.loads(text)["tokens"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenError(f"the tokens file {path} is damaged ({exc}); fix or remove it") from exc


def write_private_json(path: Path, data: object, *, indent: int | None = None) -> None:
    """Write ``data`` as JSON to ``path``, readable by the owner only (0600), atomically (temp file, fsync, rename):
    readers never see half a file. Used for the tokens file and the server's ``server.json``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode only applies to a new file
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            fd = -1
            json.dump(data, out, indent=indent)
            out.flush()
            os.fsync(out.fileno())
    finally:
        if fd >= 0:
            os.close(fd)
    os.replace(tmp, path)


def _write(home: Path, records: list[TokenRecord]) -> None:
    """Write the records atomically, readable by the owner only."""
    write_private_json(tokens_file(home), {"tokens": [asdict(r) for r in records]}, indent=2)


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """Serialise read-modify-write of the tokens file between processes (two `fairkg token` commands at once)."""
    Path(home).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(home) / f".{TOKENS_FILE}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


__all__ = [
    "ROLES", "TOKENS_FILE", "IssuedToken", "Role", "TokenError", "TokenRecord", "create_token", "find_token",
    "list_tokens", "revoke_token", "role_allows", "token_digest", "tokens_file",
]

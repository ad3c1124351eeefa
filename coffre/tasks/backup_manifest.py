"""The backup manifest and the key-store export, both age-encrypted.

The manifest says what a backup must contain: the store's row counts, every
document's state and object keys, and every object's SHA-256 and size. The restore
drill checks a restored snapshot against it. The key store travels separately, in
snapshots kept only a few weeks, so that a deleted organisation's key cannot come back
from a long-kept backup (crypto-shredding holds).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from coffre.models.keystore import org_keys
from coffre.tasks.age_crypt import decrypt_to_bytes, encrypting_writer
from coffre.tasks.backup_dump import StoreSnapshot
from coffre.tasks.backup_objects import ObjectEntry

MANIFEST_FORMAT = "coffre-backup-manifest/1"
KEYS_FORMAT = "coffre-keystore-export/1"


@dataclass
class Manifest:
    created_at: str
    backend: str
    objects_root: str
    row_counts: dict[str, int]
    documents: list[dict[str, Any]] = field(default_factory=list)
    objects: list[ObjectEntry] = field(default_factory=list)


def write_manifest(
    snapshot: StoreSnapshot,
    objects: Sequence[ObjectEntry],
    objects_root: Path,
    recipients: Sequence[str],
    output: Path,
) -> None:
    header = {
        "format": MANIFEST_FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "backend": snapshot.backend,
        "objects_root": str(objects_root),
        "row_counts": snapshot.row_counts,
    }
    with (
        encrypting_writer(recipients, output) as pipe,
        gzip.GzipFile(fileobj=pipe, mode="wb", mtime=0) as compressed,
    ):
        for line in _lines(header, snapshot.documents, objects):
            compressed.write(line)


def _lines(
    header: dict[str, Any], documents: list[dict[str, Any]], objects: Sequence[ObjectEntry]
) -> Iterator[bytes]:
    yield _json_line(header)
    for document in documents:
        yield _json_line({"document": document})
    for entry in objects:
        yield _json_line({"object": {"key": entry.key, "sha256": entry.sha256, "size": entry.size}})


def _json_line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode() + b"\n"


def read_manifest(path: Path, identity: str) -> Manifest:
    raw = gzip.decompress(decrypt_to_bytes(path, identity))
    lines = io.BytesIO(raw).read().splitlines()
    if not lines:
        raise ValueError("the manifest is empty")
    header = json.loads(lines[0])
    if header.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"unknown manifest format {header.get('format')!r}")
    manifest = Manifest(
        header["created_at"], header["backend"], header["objects_root"], header["row_counts"]
    )
    for line in lines[1:]:
        item = json.loads(line)
        if "document" in item:
            manifest.documents.append(item["document"])
        elif "object" in item:
            manifest.objects.append(ObjectEntry(**item["object"]))
    return manifest


def export_keys(keystore: Engine, recipients: Sequence[str], output: Path) -> int:
    """Write every wrapped organisation key (still wrapped by the master key)."""
    with keystore.connect() as conn:
        rows = conn.execute(select(org_keys)).mappings().all()
        conn.rollback()
    payload = {
        "format": KEYS_FORMAT,
        "keys": [
            {
                "org_id": row["org_id"],
                "wrapped_key": base64.b64encode(bytes(row["wrapped_key"])).decode(),
                "created_at": row["created_at"].isoformat(),
            }
            for row in rows
        ],
    }
    with encrypting_writer(recipients, output) as pipe:
        pipe.write(json.dumps(payload).encode())
    return len(rows)


def read_keys(path: Path, identity: str) -> dict[str, bytes]:
    payload = json.loads(decrypt_to_bytes(path, identity))
    if payload.get("format") != KEYS_FORMAT:
        raise ValueError(f"unknown key-store export format {payload.get('format')!r}")
    return {row["org_id"]: base64.b64decode(row["wrapped_key"]) for row in payload["keys"]}

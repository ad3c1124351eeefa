"""An organisation's data export: every sealed archive (or original) and a CSV index.

Written to a file, one document at a time, so that an organisation with 100,000
documents is exported without holding them in memory.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sqlmodel import col, select

from coffre.models import Document, session_scope
from coffre.runtime import get_engine, get_vault
from coffre.tasks.filenames import safe_filename

INDEX_COLUMNS = (
    "id",
    "file_in_export",
    "filename",
    "kind",
    "source",
    "status",
    "reason",
    "date",
    "supplier",
    "total_ttc",
    "original_sha256",
    "archive_sha256",
    "sealed_at",
    "received_at",
)
_PAGE = 500


def _documents(org_id: str) -> Iterator[Document]:
    last_id = ""
    while True:
        with session_scope(get_engine()) as session:
            page = list(
                session.exec(
                    select(Document)
                    .where(Document.org_id == org_id, col(Document.id) > last_id)
                    .order_by(col(Document.id))
                    .limit(_PAGE)
                )
            )
        if not page:
            return
        yield from page
        last_id = page[-1].id


def write_export(org_id: str, target: BinaryIO) -> int:
    """Write the zip to ``target``; return how many documents it holds."""
    vault = get_vault()
    index = io.StringIO()
    writer = csv.DictWriter(index, fieldnames=INDEX_COLUMNS)
    writer.writeheader()
    count = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for document in _documents(org_id):
            key = document.archive_key or document.original_key
            name = ""
            if key:
                kind = "archive" if document.archive_key else "original"
                stem = safe_filename(document.filename)
                name = f"documents/{document.id}-{kind}-{stem}"
                if kind == "archive" and not name.lower().endswith(".pdf"):
                    name += ".pdf"
                archive.writestr(name, vault.get(org_id, key))
            fields = document.fields or {}
            writer.writerow(
                {
                    "id": document.id,
                    "file_in_export": name,
                    "filename": document.filename,
                    "kind": document.kind.value,
                    "source": document.source.value,
                    "status": document.status.value,
                    "reason": document.reason or "",
                    "date": fields.get("date") or "",
                    "supplier": fields.get("supplier") or "",
                    "total_ttc": fields.get("total_ttc") or "",
                    "original_sha256": document.original_sha256,
                    "archive_sha256": document.archive_sha256 or "",
                    "sealed_at": document.sealed_at.isoformat() if document.sealed_at else "",
                    "received_at": document.created_at.isoformat(),
                }
            )
            count += 1
        archive.writestr("index.csv", index.getvalue().encode("utf-8-sig"))  # Excel-friendly
    return count


def export_to_file(org_id: str, path: Path) -> int:
    with path.open("wb") as handle:
        return write_export(org_id, handle)

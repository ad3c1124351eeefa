"""The capture steps: keep the original, then make the archive copy and read its fields.

Each step is idempotent and keyed by the document: the original is addressed by its
content (one document per organisation and SHA-256, enforced by the database), and
normalisation only acts on a document that is still RECEIVED, so a rerun after a crash
resumes where the last run stopped and never makes a second copy.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import IntegrityError

from coffre.models import (
    Document,
    DocumentKind,
    DocumentSource,
    DocumentStatus,
    find_document_by_content,
    find_organization,
    get_document,
    session_scope,
)
from coffre.models.lifecycle import TransitionRefused, lock_document, record_created, transition
from coffre.runtime import get_engine, get_vault
from coffre.settings import get_settings
from coffre.tasks.einvoice_read import fields_from_einvoice
from coffre.tasks.errors import Rejected
from coffre.tasks.extract import extract_fields
from coffre.tasks.filenames import safe_filename
from coffre.tasks.normalize import NormalizeLimits, normalize
from coffre.tasks.sniff import sniff

log = logging.getLogger(__name__)
ACTOR = "capture"
_CHUNK = 1024 * 1024


@dataclass
class CaptureOutcome:
    """What the caller learns about one input (the CLI prints this as JSON)."""

    file: str
    document_id: str | None
    status: str
    reason: str | None = None
    duplicate_of: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return asdict(self)


def _guess_kind(family: str) -> DocumentKind:
    return {"image": DocumentKind.RECEIPT, "pdf": DocumentKind.INVOICE_IN}.get(
        family, DocumentKind.OTHER
    )


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def outcome_of(label: str, document: Document, duplicate: bool = False) -> CaptureOutcome:
    return CaptureOutcome(
        file=label,
        document_id=document.id,
        status=str(document.status),
        reason=document.reason,
        duplicate_of=document.id if duplicate else None,
    )


def _insert_or_find(document: Document) -> tuple[Document, bool]:
    """Insert a new document, or return the one that already holds these bytes."""
    engine = get_engine()
    with session_scope(engine) as session:
        existing = find_document_by_content(session, document.org_id, document.original_sha256)
        if existing is not None:
            return existing, True
    try:
        with session_scope(engine) as session:
            record_created(session, document, actor=ACTOR)
        return document, False
    except IntegrityError:
        # Another run stored the same bytes between our check and our insert.
        with session_scope(engine) as session:
            existing = find_document_by_content(session, document.org_id, document.original_sha256)
        if existing is None:
            raise
        return existing, True


def store_original_fn(
    org: str,
    *,
    path: str | None = None,
    data: bytes | None = None,
    filename: str | None = None,
    source: str = DocumentSource.API.value,
    source_ref: str | None = None,
    kind: str | None = None,
) -> CaptureOutcome:
    """Keep the original bytes (encrypted, write-once) and record a RECEIVED document.

    A file over the size limit is refused before it is read: the document is recorded
    QUARANTINED with its hash, and the file is left where it is.
    """
    if (path is None) == (data is None):
        raise ValueError("give exactly one of path or data")
    settings = get_settings()
    label = filename or path or "document"  # what the caller will recognise
    name = safe_filename(filename or (Path(path).name if path else None))
    with session_scope(get_engine()) as session:
        org_id = find_organization(session, org).id
    size = os.stat(path).st_size if path is not None else len(data or b"")

    if size > settings.max_upload_bytes:
        assert path is not None or data is not None
        sha256 = _hash_file(Path(path)) if path else hashlib.sha256(data or b"").hexdigest()
        document = Document(
            org_id=org_id,
            kind=DocumentKind(kind) if kind else DocumentKind.OTHER,
            source=DocumentSource(source),
            source_ref=source_ref,
            filename=name,
            original_sha256=sha256,
            original_size=size,
            media_type="application/octet-stream",
            status=DocumentStatus.QUARANTINED,
            reason_code="file_too_large",
            reason=(
                f"The file is {size / 1048576:.1f} MiB; the limit is "
                f"{settings.max_upload_bytes / 1048576:.0f} MiB. It was not stored: "
                "the file you sent is kept where it was."
            ),
        )
        stored, duplicate = _insert_or_find(document)
        return outcome_of(label, stored, duplicate)

    content = Path(path).read_bytes() if path is not None else (data or b"")
    sha256 = hashlib.sha256(content).hexdigest()
    with session_scope(get_engine()) as session:
        existing = find_document_by_content(session, org_id, sha256)
    if existing is not None:
        return outcome_of(label, existing, duplicate=True)

    sniffed = sniff(content[:65536])
    stored_object = get_vault().put(org_id, content)
    document = Document(
        org_id=org_id,
        kind=DocumentKind(kind) if kind else _guess_kind(sniffed.family),
        source=DocumentSource(source),
        source_ref=source_ref,
        filename=name,
        original_sha256=sha256,
        original_size=len(content),
        media_type=sniffed.media_type,
        original_key=stored_object.key,
    )
    stored, duplicate = _insert_or_find(document)
    return outcome_of(label, stored, duplicate)


def _quarantine(org_id: str, document_id: str, code: str, reason: str) -> Document:
    with session_scope(get_engine()) as session:
        document = lock_document(session, org_id, document_id)
        assert document is not None
        if document.status != DocumentStatus.RECEIVED:
            return document
        document.reason_code = code
        document.reason = reason
        transition(
            session, document, DocumentStatus.QUARANTINED, actor=ACTOR, details={"code": code}
        )
        return document


def normalize_document_fn(org_id: str, document_id: str) -> Document:
    """Make the archive copy of a RECEIVED document, read its fields → NORMALIZED.

    A document in any other state is returned as it is: the step has already been done.
    """
    settings = get_settings()
    with session_scope(get_engine()) as session:
        document = get_document(session, org_id, document_id)
    if document.status != DocumentStatus.RECEIVED or document.original_key is None:
        return document

    vault = get_vault()
    original = vault.get(org_id, document.original_key)
    limits = NormalizeLimits(
        max_pages=settings.max_pages,
        max_image_pixels=settings.max_image_pixels,
        languages=settings.ocr_languages,
        timeout=settings.ocr_timeout_seconds,
    )
    try:
        result = normalize(original, sniff(original[:65536]), limits, settings.work_path)
    except Rejected as rejected:
        return _quarantine(org_id, document_id, rejected.code, rejected.reason)
    except Exception:  # a hostile file must never crash the run; operators see the trace
        log.exception("normalisation of document %s failed unexpectedly", document_id)
        return _quarantine(
            org_id,
            document_id,
            "processing_error",
            "This document could not be processed. Its original is kept; the operators "
            "have been notified.",
        )

    archive = vault.put(org_id, result.archive)
    # An e-invoice says what it is in its XML: exact fields, no reading of the text.
    einvoice = fields_from_einvoice(original) if original.startswith(b"%PDF") else None
    fields = einvoice or extract_fields(result.text).to_json()
    with session_scope(get_engine()) as session:
        locked = lock_document(session, org_id, document_id)
        assert locked is not None
        if locked.status != DocumentStatus.RECEIVED:
            return locked
        locked.archive_key = archive.key
        locked.archive_sha256 = archive.sha256
        locked.archive_note = "; ".join(result.notes) or None
        locked.ocr_text = result.text
        locked.fields = fields
        try:
            transition(
                session,
                locked,
                DocumentStatus.NORMALIZED,
                actor=ACTOR,
                details={"archive_sha256": archive.sha256, "pages": result.pages},
            )
        except TransitionRefused:
            return locked
        return locked


store_original = task(
    name="store-original", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10]
)(store_original_fn)


@task(name="normalize", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def normalize_document(stored: CaptureOutcome, org: str) -> CaptureOutcome:
    """Normalise the document behind a store outcome and report the final state."""
    if stored.document_id is None:
        return stored
    with session_scope(get_engine()) as session:
        org_id = find_organization(session, org).id
    document = normalize_document_fn(org_id, stored.document_id)
    return CaptureOutcome(
        file=stored.file,
        document_id=document.id,
        status=str(document.status),
        reason=document.reason,
        duplicate_of=stored.duplicate_of,
    )


@task(name="capture-file", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def capture_file(org: str, path: str, source: str, kind: str | None) -> CaptureOutcome:
    """Keep one file's original, then normalise it: one task per file, so the conversion
    starts at once and the orchestration costs one task run, not two (both steps are
    idempotent, so a retry resumes where the failed attempt stopped)."""
    stored = store_original_fn(org, path=path, source=source, kind=kind)
    return normalize_document.fn(stored, org)


@task(name="organisation", cache_policy=NO_CACHE)
def organisation_id(org: str) -> str:
    """The organisation's id from its id or SIREN."""
    with session_scope(get_engine()) as session:
        return find_organization(session, org).id


@task(name="final-states", cache_policy=NO_CACHE)
def refresh_outcomes(org_id: str, outcomes: list[CaptureOutcome]) -> list[CaptureOutcome]:
    """Outcomes with each document's state as it is now (after sealing).

    A document still NORMALIZED after its seal step carries the seal error as its reason.
    """
    refreshed = []
    with session_scope(get_engine()) as session:
        for outcome in outcomes:
            if outcome.document_id is None:
                refreshed.append(outcome)
                continue
            document = get_document(session, org_id, outcome.document_id)
            refreshed.append(
                CaptureOutcome(
                    file=outcome.file,
                    document_id=document.id,
                    status=str(document.status),
                    reason=document.reason or document.last_error,
                    duplicate_of=outcome.duplicate_of,
                )
            )
    return refreshed

"""Sealing documents: NORMALIZED → SEALED, idempotent, in batches on one HSM session.

A sealed copy is a new object in the vault (write-once); the document points to it only
once it is stored, so no half-written file ever replaces the archive copy. HSM or TSA
trouble leaves the documents NORMALIZED with the error in words, and raises so that
the flow retries with backoff; a later run completes them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyhanko.pdf_utils.misc import PdfReadError
from sqlmodel import col, select

from coffre.models import (
    Document,
    DocumentStatus,
    append_event,
    get_document,
    session_scope,
)
from coffre.models.lifecycle import lock_document, transition
from coffre.runtime import get_engine, get_vault
from coffre.settings import Settings, get_settings
from coffre.tasks.seal import (
    SealConfig,
    Sealer,
    SealError,
    SealLevel,
    SealResult,
    renew_archive_timestamp,
)

log = logging.getLogger(__name__)
ACTOR = "seal"


def seal_config(settings: Settings | None = None) -> SealConfig:
    """The seal settings: a Prefect block, else COFFRE_SEAL_* variables, else embedded."""
    settings = settings or get_settings()
    if settings.seal_block:
        from coffre.blocks.seal import SealHsm

        block = SealHsm.load(settings.seal_block)
        assert isinstance(block, SealHsm)
        return block.to_config(settings.resolved_home / "pki" / "block")
    common = {
        "tsa_url": settings.tsa_url or local_tsa_url(settings),
        "level": SealLevel(settings.seal_level),
        "revocation_mode": settings.seal_revocation_mode,
        "visible_stamp": settings.seal_visible_stamp,
    }
    extra_roots = tuple(settings.trust_root_paths)
    if settings.seal_module_path:
        if settings.seal_pin is None:
            raise SealError("COFFRE_SEAL_PIN is not set")
        return SealConfig(
            module_path=settings.seal_module_path,
            token_label=settings.seal_token_label,
            key_label=settings.seal_key_label,
            pin=settings.seal_pin,
            trust_root_paths=extra_roots,
            cert_path=settings.seal_cert_path,
            chain_paths=tuple(settings.seal_chain_paths),
            **common,  # type: ignore[arg-type]
        )
    from coffre.tasks.embedded_seal import prepare_embedded_seal

    embedded = prepare_embedded_seal(settings.resolved_home, settings.seal_organisation)
    return SealConfig(
        module_path=embedded.module_path,
        token_label=embedded.token_label,
        key_label=embedded.key_label,
        pin=embedded.pin,
        trust_root_paths=(*embedded.trust_root_paths, *extra_roots),
        cert_path=embedded.seal_cert_path,
        chain_paths=tuple(embedded.chain_paths),
        environment={"SOFTHSM2_CONF": str(embedded.softhsm_conf)},
        **common,  # type: ignore[arg-type]
    )


def local_tsa_url(settings: Settings) -> str:
    """The embedded default's TSA (served by `make run`)."""
    return f"http://127.0.0.1:{settings.tsa_port}/"


@dataclass(frozen=True)
class SealOutcome:
    document_id: str
    status: str
    error: str | None = None


def _record_error(org_id: str, document_ids: list[str], message: str) -> None:
    with session_scope(get_engine()) as session:
        for document_id in document_ids:
            document = lock_document(session, org_id, document_id)
            if document is not None and document.status == DocumentStatus.NORMALIZED:
                document.last_error = f"not sealed yet: {message}"
                session.add(document)


def seal_documents_fn(
    org_id: str, document_ids: list[str], config: SealConfig
) -> list[SealOutcome]:
    """Seal the NORMALIZED documents among ``document_ids``; others are left as they are."""
    vault = get_vault()
    outcomes: list[SealOutcome] = []
    pending = []
    with session_scope(get_engine()) as session:
        for document_id in document_ids:
            document = get_document(session, org_id, document_id)
            if document.status == DocumentStatus.NORMALIZED and document.archive_key:
                pending.append(document)
            else:
                outcomes.append(SealOutcome(document.id, str(document.status)))
    if not pending:
        return outcomes
    sealer = Sealer(config)
    try:
        sealer.open()
    except SealError as error:
        _record_error(org_id, [d.id for d in pending], str(error))
        raise
    with sealer:
        for index, document in enumerate(pending):
            assert document.archive_key is not None
            try:
                result = sealer.seal(vault.get(org_id, document.archive_key))
            except SealError as error:
                _record_error(org_id, [d.id for d in pending[index:]], str(error))
                raise
            except (PdfReadError, ValueError, KeyError) as error:
                log.exception("document %s could not be sealed", document.id)
                _record_error(org_id, [document.id], f"the archive copy cannot be sealed ({error})")
                outcomes.append(SealOutcome(document.id, str(document.status), str(error)))
                continue
            stored = vault.put(org_id, result.data)
            outcomes.append(_mark_sealed(org_id, document.id, stored.key, stored.sha256, result))
    return outcomes


def _mark_sealed(
    org_id: str, document_id: str, key: str, sha256: str, result: SealResult
) -> SealOutcome:
    with session_scope(get_engine()) as session:
        document = lock_document(session, org_id, document_id)
        assert document is not None
        if document.status != DocumentStatus.NORMALIZED:
            return SealOutcome(document_id, str(document.status))  # another run sealed it
        document.archive_key = key
        document.archive_sha256 = sha256
        document.sealed_at = result.signed_at
        document.seal_level = result.level.value
        document.timestamp_expires_at = result.timestamp_expires_at
        document.last_error = None
        transition(
            session,
            document,
            DocumentStatus.SEALED,
            actor=ACTOR,
            details={"archive_sha256": sha256, "level": result.level.value},
        )
        return SealOutcome(document_id, DocumentStatus.SEALED.value)


def normalized_documents(org_id: str | None = None, limit: int = 10_000) -> dict[str, list[str]]:
    """Documents waiting for their seal, grouped by organisation."""
    query = select(Document.org_id, Document.id).where(Document.status == DocumentStatus.NORMALIZED)
    if org_id is not None:
        query = query.where(Document.org_id == org_id)
    grouped: dict[str, list[str]] = {}
    with session_scope(get_engine()) as session:
        for org, document_id in session.exec(query.order_by(col(Document.created_at)).limit(limit)):
            grouped.setdefault(org, []).append(document_id)
    return grouped


def documents_needing_renewal(as_of: datetime, margin: timedelta) -> dict[str, list[str]]:
    """Sealed documents whose newest timestamp's certificate expires within the margin."""
    query = select(Document.org_id, Document.id).where(
        Document.status == DocumentStatus.SEALED,
        col(Document.timestamp_expires_at).is_not(None),
        col(Document.timestamp_expires_at) <= as_of + margin,
    )
    grouped: dict[str, list[str]] = {}
    with session_scope(get_engine()) as session:
        for org, document_id in session.exec(query.order_by(col(Document.timestamp_expires_at))):
            grouped.setdefault(org, []).append(document_id)
    return grouped


def renew_documents_fn(
    org_id: str, document_ids: list[str], config: SealConfig
) -> list[SealOutcome]:
    """Extend the timestamp chain of each document; the old sealed copy stays in the vault."""
    vault = get_vault()
    outcomes = []
    for document_id in document_ids:
        with session_scope(get_engine()) as session:
            document = get_document(session, org_id, document_id)
        if document.status != DocumentStatus.SEALED or document.archive_key is None:
            continue
        result = renew_archive_timestamp(config, vault.get(org_id, document.archive_key))
        stored = vault.put(org_id, result.data)
        with session_scope(get_engine()) as session:
            locked = lock_document(session, org_id, document_id)
            assert locked is not None
            if locked.archive_key != document.archive_key:
                continue  # renewed meanwhile by another run
            locked.archive_key = stored.key
            locked.archive_sha256 = stored.sha256
            locked.timestamp_expires_at = result.timestamp_expires_at
            locked.seal_level = SealLevel.B_LTA.value
            session.add(locked)
            append_event(
                session,
                org_id,
                actor=ACTOR,
                action="document.timestamp_renewed",
                subject_type="document",
                subject_id=document_id,
                details={
                    "archive_sha256": stored.sha256,
                    "expires_at": str(result.timestamp_expires_at),
                },
            )
        outcomes.append(SealOutcome(document_id, DocumentStatus.SEALED.value))
    return outcomes

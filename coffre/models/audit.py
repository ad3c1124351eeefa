"""Append-only, hash-chained audit journal, one chain per organisation.

Each event carries the SHA-256 of the previous event of its organisation, so that any
edit, deletion or reordering of past events breaks the chain at a findable place.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from coffre.models.organization import Organization, utcnow

GENESIS_HASH = "0" * 64


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("org_id", "seq", name="uq_audit_chain_position"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=32)
    seq: int
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=120)
    action: str = Field(max_length=60)
    subject_type: str = Field(max_length=40)
    subject_id: str = Field(max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


def event_hash(event: AuditEvent) -> str:
    """The SHA-256 of an event's content and its predecessor's hash (canonical JSON)."""
    payload = {
        "org_id": event.org_id,
        "seq": event.seq,
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": event.actor,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def append_event(
    session: Session,
    org_id: str,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add the next event of the organisation's chain to the session's transaction.

    On PostgreSQL the organisation row is locked first so that concurrent writers queue;
    SQLite transactions are already serialised (BEGIN IMMEDIATE). The unique
    (org_id, seq) constraint is the last line of defence against a forked chain.
    """
    # FOR NO KEY UPDATE: writers of the chain queue on it, while rows that merely refer
    # to the organisation (their foreign-key KEY SHARE locks) do not block it; a plain
    # FOR UPDATE after such an insert would deadlock two concurrent writers.
    session.exec(
        select(Organization.id).where(Organization.id == org_id).with_for_update(key_share=True)
    )
    last = session.exec(
        select(AuditEvent).where(AuditEvent.org_id == org_id).order_by(col(AuditEvent.seq).desc())
    ).first()
    event = AuditEvent(
        org_id=org_id,
        seq=(last.seq + 1) if last else 1,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        details=details or {},
        prev_hash=last.hash if last else GENESIS_HASH,
        hash="",
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events_checked: int
    first_broken_seq: int | None = None
    reason: str | None = None


def verify_chain(session: Session, org_id: str) -> ChainReport:
    """Walk an organisation's chain in order and report the first broken link."""
    events = session.exec(
        select(AuditEvent).where(AuditEvent.org_id == org_id).order_by(col(AuditEvent.seq))
    )
    previous_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in events:
        if event.seq != expected_seq:
            return ChainReport(False, checked, expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != previous_hash:
            return ChainReport(
                False, checked, event.seq, "does not point to the previous event's hash"
            )
        if event_hash(event) != event.hash:
            return ChainReport(False, checked, event.seq, "content does not match its hash")
        previous_hash = event.hash
        expected_seq += 1
        checked += 1
    return ChainReport(True, checked)

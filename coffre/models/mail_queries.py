"""Tenant-scoped reads and writes of mail connections and processed message ids."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coffre.models.mail import MailConnection, MailConnectionStatus, ProcessedMessage
from coffre.models.organization import utcnow
from coffre.models.queries import NotFound


def get_connection(session: Session, org_id: str, connection_id: str) -> MailConnection:
    connection = session.exec(
        select(MailConnection).where(
            MailConnection.org_id == org_id, MailConnection.id == connection_id
        )
    ).first()
    if connection is None:
        raise NotFound(f"no mail connection {connection_id!r} in this organisation")
    return connection


def list_connections(
    session: Session, org_id: str, *, include_deleted: bool = False
) -> list[MailConnection]:
    query = select(MailConnection).where(MailConnection.org_id == org_id)
    if not include_deleted:
        query = query.where(MailConnection.status != MailConnectionStatus.DELETED)
    return list(session.exec(query.order_by(col(MailConnection.created_at))))


def connections_to_sweep(session: Session) -> list[tuple[str, str]]:
    """(organisation, connection) of every connection a scheduled sweep should fetch.

    Connections that need the customer to re-authorise are left out: retrying them
    every quarter of an hour would only repeat the provider's refusal.
    """
    rows = session.exec(
        select(MailConnection.org_id, MailConnection.id)
        .where(
            col(MailConnection.status).in_(
                [MailConnectionStatus.ACTIVE, MailConnectionStatus.FAILING]
            )
        )
        .order_by(col(MailConnection.created_at))
    )
    return [(org_id, connection_id) for org_id, connection_id in rows]


def connections_for_grant(session: Session, grant_lookup: str) -> list[tuple[str, str]]:
    """(organisation, connection) of the live Nylas connections of a grant (webhooks)."""
    rows = session.exec(
        select(MailConnection.org_id, MailConnection.id).where(
            MailConnection.grant_lookup == grant_lookup,
            MailConnection.status != MailConnectionStatus.DELETED,
        )
    )
    return [(org_id, connection_id) for org_id, connection_id in rows]


MAX_MESSAGE_ID = 200


def stored_message_id(message_id: str) -> str:
    """The id as kept: a provider id too long for the column is kept as its hash."""
    if len(message_id) <= MAX_MESSAGE_ID:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def processed_ids(session: Session, connection_id: str, uidvalidity: int = 0) -> set[str]:
    """Ids already processed, in the form `stored_message_id` gives."""
    rows = session.exec(
        select(ProcessedMessage.message_id).where(
            ProcessedMessage.connection_id == connection_id,
            ProcessedMessage.uidvalidity == uidvalidity,
        )
    )
    return set(rows)


def mark_processed(
    session: Session, connection_id: str, message_ids: Iterable[str], uidvalidity: int = 0
) -> None:
    """Record message ids as processed; ids another run recorded first are fine."""
    for message_id in message_ids:
        try:
            with session.begin_nested():
                session.add(
                    ProcessedMessage(
                        connection_id=connection_id,
                        uidvalidity=uidvalidity,
                        message_id=stored_message_id(message_id),
                    )
                )
        except IntegrityError:
            pass


def forget_processed(session: Session, connection_id: str) -> int:
    result = session.execute(
        delete(ProcessedMessage).where(col(ProcessedMessage.connection_id) == connection_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def claim_connection(
    session: Session, org_id: str, connection_id: str, lease: timedelta, now: datetime | None = None
) -> bool:
    """Take the connection for one fetch; False if another fetch holds it.

    A single conditional UPDATE, so two runs started together cannot both win; the
    lease expires on its own if the process holding it dies.
    """
    now = now or utcnow()
    result = session.execute(
        update(MailConnection)
        .where(
            col(MailConnection.org_id) == org_id,
            col(MailConnection.id) == connection_id,
            col(MailConnection.status) != MailConnectionStatus.DELETED,
            (col(MailConnection.lease_until).is_(None)) | (col(MailConnection.lease_until) < now),
        )
        .values(lease_until=now + lease)
    )
    return bool(getattr(result, "rowcount", 0))


def release_connection(session: Session, org_id: str, connection_id: str) -> None:
    session.execute(
        update(MailConnection)
        .where(col(MailConnection.org_id) == org_id, col(MailConnection.id) == connection_id)
        .values(lease_until=None)
    )

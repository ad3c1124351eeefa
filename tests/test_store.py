"""The store on SQLite and PostgreSQL: organisations, users, documents, audit chain."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from coffre.models import (
    AuditEvent,
    Document,
    DocumentKind,
    DocumentSource,
    DocumentStatus,
    NotFound,
    Organization,
    Role,
    User,
    append_event,
    find_organization,
    get_document,
    session_scope,
    store_engine,
    verify_chain,
)
from coffre.models.lifecycle import TransitionRefused, transition


def _org(name: str = "Boulangerie Martin", siren: str = "732829320") -> Organization:
    org = Organization(name=name, siren=siren)
    with session_scope() as session:
        session.add(org)
    return org


def _document(org_id: str, sha: str = "a" * 64) -> Document:
    return Document(
        org_id=org_id,
        kind=DocumentKind.RECEIPT,
        source=DocumentSource.CLI,
        filename="ticket.jpg",
        original_sha256=sha,
        original_size=10,
        media_type="image/jpeg",
        original_key=f"{org_id}/{sha[:2]}/{sha}",
    )


def test_organization_found_by_id_or_siren(coffre_home_any_store: Path) -> None:
    org = _org()
    with session_scope() as session:
        assert find_organization(session, org.id).siren == "732829320"
        assert find_organization(session, "732 829 320").id == org.id
        with pytest.raises(NotFound):
            find_organization(session, "552100554")


def test_user_password_is_hashed_with_argon2(coffre_home_any_store: Path) -> None:
    org = _org()
    user = User(org_id=org.id, email="anne@example.fr", password_hash="", role=Role.OWNER)
    user.set_password("correct horse battery staple")
    with session_scope() as session:
        session.add(user)
    with session_scope() as session:
        stored = session.exec(select(User).where(User.email == "anne@example.fr")).one()
    assert stored.password_hash.startswith("$argon2id$")
    assert "correct horse" not in stored.password_hash
    assert stored.check_password("correct horse battery staple")
    assert not stored.check_password("wrong")


def test_same_content_twice_is_refused_by_the_database(coffre_home_any_store: Path) -> None:
    org = _org()
    with session_scope() as session:
        session.add(_document(org.id))
    with pytest.raises(IntegrityError), session_scope() as session:
        session.add(_document(org.id))


def test_documents_are_scoped_to_their_organisation(coffre_home_any_store: Path) -> None:
    mine, theirs = _org(), _org("Garage Dupont", "552100554")
    document = _document(theirs.id)
    with session_scope() as session:
        session.add(document)
    with session_scope() as session:
        assert get_document(session, theirs.id, document.id).id == document.id
        with pytest.raises(NotFound):
            get_document(session, mine.id, document.id)


def test_transitions_are_journaled_and_illegal_ones_refused(coffre_home_any_store: Path) -> None:
    org = _org()
    document = _document(org.id)
    with session_scope() as session:
        session.add(document)
        transition(session, document, DocumentStatus.NORMALIZED, actor="test")
    with session_scope() as session:
        with pytest.raises(TransitionRefused):
            transition(session, document, DocumentStatus.RECEIVED, actor="test")
        events = session.exec(select(AuditEvent).where(AuditEvent.org_id == org.id)).all()
    assert [e.action for e in events] == ["document.normalized"]
    assert events[0].details["from"] == "RECEIVED"


def _chain(org_id: str, length: int) -> None:
    for index in range(length):
        with session_scope() as session:
            append_event(
                session,
                org_id,
                actor="test",
                action="test.event",
                subject_type="test",
                subject_id=str(index),
                details={"n": index, "é": "ü"},
            )


def test_audit_chain_verifies(coffre_home_any_store: Path) -> None:
    org = _org()
    _chain(org.id, 5)
    with session_scope() as session:
        report = verify_chain(session, org.id)
        events = session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert report.ok and report.events_checked == 5
    assert events[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))


@pytest.mark.parametrize(
    ("tamper", "broken_seq", "reason"),
    [
        ("UPDATE audit_event SET details = '{\"n\": 99}' WHERE seq = 3", 3, "content"),
        ("UPDATE audit_event SET actor = 'mallory' WHERE seq = 2", 2, "content"),
        ("DELETE FROM audit_event WHERE seq = 4", 4, "missing"),
        ("UPDATE audit_event SET prev_hash = hash WHERE seq = 5", 5, "previous"),
    ],
)
def test_audit_chain_reports_first_broken_link(
    coffre_home_any_store: Path, tamper: str, broken_seq: int, reason: str
) -> None:
    org = _org()
    _chain(org.id, 6)
    with store_engine().begin() as conn:
        conn.execute(text(tamper))
    with session_scope() as session:
        report = verify_chain(session, org.id)
    assert not report.ok
    assert report.first_broken_seq == broken_seq
    assert reason in (report.reason or "")


def test_concurrent_appends_keep_one_chain(coffre_home_any_store: Path) -> None:
    org = _org()
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for index in range(10):
                with session_scope() as session:
                    append_event(
                        session,
                        org.id,
                        actor=f"w{worker}",
                        action="test.event",
                        subject_type="test",
                        subject_id=str(index),
                    )
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with session_scope() as session:
        report = verify_chain(session, org.id)
    assert report.ok and report.events_checked == 40

"""Portal building blocks without a browser: accounts, throttling, sessions, search."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from coffre.models import Document, Organization, session_scope
from coffre.models.document import DocumentKind, DocumentStatus
from coffre.models.document_search import DocumentFilter, search_documents
from coffre.models.organization import Role
from coffre.webui.auth import (
    AuthError,
    LoginThrottle,
    log_in,
    session_record,
    session_user,
    sign_up,
    throttle,
)
from coffre.webui.limits import SlidingWindow
from tests.documents import document_row

PASSWORD = "un mot de passe assez long"


def test_sign_up_checks_its_input_and_refuses_duplicates(coffre_home: Path) -> None:
    with pytest.raises(AuthError, match="SIREN"):
        sign_up("Boulangerie", "732829321", "a@b.example", PASSWORD)  # bad check digit
    with pytest.raises(AuthError, match="12 caractères"):
        sign_up("Boulangerie", "732829320", "a@b.example", "court")
    with pytest.raises(AuthError, match="e-mail"):
        sign_up("Boulangerie", "732829320", "pas-une-adresse", PASSWORD)
    owner = sign_up("Boulangerie", "732 829 320", "Marie@Boulangerie.example", PASSWORD)
    assert owner.role == Role.OWNER and owner.email == "marie@boulangerie.example"
    with pytest.raises(AuthError, match="déjà un compte"):
        sign_up("Autre", "732829320", "autre@x.example", PASSWORD)
    with pytest.raises(AuthError, match="déjà un compte"):
        sign_up("Autre", "552100554", "marie@boulangerie.example", PASSWORD)
    assert log_in("MARIE@boulangerie.example", PASSWORD, "10.0.0.1").org_id == owner.org_id


def test_login_failures_pause_the_account_and_the_address(
    coffre_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_up("Garage", "732829320", "paul@garage.example", PASSWORD)
    for _ in range(5):
        with pytest.raises(AuthError, match="incorrect"):
            log_in("paul@garage.example", "mauvais mot de passe", "10.0.0.2")
    with pytest.raises(AuthError, match="Trop de tentatives"):
        log_in("paul@garage.example", PASSWORD, "10.0.0.3")  # the account is paused
    with pytest.raises(AuthError, match="Trop de tentatives"):
        log_in("someone@else.example", PASSWORD, "10.0.0.2")  # and so is the address
    fresh = LoginThrottle()
    monkeypatch.setattr("coffre.webui.auth.throttle", fresh)
    assert log_in("paul@garage.example", PASSWORD, "10.0.0.4").email == "paul@garage.example"
    throttle.succeeded("paul@garage.example")


def test_a_sliding_window_counts_only_the_recent_events() -> None:
    now = [1000.0]
    window = SlidingWindow(clock=lambda: now[0])
    assert window.wait("10.0.0.1", 2, 60) == 0
    window.record("10.0.0.1")
    now[0] += 10
    window.record("10.0.0.1")
    assert window.wait("10.0.0.1", 2, 60) == 50  # until the first one is a minute old
    assert window.wait("10.0.0.1", 3, 60) == 0
    assert window.wait("10.0.0.2", 2, 60) == 0
    now[0] += 51
    assert window.wait("10.0.0.1", 2, 60) == 0
    window.record("10.0.0.1")
    assert window.wait("10.0.0.1", 2, 60) == 9
    window.forget("10.0.0.1")
    assert window.wait("10.0.0.1", 1, 60) == 0


def test_sessions_end_after_idle_time_or_maximum_age(
    coffre_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coffre.runtime import reset_runtime

    owner = sign_up("Garage", "732829320", "paul@garage.example", PASSWORD)
    record = session_record(owner)
    assert session_user(record) == owner
    record["seen"] = time.time() - 31 * 60
    assert session_user(record) is None  # idle for more than 30 minutes
    record = session_record(owner)
    record["started"] = time.time() - 13 * 3600
    assert session_user(record) is None  # older than 12 hours
    monkeypatch.setenv("COFFRE_PORTAL_SESSION_IDLE_MINUTES", "120")
    reset_runtime()
    record = session_record(owner)
    record["seen"] = time.time() - 31 * 60
    assert session_user(record) == owner
    assert not owner.may("nothing") and owner.may("admin")


def _document(org_id: str, name: str, **fields: object) -> Document:
    return document_row(org_id, name, **fields)  # type: ignore[arg-type]


def test_search_filters_paginates_and_stays_in_the_organisation(
    coffre_home_any_store: Path,
) -> None:
    mine = Organization(name="Boulangerie", siren="732829320")
    theirs = Organization(name="Fleuriste", siren="552100554")
    with session_scope() as session:
        session.add_all([mine, theirs])
        session.flush()
        session.add_all(
            [
                _document(mine.id, "edf-octobre.pdf", supplier="EDF", total_ttc="84.20",
                          date="2026-10-03", text="Facture électricité 100%"),
                _document(mine.id, "orange.pdf", supplier="Orange SA", total_ttc="39.99",
                          date="2026-11-02", kind=DocumentKind.INVOICE_IN),
                _document(mine.id, "illisible.pdf", status=DocumentStatus.QUARANTINED),
                _document(theirs.id, "edf-fleuriste.pdf", supplier="EDF", total_ttc="84.20",
                          date="2026-10-03"),
            ]
            + [_document(mine.id, f"ticket-{n:03d}.pdf", date="2026-09-01") for n in range(120)]
        )  # fmt: skip

    def names(wanted: DocumentFilter, **page: int) -> list[str]:
        with session_scope() as session:
            rows, _ = search_documents(session, mine.id, wanted, **page)
        return sorted(row.filename for row in rows)

    assert names(DocumentFilter(supplier="edf")) == ["edf-octobre.pdf"]
    assert names(DocumentFilter(text="100%")) == ["edf-octobre.pdf"]  # % is literal
    assert names(DocumentFilter(text="_")) == []  # so is _
    assert names(DocumentFilter(amount=Decimal("39.99"))) == ["orange.pdf"]
    assert names(DocumentFilter(date_from=date(2026, 10, 1), date_to=date(2026, 10, 31))) == [
        "edf-octobre.pdf"
    ]
    assert names(DocumentFilter(kind="invoice_in")) == ["orange.pdf"]
    assert names(DocumentFilter(status="QUARANTINED")) == ["illisible.pdf"]
    assert names(DocumentFilter(text="fleuriste")) == []  # the other organisation's
    with session_scope() as session:
        first, total = search_documents(session, mine.id, DocumentFilter(), page=1, page_size=50)
        third, _ = search_documents(session, mine.id, DocumentFilter(), page=3, page_size=50)
    assert total == 123 and len(first) == 50 and len(third) == 23
    assert {d.org_id for d in first + third} == {mine.id}


def test_second_factor_is_required_once_enabled_and_codes_are_single_use(
    coffre_home: Path,
) -> None:
    import pyotp

    from coffre.webui.second_factor import (
        SecondFactorNeeded,
        complete_login,
        disable,
        enable,
        new_secret,
    )

    owner = sign_up("Garage", "732829320", "paul@garage.example", PASSWORD)
    secret = new_secret()
    totp = pyotp.TOTP(secret)
    with pytest.raises(AuthError, match="Code incorrect"):
        enable(owner, secret, "not-a-code")
    if time.time() % 30 > 25:
        time.sleep(5.5)  # not at the edge of a time step: the test must not straddle two
    step = int(time.time()) // 30
    code = {offset: totp.at((step + offset) * 30) for offset in (-1, 0, 1)}
    enable(owner, secret, code[-1])

    with pytest.raises(SecondFactorNeeded) as needed:
        log_in("paul@garage.example", PASSWORD, "10.0.0.9")
    user_id = needed.value.user_id
    with pytest.raises(AuthError, match="Code incorrect"):
        complete_login(user_id, code[-1], "10.0.0.9")  # already used to turn it on
    assert complete_login(user_id, code[0], "10.0.0.9").org_id == owner.org_id
    with pytest.raises(AuthError, match="Code incorrect"):
        complete_login(user_id, code[0], "10.0.0.9")  # a replay
    disable(owner, code[1])
    assert log_in("paul@garage.example", PASSWORD, "10.0.0.9").user_id == user_id


def test_the_embedded_portal_certificate_names_its_hosts_and_is_kept(
    coffre_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography import x509

    from coffre.runtime import reset_runtime
    from coffre.settings import get_settings
    from coffre.webui.tls import portal_certificate

    monkeypatch.setenv("COFFRE_PORTAL_HOST", "coffre.example")
    reset_runtime()
    cert_path, key_path = portal_certificate(get_settings())
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(map(str, names.get_values_for_type(x509.IPAddress))) == {"127.0.0.1"}
    assert set(names.get_values_for_type(x509.DNSName)) == {"localhost", "coffre.example"}
    assert certificate.issuer == certificate.subject
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert portal_certificate(get_settings()) == (cert_path, key_path)
    assert x509.load_pem_x509_certificate(cert_path.read_bytes()) == certificate

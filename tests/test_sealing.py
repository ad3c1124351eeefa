"""Capture seals its documents; outages leave them NORMALIZED; renewals extend the chain."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pikepdf
import pytest
from sqlmodel import select

from coffre.models import AuditEvent, Document, DocumentStatus, session_scope
from coffre.runtime import get_vault
from coffre.settings import reset_settings
from coffre.tasks.capture import normalize_document_fn, store_original_fn
from coffre.tasks.pdf import pdfa_conformance
from coffre.tasks.sealing import seal_config, seal_documents_fn
from coffre.tasks.verify import verify_pdf
from tests import documents
from tests.pki import TestPki

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _capture(org_id: str, tmp_path: Path, name: str, data: bytes) -> dict[str, str | None]:
    from coffre.flows.capture import capture

    path = tmp_path / name
    path.write_bytes(data)
    [outcome] = capture(org=org_id, paths=[str(path)])
    return outcome


def _document(document_id: str | None) -> Document:
    with session_scope() as session:
        document = session.get(Document, document_id)
    assert document is not None
    return document


def test_captured_documents_are_sealed_and_verifiable(  # type: ignore[no-untyped-def]
    organization, tmp_path: Path, test_pki: TestPki
) -> None:
    outcome = _capture(organization.id, tmp_path, "ticket.jpg", documents.receipt_jpeg())
    assert outcome["status"] == "SEALED", outcome["reason"]
    document = _document(outcome["document_id"])
    assert document.seal_level == "B-LTA" and document.sealed_at is not None
    assert document.timestamp_expires_at is not None
    sealed = get_vault().get(organization.id, document.archive_key or "")
    report = verify_pdf(sealed, [test_pki.root_cert], revocation_mode="hard-fail")
    assert report.ok, report.reasons
    assert report.level == "B-LTA"
    with pikepdf.open(io.BytesIO(sealed)) as pdf:
        assert pdfa_conformance(pdf) == "2B"
    with session_scope() as session:
        actions = [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.seq))]
    assert actions == ["document.received", "document.normalized", "document.sealed"]


def _normalized(org_id: str, text: str) -> str:
    stored = store_original_fn(org_id, data=documents.text_pdf([text]), filename="f.pdf")
    assert stored.document_id is not None
    assert normalize_document_fn(org_id, stored.document_id).status == DocumentStatus.NORMALIZED
    return stored.document_id


def test_a_document_is_never_sealed_twice(organization) -> None:  # type: ignore[no-untyped-def]
    document_id = _normalized(organization.id, "Facture 1")
    config = seal_config()
    results: list[object] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(seal_documents_fn(organization.id, [document_id], config))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first_key = _document(document_id).archive_key
    seal_documents_fn(organization.id, [document_id], config)  # a rerun: nothing to do
    assert _document(document_id).archive_key == first_key
    with session_scope() as session:
        sealed_events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "document.sealed")
        ).all()
    assert len(sealed_events) == 1
    assert len(results) == 3


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("COFFRE_SEAL_PIN", "0000", "the HSM refused the PIN"),
        ("COFFRE_TSA_URL", "http://127.0.0.1:9/", "the timestamp authority failed"),
        ("COFFRE_SEAL_MODULE_PATH", "/nonexistent/pkcs11.so", "the HSM is unavailable"),
    ],
)
def test_outage_leaves_documents_normalized_and_a_later_run_seals_them(  # type: ignore[no-untyped-def]
    organization,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    words: str,
) -> None:
    from coffre.flows.seal import seal_pending

    good = os.environ[variable]
    monkeypatch.setenv(variable, value)
    reset_settings()
    outcome = _capture(organization.id, tmp_path, "f.pdf", documents.text_pdf(["Facture 7"]))
    assert outcome["status"] == "NORMALIZED"
    assert words in (outcome["reason"] or "")
    document = _document(outcome["document_id"])
    assert document.archive_key is not None  # the unsealed archive copy is intact
    assert words in (document.last_error or "")

    with pytest.raises(RuntimeError, match="seal batch"):
        seal_pending(org=organization.id)  # still down: the run fails, visibly

    monkeypatch.setenv(variable, good)
    reset_settings()
    assert seal_pending(org=organization.id) == {organization.id: 1}
    healed = _document(outcome["document_id"])
    assert healed.status == DocumentStatus.SEALED and healed.last_error is None


def test_renew_timestamps_with_the_clock_moved_forward(  # type: ignore[no-untyped-def]
    organization, test_pki: TestPki
) -> None:
    from coffre.flows.seal import renew_timestamps

    document_id = _normalized(organization.id, "Facture à renouveler")
    seal_documents_fn(organization.id, [document_id], seal_config())
    before = _document(document_id)
    assert before.timestamp_expires_at is not None

    assert renew_timestamps(margin_days=30) == 0  # today: nothing close to expiry
    moved = before.timestamp_expires_at - timedelta(days=10)
    assert renew_timestamps(margin_days=30, as_of=moved) == 1

    after = _document(document_id)
    assert after.archive_key != before.archive_key
    renewed = get_vault().get(organization.id, after.archive_key or "")
    assert renewed.startswith(get_vault().get(organization.id, before.archive_key or ""))
    report = verify_pdf(renewed, [test_pki.root_cert], revocation_mode="hard-fail")
    assert report.ok, report.reasons
    assert report.document_timestamps == 2
    with session_scope() as session:
        renewals = session.exec(
            select(AuditEvent).where(AuditEvent.action == "document.timestamp_renewed")
        ).all()
    assert len(renewals) == 1


def test_coffre_verify_command(  # type: ignore[no-untyped-def]
    organization, tmp_path: Path, seal_env: dict[str, str]
) -> None:
    document_id = _normalized(organization.id, "Facture à vérifier")
    seal_documents_fn(organization.id, [document_id], seal_config())
    sealed = tmp_path / "sealed.pdf"
    sealed.write_bytes(get_vault().get(organization.id, _document(document_id).archive_key or ""))
    env = {**os.environ, **seal_env}

    def verify(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "coffre.cli", "verify", str(path), "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    good = verify(sealed)
    assert good.returncode == 0, good.stderr
    report = json.loads(good.stdout)
    assert report["ok"] and report["level"] == "B-LTA"
    assert report["signer"] == "Coffre Test — Coffre Test Seal"
    assert report["signing_time"] and report["timestamp_time"]

    tampered = tmp_path / "tampered.pdf"
    data = bytearray(sealed.read_bytes())
    data[len(data) // 3] ^= 0x01
    tampered.write_bytes(bytes(data))
    bad = verify(tampered)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["reasons"]

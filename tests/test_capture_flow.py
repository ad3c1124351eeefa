"""The capture flows under a real Prefect API: batches, folders, races, deployments."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlmodel import select

from coffre.models import Document, DocumentStatus, session_scope
from tests import documents

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _write(folder: Path, name: str, data: bytes) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return str(path)


def test_capture_flow_reports_one_outcome_per_file(organization, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from coffre.flows.capture import capture

    good = _write(tmp_path, "facture.pdf", documents.text_pdf(documents.INVOICE_LINES))
    empty = _write(tmp_path, "vide.pdf", b"")
    twice = _write(tmp_path, "copie.pdf", documents.text_pdf(documents.INVOICE_LINES))
    outcomes = capture(org=organization.siren, paths=[good, empty, twice], source="cli")
    assert [o["file"] for o in outcomes] == [good, empty, twice]
    assert set(outcomes[0]) == {"file", "document_id", "status", "reason", "duplicate_of"}
    assert outcomes[0]["status"] == "SEALED", outcomes[0]["reason"]
    assert outcomes[1]["status"] == "QUARANTINED" and "empty" in (outcomes[1]["reason"] or "")
    # the same bytes twice: one document; whichever store ran second reports the duplicate
    assert outcomes[2]["document_id"] == outcomes[0]["document_id"]
    duplicates = [outcomes[0]["duplicate_of"], outcomes[2]["duplicate_of"]]
    assert sorted(duplicates, key=str) == sorted([None, outcomes[0]["document_id"]], key=str)


def test_capture_folder(organization, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from coffre.flows.capture import capture_folder

    for index in range(3):
        _write(tmp_path / "drop", f"t{index}.pdf", documents.text_pdf([f"Ticket {index}"]))
    _write(tmp_path / "drop", ".hidden", b"ignored")
    outcomes = capture_folder(org=organization.id, folder=str(tmp_path / "drop"))
    assert len(outcomes) == 3
    assert {o["status"] for o in outcomes} == {"SEALED"}


def test_two_runs_racing_on_the_same_files_make_one_document_each(  # type: ignore[no-untyped-def]
    organization, tmp_path: Path
) -> None:
    from coffre.flows.capture import capture

    paths = [
        _write(tmp_path, f"r{index}.pdf", documents.text_pdf([f"Reçu {index}", "TOTAL 4,20"]))
        for index in range(4)
    ]
    results: list[list[dict[str, str | None]]] = []
    runs = [
        threading.Thread(target=lambda: results.append(capture(org=organization.id, paths=paths)))
        for _ in range(2)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert len(results) == 2
    with session_scope() as session:
        stored = session.exec(select(Document)).all()
    assert len(stored) == 4
    assert {d.status for d in stored} == {DocumentStatus.SEALED}
    for first, second in zip(results[0], results[1], strict=True):
        assert first["document_id"] == second["document_id"]


def test_capture_bytes_flow(organization) -> None:  # type: ignore[no-untyped-def]
    from coffre.flows.capture import capture_bytes

    outcome = capture_bytes(
        org=organization.id, data=documents.receipt_jpeg(), filename="IMG_2001.jpg"
    )
    assert outcome["status"] == "SEALED"

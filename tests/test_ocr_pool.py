"""The warm ocrmypdf converters: reused, answering as the command does, killed on a timeout
with everything they started, replaced when they die, retired, closed when idle."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import img2pdf
import pikepdf
import pytest

from coffre.tasks import ocr
from coffre.tasks.errors import Rejected
from coffre.tasks.ocr_pool import (
    ConversionReply,
    ConversionRequest,
    ConverterPool,
    ocr_environment,
)
from tests.documents import encrypted_pdf, receipt_jpeg


@pytest.fixture
def pool() -> Iterator[ConverterPool]:
    converters = ConverterPool()
    yield converters
    converters.shutdown()


@pytest.fixture
def scan(tmp_path: Path) -> Path:
    path = tmp_path / "scan.pdf"
    path.write_bytes(img2pdf.convert(receipt_jpeg()))
    return path


@pytest.fixture
def locked(tmp_path: Path) -> Path:
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf())
    return path


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.05)
    return False


def _group_emptied(group: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while _group_members(group):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _group_members(group: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in children.read_text().split()]
        except OSError:
            continue
    return found


def test_one_converter_serves_many_files_and_answers_as_the_command(
    pool: ConverterPool, scan: Path, locked: Path, tmp_path: Path
) -> None:
    archive, sidecar = tmp_path / "archive.pdf", tmp_path / "scan.txt"
    reply = pool.convert(ConversionRequest(scan, archive, "fra+eng", sidecar), timeout=300)
    assert reply.exit_code == 0, reply.detail
    with pikepdf.open(archive) as pdf:
        assert pdf.open_metadata().pdfa_status == "2B"
    assert "TOTAL TTC" in sidecar.read_text()
    [converter] = pool.idle_pids()

    refused = pool.convert(ConversionRequest(locked, tmp_path / "no.pdf", "fra+eng"), timeout=300)
    command = subprocess.run(
        ocr.ocrmypdf_command(locked, tmp_path / "no-either.pdf", "fra+eng"),
        env=ocr_environment(),
        capture_output=True,
        check=False,
    )
    assert refused.exit_code == command.returncode == 8
    assert "password" in refused.detail.lower()
    assert pool.idle_pids() == [converter], "a refused file does not cost the converter"


def test_a_conversion_past_its_timeout_is_killed_with_its_children(
    pool: ConverterPool, scan: Path, locked: Path, tmp_path: Path
) -> None:
    pool.convert(ConversionRequest(locked, tmp_path / "no.pdf", "fra+eng"), timeout=300)
    [converter] = pool.idle_pids()

    with pytest.raises(TimeoutError):
        pool.convert(ConversionRequest(scan, tmp_path / "late.pdf", "fra+eng"), timeout=1.5)
    assert _gone(converter)
    assert _group_emptied(converter), "Tesseract or Ghostscript outlived the timeout"
    assert pool.idle_pids() == []

    again = pool.convert(ConversionRequest(scan, tmp_path / "again.pdf", "fra+eng"), timeout=300)
    assert again.exit_code == 0
    assert pool.idle_pids() != [converter]


def test_a_converter_that_dies_answers_like_a_killed_command(
    pool: ConverterPool, scan: Path, locked: Path, tmp_path: Path
) -> None:
    pool.convert(ConversionRequest(locked, tmp_path / "no.pdf", "fra+eng"), timeout=300)
    [converter] = pool.idle_pids()
    replies: list[ConversionReply] = []
    job = threading.Thread(
        target=lambda: replies.append(
            pool.convert(ConversionRequest(scan, tmp_path / "x.pdf", "fra+eng"), timeout=300)
        )
    )
    job.start()
    deadline = time.monotonic() + 60
    while not _children(converter) and time.monotonic() < deadline:
        time.sleep(0.01)  # at work: it has started a Tesseract
    os.kill(converter, signal.SIGKILL)
    job.join(60)

    assert replies == [ConversionReply(-9, "the converter stopped (killed by SIGKILL)")]
    assert pool.idle_pids() == []
    assert pool.convert(ConversionRequest(scan, tmp_path / "y.pdf", "fra+eng"), 300).exit_code == 0


def test_a_dead_converter_maps_to_a_readable_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    class Dying:
        def convert(self, request: ConversionRequest, timeout: float) -> ConversionReply:
            return ConversionReply(-9, "the converter stopped (killed by SIGKILL)")

    monkeypatch.setattr(ocr, "shared_pool", Dying)
    with pytest.raises(Rejected) as refused:
        ocr.to_pdfa(tmp_path / "a.pdf", tmp_path / "b.pdf", languages="fra", timeout=5)
    assert refused.value.code == "conversion_failed"
    assert "killed by SIGKILL" in refused.value.reason


def test_a_converter_is_retired_after_its_jobs(locked: Path, tmp_path: Path) -> None:
    pool = ConverterPool(max_jobs=2)
    try:
        request = ConversionRequest(locked, tmp_path / "no.pdf", "fra+eng")
        pool.convert(request, 300)
        [first] = pool.idle_pids()
        pool.convert(request, 300)
        assert pool.idle_pids() == []
        assert _gone(first)
        pool.convert(request, 300)
        assert pool.idle_pids() not in ([], [first])
    finally:
        pool.shutdown()


def test_idle_converters_are_closed_and_the_pool_starts_new_ones(
    locked: Path, tmp_path: Path
) -> None:
    pool = ConverterPool(idle_seconds=0.5)
    try:
        request = ConversionRequest(locked, tmp_path / "no.pdf", "fra+eng")
        pool.convert(request, 300)
        [idle] = pool.idle_pids()
        assert _gone(idle), "the idle converter was not closed"
        assert pool.idle_pids() == []
        assert pool.convert(request, 300).exit_code == 8
    finally:
        pool.shutdown()
    assert pool.idle_pids() == []

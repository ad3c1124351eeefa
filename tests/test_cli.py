"""The `coffre` command as an operator runs it, in a fresh COFFRE_HOME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests import documents

COFFRE = [sys.executable, "-m", "coffre.cli"]


pytestmark = pytest.mark.usefixtures("prefect_harness")


def cli_env(home: Path) -> dict[str, str]:
    """The operator's environment: this home, and the session's Prefect API."""
    from prefect.settings import get_current_settings

    env = {**os.environ, "COFFRE_HOME": str(home), "PREFECT_HOME": str(home / "prefect")}
    env.pop("COFFRE_DATABASE_URL", None)
    env["PREFECT_API_URL"] = str(get_current_settings().api.url)
    return env


def run(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = cli_env(home)
    completed = subprocess.run(
        [*COFFRE, *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    if check and completed.returncode != 0:
        raise AssertionError(f"exit {completed.returncode}: {completed.stderr[-2000:]}")
    return completed


def json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.fixture
def home(tmp_path: Path, seal_env: dict[str, str]) -> Path:
    return tmp_path / "var"


def test_org_create_checks_the_siren(home: Path) -> None:
    created = json_lines(
        run(home, "org", "create", "Garage Dupont", "--siren", "552 100 554").stdout
    )
    assert created[0]["siren"] == "552100554" and created[0]["name"] == "Garage Dupont"
    bad = run(home, "org", "create", "Faux", "--siren", "552100555", check=False)
    assert bad.returncode == 2 and "invalid SIREN" in bad.stderr
    again = run(home, "org", "create", "Double", "--siren", "552100554", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_capture_then_get_archive_and_original(home: Path, tmp_path: Path) -> None:
    org = json_lines(run(home, "org", "create", "Papeterie", "--siren", "732829320").stdout)[0]
    invoice = tmp_path / "facture.pdf"
    invoice.write_bytes(documents.text_pdf(documents.INVOICE_LINES))
    fake = tmp_path / "virus.pdf"
    fake.write_bytes(documents.zip_bytes())
    outcomes = json_lines(
        run(home, "capture", str(invoice), str(fake), "--org", "732829320", "--json").stdout
    )
    assert [o["status"] for o in outcomes] == ["SEALED", "QUARANTINED"]
    assert "ZIP" in str(outcomes[1]["reason"])
    document_id = str(outcomes[0]["document_id"])

    archive, original = tmp_path / "out.pdf", tmp_path / "orig.bin"
    shown = json_lines(
        run(
            home,
            "doc",
            "get",
            document_id,
            "--org",
            str(org["id"]),
            "--archive",
            str(archive),
            "--original",
            str(original),
        ).stdout
    )[0]
    assert shown["status"] == "SEALED"
    assert original.read_bytes() == invoice.read_bytes()
    assert archive.read_bytes().startswith(b"%PDF-")
    assert archive.read_bytes() != invoice.read_bytes()

    quarantined = run(
        home,
        "doc",
        "get",
        str(outcomes[1]["document_id"]),
        "--org",
        "732829320",
        "--archive",
        str(tmp_path / "none.pdf"),
        check=False,
    )
    assert quarantined.returncode == 1 and "no archive copy" in quarantined.stderr
    assert json_lines(run(home, "audit", "verify", "--org", "732829320").stdout)[0]["ok"]


def test_documents_of_another_organisation_are_invisible(home: Path, tmp_path: Path) -> None:
    run(home, "org", "create", "A", "--siren", "732829320")
    run(home, "org", "create", "B", "--siren", "552100554")
    invoice = tmp_path / "facture.pdf"
    invoice.write_bytes(documents.text_pdf(["Facture A"]))
    outcome = json_lines(run(home, "capture", str(invoice), "--org", "732829320", "--json").stdout)
    other = run(
        home,
        "doc",
        "get",
        str(outcome[0]["document_id"]),
        "--org",
        "552100554",
        "--original",
        str(tmp_path / "stolen"),
        check=False,
    )
    assert other.returncode == 2
    assert not (tmp_path / "stolen").exists()


def _pdfa_variants(folder: Path, count: int, work: Path) -> list[Path]:
    """Distinct PDF/A files with text (the fast path: kept as they are)."""
    from coffre.tasks.normalize import NormalizeLimits, normalize
    from coffre.tasks.sniff import sniff

    seed = documents.text_pdf(documents.INVOICE_LINES)
    pdfa = normalize(seed, sniff(seed), NormalizeLimits(10, 10**8, "fra+eng", 300), work).archive
    folder.mkdir(parents=True)
    paths = []
    for index in range(count):
        path = folder / f"facture-{index:03d}.pdf"
        path.write_bytes(pdfa + f"%copy {index}\n".encode())
        paths.append(path)
    return paths


def _count(home: Path) -> tuple[int, int]:
    engine = create_engine(f"sqlite:///{home / 'coffre.db'}")
    try:
        with engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM document")).scalar_one()
            done = conn.execute(
                text("SELECT count(*) FROM document WHERE status IN ('NORMALIZED', 'SEALED')")
            ).scalar_one()
    except Exception:  # noqa: BLE001 - the schema may not exist yet
        return 0, 0
    finally:
        engine.dispose()
    return int(total), int(done)


def test_killed_in_the_middle_of_200_files_then_rerun(home: Path, tmp_path: Path) -> None:
    run(home, "org", "create", "Papeterie", "--siren", "732829320")
    paths = [str(p) for p in _pdfa_variants(tmp_path / "batch", 200, tmp_path / "work")]
    env = cli_env(home)
    victim = subprocess.Popen(
        [*COFFRE, "capture", *paths, "--org", "732829320", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and _count(home)[1] < 10:
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    total_at_kill, done_at_kill = _count(home)
    assert 10 <= done_at_kill < 200, "the kill must land in the middle of the batch"

    outcomes = json_lines(run(home, "capture", *paths, "--org", "732829320", "--json").stdout)
    assert len(outcomes) == 200
    unsealed = {o["reason"] for o in outcomes if o["status"] != "SEALED"}
    if unsealed:
        # A seal can fail for a reason outside the document (it then stays NORMALIZED with
        # the error in words); a later run completes it.
        print(f"not sealed on the first rerun: {unsealed}")
        assert {o["status"] for o in outcomes} <= {"NORMALIZED", "SEALED"}
        outcomes = json_lines(run(home, "capture", *paths, "--org", "732829320", "--json").stdout)
    assert {o["status"] for o in outcomes} == {"SEALED"}
    assert len({o["document_id"] for o in outcomes}) == 200
    assert _count(home) == (200, 200)
    objects = [p for p in (home / "objects").rglob("*") if p.is_file()]
    assert len(objects) == 400  # 200 originals (PDF/A kept as is) + 200 sealed copies
    assert json_lines(run(home, "audit", "verify", "--org", "732829320").stdout)[0]["ok"]
    print(f"killed with {done_at_kill} normalised of {total_at_kill} received")

"""Capture throughput against the ocrmypdf command alone, on the same files, same run.

50 photographed French receipts and 50 born-digital supplier invoices are generated;
then, with the same parallelism (COFFRE_CAPTURE_CONCURRENCY, 2 by default):

- baseline: the conversion commands alone, one file after another on 2 workers — the
  ``ocrmypdf`` command with the options Coffre converts with (and, for a PDF whose fonts
  are not embedded, the Ghostscript rewrite that PDF/A needs first), writing to a scratch
  folder;
- Coffre: the `capture` flow under a Prefect API, with originals and archive copies
  encrypted into the vault, the store, the audit journal, field extraction, and the
  seal (PAdES B-LTA on the embedded SoftHSM2 key, local TSA); its ocrmypdf converters
  (ocr_pool.py) are started within the round and have exited before it ends.

Prints both throughputs, their ratio (goal ≥ 0.9), the CPU each side spends per file (this
process, the commands, the Prefect server: unlike wall time, it does not drift with the
machine's slow spells), the field-extraction accuracy on the receipts and invoices against
their ground truth (goal ≥ 95 %), and peak memory.

    .venv/bin/python -m benchmarks.capture [--receipts 50] [--invoices 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="coffre-bench-"))
os.environ.setdefault("COFFRE_HOME", str(WORK / "home"))
os.environ.setdefault("PREFECT_HOME", str(WORK / "prefect"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("COFFRE_TSA_PORT", "4319")

from benchmarks.harness import prepare_coffre  # noqa: E402
from benchmarks.receipts import GeneratedDoc, invoice_pdfs, receipt_images  # noqa: E402
from coffre.tasks.extract import ExtractedFields  # noqa: E402

FIELDS = ("date", "total_ttc", "supplier", "invoice_number", "siret")


def baseline_convert(path: Path, out_dir: Path) -> None:
    """What an operator would run by hand to get the same PDF/A: the commands, per file."""
    import subprocess

    import pikepdf

    from coffre.settings import get_settings
    from coffre.tasks import ocr
    from coffre.tasks.ocr_pool import ocr_environment
    from coffre.tasks.pdf import has_unembedded_fonts

    source = path
    if path.suffix == ".pdf":
        with pikepdf.open(path) as pdf:
            needs_fonts = has_unembedded_fonts(pdf)
        if needs_fonts:
            source = out_dir / f"{path.stem}.embedded.pdf"
            ocr.embed_fonts(path, source, timeout=900)
    command = ocr.ocrmypdf_command(
        source, out_dir / f"{path.stem}.pdf", get_settings().ocr_languages
    )
    subprocess.run(command, env=ocr_environment(), check=True, capture_output=True, timeout=900)


@dataclass
class Spent:
    """Wall time and CPU seconds of a run: this process, its commands, the Prefect server."""

    wall: float = 0.0
    own: float = 0.0
    commands: float = 0.0
    server: float = 0.0

    @property
    def cpu(self) -> float:
        return self.own + self.commands + self.server


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_cpu() -> float:
    """CPU of the Prefect server the test harness started (a uvicorn child process)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == os.getpid() and b"uvicorn" in (stat.parent / "cmdline").read_bytes():
                total += _proc_cpu(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return total


def _snapshot() -> Spent:
    own = resource.getrusage(resource.RUSAGE_SELF)
    commands = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Spent(
        wall=time.perf_counter(),
        own=own.ru_utime + own.ru_stime,
        commands=commands.ru_utime + commands.ru_stime,
        server=_server_cpu(),
    )


def measured(run: Callable[[], object]) -> Spent:
    before = _snapshot()
    run()
    after = _snapshot()
    return Spent(*(getattr(after, f) - getattr(before, f) for f in Spent.__dataclass_fields__))


def run_baseline(paths: list[Path], workers: int, round_number: int) -> Spent:
    out_dir = WORK / f"baseline-{round_number}"
    out_dir.mkdir()

    def convert_all() -> None:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda p: baseline_convert(p, out_dir), paths))

    return measured(convert_all)


def run_coffre(paths: list[Path], round_number: int) -> tuple[Spent, list[dict[str, str | None]]]:
    """One capture flow run for a new organisation (content dedup is per organisation)."""
    from coffre.flows.capture import capture
    from coffre.models import Organization, session_scope
    from coffre.tasks.ocr_pool import shared_pool

    sirens = ("732829320", "552100554", "542051180", "443061841")
    org = Organization(name=f"Bench SARL {round_number}", siren=sirens[round_number])
    with session_scope() as session:
        session.add(org)
    capture(org=org.id, paths=[str(paths[0])], source="cli")  # warm-up: imports, pools
    # The round starts its ocrmypdf converters itself, and they exit before it ends: their
    # CPU is counted (a child's is, once it has exited) and their start-up is paid.
    shared_pool().close_idle()
    outcomes: list[dict[str, str | None]] = []

    def capture_all() -> None:
        outcomes.extend(capture(org=org.id, paths=[str(p) for p in paths[1:]], source="cli"))
        shared_pool().close_idle()

    return measured(capture_all), outcomes


def field_accuracy(docs: list[GeneratedDoc], fields_by_file: dict[str, dict]) -> tuple[int, int]:
    """Fields found equal to the truth, over the fields the truth has."""
    right = total = 0
    for doc in docs:
        found = ExtractedFields.from_json(fields_by_file.get(doc.filename, {}))
        for name in FIELDS:
            expected = getattr(doc.truth, name)
            if expected is None:
                continue
            total += 1
            right += getattr(found, name) == expected
        for line in doc.truth.vat:
            total += 1
            right += line in found.vat
    return right, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=50)
    parser.add_argument("--invoices", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, choices=range(1, 5))
    args = parser.parse_args()

    from coffre.settings import get_settings

    workers = get_settings().capture_concurrency
    receipts = receipt_images(args.receipts, seed=7)
    invoices = invoice_pdfs(args.invoices, seed=7)
    inputs = WORK / "inputs"
    inputs.mkdir()
    paths = []
    for doc in [*receipts, *invoices]:
        (inputs / doc.filename).write_bytes(doc.data)
        paths.append(inputs / doc.filename)
    print(f"{len(receipts)} receipts + {len(invoices)} invoices, {workers} workers, in {WORK}")

    from prefect.testing.utilities import prefect_test_harness

    tsa = prepare_coffre()
    baseline_runs: list[Spent] = []
    coffre_runs: list[Spent] = []
    with prefect_test_harness(server_startup_timeout=120):
        from coffre.serve import ensure_concurrency_limits

        ensure_concurrency_limits(get_settings())  # the HSM's limit, as `make run` has it
        # Alternate the two, so that a slow spell of the machine hits both alike.
        for round_number in range(args.rounds):
            baseline_runs.append(run_baseline(paths[1:], workers, round_number))
            spent, outcomes = run_coffre(paths, round_number)
            coffre_runs.append(spent)
            print(
                f"round {round_number + 1}: baseline {baseline_runs[-1].wall:6.1f} s, "
                f"coffre {coffre_runs[-1].wall:6.1f} s"
            )
    tsa.stop()
    count = len(paths) - 1
    baseline_rate = count / statistics.median(run.wall for run in baseline_runs)
    coffre_rate = count / statistics.median(run.wall for run in coffre_runs)
    print(f"baseline (commands alone), median: {baseline_rate:6.3f} files/s")
    print(f"coffre capture flow, median      : {coffre_rate:6.3f} files/s")
    print(f"throughput ratio coffre/baseline: {coffre_rate / baseline_rate:.3f}  (goal >= 0.9)")
    # CPU seconds do not drift with the machine's slow spells the way wall time does.
    for label, runs in (("baseline", baseline_runs), ("coffre  ", coffre_runs)):
        per_file = [
            statistics.mean(getattr(run, part) for run in runs) / count * 1000
            for part in ("own", "commands", "server")
        ]
        print(
            f"CPU per file, {label}: this process {per_file[0]:5.0f} ms, commands "
            f"{per_file[1]:5.0f} ms, Prefect server {per_file[2]:4.0f} ms"
        )
    cpu_ratio = statistics.mean(r.cpu for r in baseline_runs) / statistics.mean(
        r.cpu for r in coffre_runs
    )
    print(f"CPU ratio baseline/coffre (work per file): {cpu_ratio:.3f}")
    # The goal's other reading: what orchestration and storage add to the command's work.
    orchestration = statistics.mean(r.own + r.server for r in coffre_runs) - statistics.mean(
        r.own + r.server for r in baseline_runs
    )
    command_work = statistics.mean(r.cpu for r in baseline_runs)
    print(
        f"orchestration and storage (this process + Prefect server, beyond the baseline's): "
        f"{orchestration / count * 1000:.0f} ms per file = {100 * orchestration / command_work:.1f}"
        f" % of the command's CPU  (goal <= 10 %)"
    )

    statuses: dict[str, int] = {}
    for outcome in outcomes:
        statuses[str(outcome["status"])] = statuses.get(str(outcome["status"]), 0) + 1
    print(f"outcomes: {statuses}")

    from sqlmodel import select

    from coffre.models import Document, session_scope

    with session_scope() as session:
        fields = {d.filename: d.fields for d in session.exec(select(Document))}
    for label, docs in (("receipts (OCR)", receipts), ("invoices (text layer)", invoices)):
        right, total = field_accuracy(docs, fields)
        print(f"field accuracy, {label}: {right}/{total} = {100 * right / max(total, 1):.1f} %")
    right = sum(field_accuracy(d, fields)[0] for d in (receipts, invoices))
    total = sum(field_accuracy(d, fields)[1] for d in (receipts, invoices))
    print(f"field accuracy, all: {100 * right / max(total, 1):.1f} %  (goal >= 95 %)")

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: this process {own:.0f} MiB, largest child process {children:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

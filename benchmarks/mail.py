"""Mail fetch: a Dovecot mailbox of 1,000 messages, 200 of them with a PDF invoice.

A real Dovecot (Debian's dovecot-imapd) is started on a loopback port and filled with
1,000 messages: 200 supplier invoices with a distinct PDF each, the rest plain mail or
decoys (inline images, Office files, a PNG named facture.pdf). Then, under a Prefect API:

- baseline: what a naive script would do over the same IMAPS connection — download every
  message of the folder (BODY.PEEK[]), nothing else;
- first fetch: the `fetch-mail` flow — IMAP search and body structures, download of the
  messages that may hold a PDF, the 200 PDFs captured (vault, store, PDF/A, fields, seal);
- second fetch: the same flow again over the unchanged mailbox.

Prints each run's time, bytes downloaded, peak resident memory and Python heap peak;
the second fetch against the first (goal: no attachment bytes, under 10 % of the time).

    .venv/bin/python -m benchmarks.mail [--messages 1000] [--with-pdf 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORK = Path(tempfile.mkdtemp(prefix="coffre-bench-mail-"))
os.environ.setdefault("COFFRE_HOME", str(WORK / "home"))
os.environ.setdefault("PREFECT_HOME", str(WORK / "prefect"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("COFFRE_TSA_PORT", "4321")

from benchmarks.harness import prepare_coffre  # noqa: E402


def resident_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Measured:
    seconds: float
    peak_rss_mib: float
    heap_peak_mib: float
    value: Any


def measure(work: Callable[[], Any]) -> Measured:
    """Wall time, peak resident memory (sampled every 10 ms) and Python heap peak."""
    peak = [resident_mib()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], resident_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        value = work()
    finally:
        elapsed = time.perf_counter() - start
        _, heap_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        done.set()
        sampler.join()
    return Measured(elapsed, max(peak[0], resident_mib()), heap_peak / 1048576, value)


def naive_download(server: Any) -> int:
    """Every message of INBOX, whole: the baseline's bytes."""
    total = 0
    with server.connect(tls="implicit", host=server.strict_host) as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        for start in range(0, len(uids), 100):
            answer = client.fetch(uids[start : start + 100], ["BODY.PEEK[]"])
            total += sum(len(fields[b"BODY[]"]) for fields in answer.values())
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--with-pdf", type=int, default=200)
    args = parser.parse_args()

    from tests.dovecot import Dovecot
    from tests.mailbox import bulk_mailbox

    server = Dovecot(WORK / "dovecot").start()
    os.environ["COFFRE_MAIL_CA_FILE"] = str(server.ca_path)
    expected = bulk_mailbox(server, total=args.messages, with_pdf=args.with_pdf, seed=11)
    print(f"{args.messages} messages, {len(expected)} with a PDF invoice, in {WORK}")

    from prefect.testing.utilities import prefect_test_harness

    from coffre.models import Document, Organization, session_scope
    from coffre.tasks.mail_connections import add_connection

    tsa = prepare_coffre()
    org = Organization(name="Bench mail SARL", siren="732829320")
    with session_scope() as session:
        session.add(org)
    credentials = {
        "host": server.strict_host,
        "port": server.imaps_port,
        "tls": "ssl",
        "username": server.user,
        "password": server.password,
    }
    connection = add_connection(org.id, "imap", "Factures", credentials)
    try:
        with prefect_test_harness(server_startup_timeout=120):
            from coffre.flows.mail import fetch_mail

            baseline = measure(lambda: naive_download(server))
            first = measure(lambda: fetch_mail(org.id, connection.id))
            second = measure(lambda: fetch_mail(org.id, connection.id))
    finally:
        tsa.stop()
        server.stop()

    from sqlmodel import select

    with session_scope() as session:
        documents = list(session.exec(select(Document).where(Document.org_id == org.id)))
    statuses: dict[str, int] = {}
    for document in documents:
        statuses[str(document.status)] = statuses.get(str(document.status), 0) + 1
    found = {document.original_sha256 for document in documents}

    def line(label: str, run: Measured, downloaded: int) -> str:
        return (
            f"{label:<34}{run.seconds:8.2f} s {downloaded / 1048576:9.2f} MiB downloaded  "
            f"peak RSS {run.peak_rss_mib:6.0f} MiB, Python heap peak {run.heap_peak_mib:6.1f} MiB"
        )

    print(line("baseline (download every message)", baseline, baseline.value))
    print(line("first fetch (fetch + capture)", first, first.value["bytes_downloaded"]))
    print(line("second fetch (unchanged mailbox)", second, second.value["bytes_downloaded"]))
    print(
        f"first fetch: {first.value['messages_matching']} messages listed, "
        f"{first.value['pdfs_found']} PDFs in {first.value['seconds']:.2f} s (the rest is "
        f"capture: PDF/A, fields, seal); documents {statuses}"
    )
    exact = found == set(expected) and len(documents) == len(expected)
    print(f"every expected PDF captured exactly once: {exact}")
    print(
        f"second fetch: {second.value['messages_new']} new messages, mailbox read in "
        f"{second.value['seconds']:.2f} s, "
        f"{second.value['bytes_downloaded']} bytes downloaded (goal 0)"
    )
    print(
        f"time ratio second/first: {second.seconds / first.seconds:.3f}  (goal < 0.10); "
        f"bytes first/baseline: {first.value['bytes_downloaded'] / baseline.value:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

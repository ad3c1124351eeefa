"""Invoicing end to end: 200 invoices of 1 to 50 lines, and where the time goes.

Each invoice goes through what `issue-invoice` does: checks and totals, the EN 16931
CII XML, its validation (XSD, EN 16931 and French BR-FR schematrons), the gapless
number, the HTML rendered to PDF/A-3b, the Factur-X embedding, the vault (encrypted
original), the archive step (kept as is: it already is PDF/A with text), and the
PAdES seal on the embedded SoftHSM2 key with a local TSA. The stages are timed by
wrapping the functions the issuing code calls, so the shares add up to the whole.

    .venv/bin/python -m benchmarks.invoice [--invoices 200]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORK = Path(tempfile.mkdtemp(prefix="coffre-bench-invoice-"))
os.environ.setdefault("COFFRE_HOME", str(WORK / "home"))
os.environ.setdefault("COFFRE_TSA_PORT", "4323")

from benchmarks.harness import prepare_coffre  # noqa: E402

SPENT: dict[str, float] = defaultdict(float)
KINDS = ["conseil", "pose", "fourniture"]


def timed(module: Any, name: str, stage: str) -> None:
    """Replace module.name by a wrapper adding its time to SPENT[stage]."""
    original: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SPENT[stage] += time.perf_counter() - start

    setattr(module, name, wrapper)


def draft(rng: random.Random, lines: int) -> dict[str, Any]:
    rates = ["20", "20", "10", "5.5", "2.1"]
    return {
        "customer": {
            "name": f"Client {rng.randint(1, 999)} SAS",
            "siren": "552100554",
            "address": {"line1": "3 avenue Foch", "postcode": "75016", "city": "Paris"},
        },
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "lines": [
            {
                "description": f"Prestation n° {index + 1} — {rng.choice(KINDS)}",
                "quantity": str(rng.choice([1, 2, 3, "0.5", "1.25", 12])),
                "unit": rng.choice(["C62", "HUR", "DAY"]),
                "unit_price": f"{rng.randint(100, 250000) / 100:.2f}",
                "vat_rate": rng.choice(rates),
            }
            for index in range(lines)
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=200)
    args = parser.parse_args()

    from coffre.models import Organization, SellerProfile, session_scope
    from coffre.tasks import capture, invoicing, sealing

    tsa = prepare_coffre()
    org = Organization(name="Bench Factures SARL", siren="732829320")
    with session_scope() as session:
        session.add(org)
    with session_scope() as session:
        session.add(
            SellerProfile(
                org_id=org.id,
                legal_name="Bench Factures SARL",
                vat_number="FR44732829320",
                address_line1="12 rue des Lilas",
                postcode="69003",
                city="Lyon",
                iban="FR7630006000011234567890189",
            )
        )
    for name, stage in (
        ("check_invoice", "checks and totals"),
        ("compute_totals", "checks and totals"),
        ("cii_xml", "CII XML"),
        ("validate_cii", "XML validation"),
        ("_assign_number", "number (database)"),
        ("invoice_html", "HTML"),
        ("render_pdf", "PDF/A-3 rendering"),
        ("embed_facturx", "Factur-X embedding"),
        ("store_original_fn", "vault (original)"),
        ("normalize_document_fn", "archive copy"),
    ):
        timed(invoicing, name, stage)
    timed(sealing, "seal_documents_fn", "seal (HSM + TSA)")  # imported where it is used
    timed(capture, "extract_fields", "archive copy")

    rng = random.Random(5)
    sizes = [rng.randint(1, 50) for _ in range(args.invoices)]
    drafts = [invoicing.create_draft_fn(org.id, draft(rng, size)) for size in sizes]
    from coffre.tasks.einvoice_validate import warm_up

    warm_up()
    start = time.perf_counter()
    statuses: dict[str, int] = defaultdict(int)
    for draft_id in drafts:
        statuses[invoicing.issue_invoice_fn(org.id, draft_id).status or "?"] += 1
    elapsed = time.perf_counter() - start
    tsa.stop()

    print(f"{args.invoices} invoices of 1 to 50 lines ({sum(sizes)} lines), in {WORK}")
    print(
        f"end to end: {elapsed:.1f} s, {args.invoices / elapsed:.2f} invoices/s; {dict(statuses)}"
    )
    accounted = sum(SPENT.values())
    for stage, seconds in sorted(SPENT.items(), key=lambda item: -item[1]):
        print(f"  {stage:<22} {seconds:7.2f} s  {100 * seconds / elapsed:5.1f} %")
    other = elapsed - accounted
    print(f"  {'other (store, glue)':<22} {other:7.2f} s  {100 * other / elapsed:5.1f} %")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The documents page at 100,000 documents: search and pages, on PostgreSQL.

Fills a fresh PostgreSQL database with `--documents` documents of one organisation (and
as many of another, which must never show), then times what the portal's documents page
runs (`search_documents`: a count and one page of 50) for the first page, a middle page,
the last page, a text search and a supplier + amount filter. Baseline, same data, same
run: what a page would cost without the database doing the work — every document of the
organisation loaded, filtered and sorted in Python, then sliced. Prints milliseconds
(best of `--rounds`) and the ratio.

    .venv/bin/python -m benchmarks.documents_search [--documents 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get(
    "COFFRE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SUPPLIERS = ["EDF SA", "Orange", "Boulangerie Martin", "Metro", "SNCF", "Total", "La Poste"]


def _rows(org_id: str, count: int, start: datetime) -> list[dict[str, Any]]:
    rows = []
    for n in range(count):
        supplier = SUPPLIERS[n % len(SUPPLIERS)]
        rows.append(
            {
                "id": uuid.uuid4().hex,
                "org_id": org_id,
                "kind": "receipt" if n % 3 else "invoice_in",
                "source": "upload",
                "filename": f"ticket-{n:06d}.pdf",
                "original_sha256": uuid.uuid4().hex + uuid.uuid4().hex,
                "original_size": 1000,
                "media_type": "application/pdf",
                "status": "SEALED" if n % 50 else "QUARANTINED",
                "ocr_text": f"{supplier} facture {n:06d} total {n % 997}.{n % 100:02d} EUR",
                "fields": {
                    "supplier": supplier,
                    "total_ttc": f"{n % 997}.{n % 100:02d}",
                    "date": (start + timedelta(hours=n)).date().isoformat(),
                },
                "created_at": start + timedelta(minutes=n),
                "updated_at": start + timedelta(minutes=n),
            }
        )
    return rows


def _best(rounds: int, call: Callable[[], Any]) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(rounds):
        started = time.perf_counter()
        value = call()
        best = min(best, time.perf_counter() - started)
    return best * 1000, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    name = f"coffre_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        return _run(url, args.documents, args.rounds)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _run(url: str, documents: int, rounds: int) -> int:
    from sqlmodel import Session, col, select

    from coffre.models import Document, Organization
    from coffre.models.document_search import DocumentFilter, search_documents
    from coffre.models.migrate import upgrade

    upgrade(url)
    engine = create_engine(url)
    mine, theirs = (
        Organization(name="A", siren="732829320"),
        Organization(name="B", siren="552100554"),
    )
    with Session(engine) as session:
        session.add_all([mine, theirs])
        session.commit()
        mine_id, theirs_id = mine.id, theirs.id
    start = datetime(2020, 1, 1, tzinfo=UTC)
    filled = time.perf_counter()
    with engine.begin() as conn:
        for org_id in (mine_id, theirs_id):
            rows = _rows(org_id, documents, start)
            for offset in range(0, len(rows), 5000):
                conn.execute(insert(Document), rows[offset : offset + 5000])
        conn.execute(text("ANALYZE document"))
    print(f"{documents:,} documents per organisation, two organisations "
          f"(loaded in {time.perf_counter() - filled:.1f} s)")  # fmt: skip

    size = 50
    last = (documents + size - 1) // size
    cases: list[tuple[str, DocumentFilter, int]] = [
        ("first page", DocumentFilter(), 1),
        ("middle page", DocumentFilter(), last // 2),
        ("last page", DocumentFilter(), last),
        ("text search", DocumentFilter(text="facture 012345"), 1),
        ("supplier + amount", DocumentFilter(supplier="edf", amount=Decimal("700.00")), 1),
    ]

    def coffre(wanted: DocumentFilter, page: int) -> tuple[list[str], int]:
        with Session(engine) as session:
            rows, total = search_documents(session, mine_id, wanted, page=page, page_size=size)
            return [row.id for row in rows], total

    def naive(wanted: DocumentFilter, page: int) -> tuple[list[str], int]:
        with Session(engine) as session:
            everything = list(session.exec(select(Document).where(col(Document.org_id) == mine_id)))
        kept = [d for d in everything if _matches(d, wanted)]
        kept.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return [d.id for d in kept[(page - 1) * size : page * size]], len(kept)

    print(f"{'query':<20} {'Coffre (ms)':>12} {'baseline (ms)':>14} {'ratio':>7}  results")
    for label, wanted, page in cases:
        ours, (ids, total) = _best(rounds, lambda w=wanted, p=page: coffre(w, p))
        theirs_ms, (naive_ids, naive_total) = _best(1, lambda w=wanted, p=page: naive(w, p))
        assert (ids, total) == (naive_ids, naive_total), label  # same answer
        print(f"{label:<20} {ours:12.1f} {theirs_ms:14.1f} {ours / theirs_ms:7.3f}  "
              f"{len(ids)} of {total:,}")  # fmt: skip
    engine.dispose()
    return 0


def _matches(document: Any, wanted: Any) -> bool:
    fields = document.fields or {}
    if wanted.text and not any(
        wanted.text.lower() in (value or "").lower()
        for value in (document.filename, document.ocr_text)
    ):
        return False
    if wanted.supplier and wanted.supplier.lower() not in (fields.get("supplier") or "").lower():
        return False
    return not (
        wanted.amount is not None
        and fields.get("total_ttc") != str(wanted.amount.quantize(Decimal("0.01")))
    )


if __name__ == "__main__":
    raise SystemExit(main())

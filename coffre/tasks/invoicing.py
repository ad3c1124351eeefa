"""Issuing an invoice: checked, numbered without gaps, rendered, validated, sealed.

Order matters for the numbering promise. Everything that could refuse the invoice
(field checks, the EN 16931 and BR-FR validation of its XML) runs on a provisional
number first, so a refused draft consumes no number. The number is then taken in one
short database transaction that also marks the invoice issued: the counter row is
locked (SELECT … FOR UPDATE on PostgreSQL; SQLite transactions are serialised), so
concurrent issues get 1, 2, 3… with no gap and no repeat. Producing the document comes
after; it is deterministic from the issued invoice, so a failure there is simply
retried (`issue_invoice_fn` resumes an issued invoice that has no document yet).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from coffre.models import (
    Customer,
    DocumentSource,
    Invoice,
    InvoiceCounter,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Organization,
    SellerProfile,
    append_event,
    session_scope,
    utcnow,
)
from coffre.runtime import get_engine
from coffre.tasks.capture import normalize_document_fn, store_original_fn
from coffre.tasks.einvoice_facturx import embed_facturx
from coffre.tasks.einvoice_render import render_pdf
from coffre.tasks.einvoice_validate import validate_cii
from coffre.tasks.facturx_cii import cii_xml
from coffre.tasks.invoice_html import TEMPLATE_DIR, invoice_html
from coffre.tasks.invoice_math import FieldError, InvoiceTotals, check_invoice, compute_totals
from coffre.tasks.invoice_types import InvoiceData, InvoiceLineData, Party, PostalAddress

log = logging.getLogger(__name__)
ACTOR = "invoicing"
PROVISIONAL = "BROUILLON-0000"


class InvoiceRefused(ValueError):
    """The invoice cannot be issued as it is; `errors` say which field and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


@dataclass
class IssuedInvoice:
    invoice_id: str
    number: str
    document_id: str | None
    status: str | None  # the document's: SEALED, or NORMALIZED when the seal must be retried
    total_gross: str

    def to_json(self) -> dict[str, Any]:
        return {
            "invoice_id": self.invoice_id,
            "number": self.number,
            "document_id": self.document_id,
            "status": self.status,
            "total_gross": self.total_gross,
        }


# -- drafts -------------------------------------------------------------------------


def _decimal(value: Any, field: str, errors: list[FieldError]) -> Decimal:
    try:
        return Decimal(str(value).replace(",", ".").replace(" ", ""))
    except (InvalidOperation, ValueError):
        errors.append(FieldError(field, f"« {value} » n'est pas un nombre."))
        return Decimal("0")


def create_draft_fn(org_id: str, draft: dict[str, Any]) -> str:
    """A draft invoice (or credit note) from its JSON form; returns its id.

    `customer` is either an existing customer id or the customer itself (name, siren,
    siret, vat_number, address{line1, line2, postcode, city, country}, email); `lines`
    are {description, quantity, unit, unit_price, discount, vat_rate, exemption_reason}.
    A credit note gives `corrects` (the corrected invoice's id or number).
    """
    errors: list[FieldError] = []
    raw_lines = draft.get("lines") or []
    with session_scope(get_engine()) as session:
        customer_id = _customer(session, org_id, draft.get("customer"), errors)
        corrects = _corrected(session, org_id, draft.get("corrects"), errors)
        invoice = Invoice(
            org_id=org_id,
            customer_id=customer_id or "",
            kind=InvoiceKind.CREDIT_NOTE if corrects else InvoiceKind.INVOICE,
            corrects_id=corrects,
            series=str(draft.get("series") or "F"),
            issue_date=date.fromisoformat(draft["issue_date"]) if draft.get("issue_date") else None,
            due_date=date.fromisoformat(draft["due_date"]) if draft.get("due_date") else None,
            currency=str(draft.get("currency") or "EUR"),
            buyer_reference=draft.get("buyer_reference"),
            notes=draft.get("notes"),
        )
        lines = []
        for position, raw in enumerate(raw_lines):
            path = f"lines[{position}]"
            rate = raw.get("vat_rate", "20")
            lines.append(
                InvoiceLine(
                    invoice_id=invoice.id,
                    position=position,
                    description=str(raw.get("description") or ""),
                    quantity=str(_decimal(raw.get("quantity", 1), f"{path}.quantity", errors)),
                    unit_code=str(raw.get("unit") or "C62"),
                    unit_price=str(_decimal(raw.get("unit_price"), f"{path}.unit_price", errors)),
                    discount=str(_decimal(raw.get("discount", 0), f"{path}.discount", errors)),
                    vat_rate=str(_decimal(rate, f"{path}.vat_rate", errors)),
                    vat_category=str(raw.get("vat_category") or _category(rate)),
                    exemption_reason=raw.get("exemption_reason"),
                )
            )
        if errors:
            raise InvoiceRefused(errors)
        session.add(invoice)
        session.flush()
        for line in lines:
            session.add(line)
        return invoice.id


def _category(rate: Any) -> str:
    try:
        return "S" if Decimal(str(rate)) > 0 else "E"
    except InvalidOperation:
        return "S"


def _customer(session: Session, org_id: str, value: Any, errors: list[FieldError]) -> str | None:
    if isinstance(value, str):
        found = session.exec(
            select(Customer).where(Customer.org_id == org_id, Customer.id == value)
        ).first()
        if found is None:
            errors.append(FieldError("customer", "Client inconnu."))
            return None
        return found.id
    if not isinstance(value, dict):
        errors.append(FieldError("customer", "Le client est obligatoire."))
        return None
    address = value.get("address") or {}
    customer = Customer(
        org_id=org_id,
        name=str(value.get("name") or ""),
        siren=value.get("siren"),
        siret=value.get("siret"),
        vat_number=value.get("vat_number"),
        address_line1=str(address.get("line1") or ""),
        address_line2=address.get("line2"),
        postcode=str(address.get("postcode") or ""),
        city=str(address.get("city") or ""),
        country=str(address.get("country") or "FR"),
        email=value.get("email"),
    )
    session.add(customer)
    session.flush()
    return customer.id


def _corrected(session: Session, org_id: str, value: Any, errors: list[FieldError]) -> str | None:
    if not value:
        return None
    found = session.exec(
        select(Invoice).where(
            Invoice.org_id == org_id, (Invoice.id == value) | (Invoice.number == value)
        )
    ).first()
    if found is None or found.state not in (InvoiceState.ISSUED, InvoiceState.PAID):
        errors.append(FieldError("corrects", "Un avoir corrige une facture émise."))
        return None
    return found.id


# -- from the store to InvoiceData --------------------------------------------------------


def _invoice_data(session: Session, invoice: Invoice, number: str, issue_date: date) -> InvoiceData:
    org = session.get(Organization, invoice.org_id)
    profile = session.get(SellerProfile, invoice.org_id)
    customer = session.get(Customer, invoice.customer_id)
    if profile is None or org is None:
        raise InvoiceRefused(
            [FieldError("seller", "Le profil vendeur de l'organisation n'est pas renseigné.")]
        )
    if customer is None:
        raise InvoiceRefused([FieldError("customer", "Client inconnu.")])
    lines = session.exec(
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id == invoice.id)
        .order_by(col(InvoiceLine.position))
    ).all()
    corrected = session.get(Invoice, invoice.corrects_id) if invoice.corrects_id else None
    notes = tuple(filter(None, [profile.vat_exemption, invoice.notes]))
    return InvoiceData(
        number=number,
        type_code="381" if invoice.kind == InvoiceKind.CREDIT_NOTE else "380",
        issue_date=issue_date,
        due_date=invoice.due_date or issue_date + timedelta(days=30),
        currency=invoice.currency,
        seller=Party(
            name=profile.legal_name,
            address=PostalAddress(
                profile.address_line1,
                profile.postcode,
                profile.city,
                profile.country,
                profile.address_line2,
            ),
            siren=org.siren,
            siret=profile.siret,
            vat_number=profile.vat_number,
            email=profile.email,
            legal_form=profile.legal_form,
            iban=profile.iban,
            bic=profile.bic,
        ),
        buyer=Party(
            name=customer.name,
            address=PostalAddress(
                customer.address_line1,
                customer.postcode,
                customer.city,
                customer.country,
                customer.address_line2,
            ),
            siren=customer.siren,
            siret=customer.siret,
            vat_number=customer.vat_number,
            email=customer.email,
        ),
        lines=tuple(
            InvoiceLineData(
                description=line.description,
                quantity=Decimal(line.quantity),
                unit_code=line.unit_code,
                unit_price=Decimal(line.unit_price),
                vat_rate=Decimal(line.vat_rate),
                vat_category=line.vat_category,
                discount=Decimal(line.discount),
                exemption_reason=line.exemption_reason,
            )
            for line in lines
        ),
        payment_terms=profile.payment_terms,
        late_penalty_rate=profile.late_penalty_rate,
        buyer_reference=invoice.buyer_reference,
        preceding_invoice=corrected.number if corrected else None,
        preceding_invoice_date=corrected.issue_date if corrected else None,
        notes=notes,
    )


def _checked(data: InvoiceData) -> tuple[InvoiceTotals, bytes]:
    """Totals and XML, or InvoiceRefused with every field to fix."""
    errors = check_invoice(data)
    if errors:
        raise InvoiceRefused(errors)
    totals = compute_totals(data)
    xml = cii_xml(data, totals)
    fatal = [issue for issue in validate_cii(xml) if issue.severity == "fatal"]
    if fatal:
        raise InvoiceRefused(
            [FieldError(issue.rule, issue.message) for issue in fatal]  # rule ids for support
        )
    return totals, xml


# -- issuing ------------------------------------------------------------------------------


def format_number(series: str, issue_date: date, sequence: int) -> str:
    """F-2026-0001: the series, the year, and the sequence of that series and year."""
    return f"{series}-{issue_date.year}-{sequence:04d}"


def _take_number(session: Session, org_id: str, series: str) -> int:
    """The next number of the series, with its counter row locked until commit."""
    dialect = session.get_bind().dialect.name
    table = InvoiceCounter.__table__  # type: ignore[attr-defined]
    values = {"org_id": org_id, "series": series, "next_number": 1}
    if dialect == "postgresql":
        session.execute(pg_insert(table).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing())
    counter = session.execute(
        sa_select(table).where(table.c.org_id == org_id, table.c.series == series).with_for_update()
    ).one()
    session.execute(
        table.update().where(table.c.id == counter.id).values(next_number=counter.next_number + 1)
    )
    return int(counter.next_number)


def issue_invoice_fn(
    org_id: str, invoice_id: str, *, issue_date: date | None = None
) -> IssuedInvoice:
    """Issue a draft (or finish issuing one whose document is missing)."""
    engine = get_engine()
    with session_scope(engine) as session:
        invoice = session.exec(
            select(Invoice).where(Invoice.org_id == org_id, Invoice.id == invoice_id)
        ).first()
        if invoice is None:
            raise InvoiceRefused([FieldError("invoice", "Facture inconnue.")])
        if invoice.state == InvoiceState.DRAFT:
            day = issue_date or invoice.issue_date or date.today()
            _checked(_invoice_data(session, invoice, PROVISIONAL, day))
        elif invoice.document_id is not None:
            return _result(invoice, None)
    if invoice.state == InvoiceState.DRAFT:
        _assign_number(org_id, invoice_id, day)
    return _produce(org_id, invoice_id)


def _assign_number(org_id: str, invoice_id: str, day: date) -> None:
    with session_scope(get_engine()) as session:
        # The organisation row first, as the audit journal locks it: taking the counter
        # before it would let two issues wait on each other (a deadlock on PostgreSQL).
        session.exec(
            select(Organization.id).where(Organization.id == org_id).with_for_update(key_share=True)
        )
        invoice = session.exec(
            select(Invoice)
            .where(Invoice.org_id == org_id, Invoice.id == invoice_id)
            .with_for_update()
        ).one()
        if invoice.state != InvoiceState.DRAFT:
            return  # issued by a concurrent call: it has its number already
        series = f"{invoice.series}-{day.year}"
        sequence = _take_number(session, org_id, series)
        invoice.sequence, invoice.number = sequence, format_number(invoice.series, day, sequence)
        invoice.issue_date, invoice.state, invoice.issued_at = day, InvoiceState.ISSUED, utcnow()
        data = _invoice_data(session, invoice, invoice.number, day)
        totals = compute_totals(data)
        invoice.total_net = str(totals.tax_basis_total)
        invoice.total_vat = str(totals.tax_total)
        invoice.total_gross = str(totals.grand_total)
        invoice.due_date = data.due_date
        session.add(invoice)
        if invoice.corrects_id:
            corrected = session.get(Invoice, invoice.corrects_id)
            if corrected is not None:
                corrected.state = InvoiceState.CANCELLED
                session.add(corrected)
        append_event(
            session,
            org_id,
            actor=ACTOR,
            action="invoice.issued",
            subject_type="invoice",
            subject_id=invoice.id,
            details={"number": invoice.number, "total_gross": invoice.total_gross},
        )


def _produce(org_id: str, invoice_id: str) -> IssuedInvoice:
    """The Factur-X PDF of an issued invoice, kept as a sealed invoice_out document."""
    from coffre.tasks.seal import SealError
    from coffre.tasks.sealing import seal_config, seal_documents_fn

    with session_scope(get_engine()) as session:
        invoice = session.exec(
            select(Invoice).where(Invoice.org_id == org_id, Invoice.id == invoice_id)
        ).one()
        assert invoice.number is not None and invoice.issue_date is not None
        data = _invoice_data(session, invoice, invoice.number, invoice.issue_date)
    totals, xml = _checked(data)
    pdf = embed_facturx(render_pdf(invoice_html(data, totals), base_url=str(TEMPLATE_DIR)), xml)
    stored = store_original_fn(
        org_id,
        data=pdf,
        filename=f"{data.number}.pdf",
        source=DocumentSource.INVOICING.value,
        source_ref=invoice_id,
        kind="invoice_out",
    )
    assert stored.document_id is not None
    document = normalize_document_fn(org_id, stored.document_id)
    if str(document.status) == "NORMALIZED":
        try:
            seal_documents_fn(org_id, [document.id], seal_config())
        except SealError:
            # The HSM or the TSA is away: the invoice is issued and its PDF kept; the
            # seal-pending run seals it when they are back (the error is on the document).
            log.exception("invoice %s is issued but not sealed yet", invoice_id)
    with session_scope(get_engine()) as session:
        invoice = session.exec(
            select(Invoice).where(Invoice.org_id == org_id, Invoice.id == invoice_id)
        ).one()
        invoice.document_id = document.id
        session.add(invoice)
        session.flush()
        session.refresh(invoice)
        session.expunge(invoice)
    return _result(invoice, _status(org_id, document.id))


def _status(org_id: str, document_id: str) -> str:
    from coffre.models import get_document

    with session_scope(get_engine()) as session:
        return str(get_document(session, org_id, document_id).status)


def _result(invoice: Invoice, status: str | None) -> IssuedInvoice:
    return IssuedInvoice(
        invoice_id=invoice.id,
        number=invoice.number or "",
        document_id=invoice.document_id,
        status=status
        or (_status(invoice.org_id, invoice.document_id) if invoice.document_id else None),
        total_gross=invoice.total_gross or "",
    )


def create_credit_note_fn(
    org_id: str, invoice: str, lines: list[dict[str, Any]] | None = None
) -> str:
    """A draft credit note for an issued invoice: its lines (or those given)."""
    with session_scope(get_engine()) as session:
        original = session.exec(
            select(Invoice).where(
                Invoice.org_id == org_id, (Invoice.id == invoice) | (Invoice.number == invoice)
            )
        ).first()
        if original is None or original.state not in (InvoiceState.ISSUED, InvoiceState.PAID):
            raise InvoiceRefused([FieldError("corrects", "Un avoir corrige une facture émise.")])
        copied = [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit": line.unit_code,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "vat_rate": line.vat_rate,
                "vat_category": line.vat_category,
                "exemption_reason": line.exemption_reason,
            }
            for line in session.exec(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id == original.id)
                .order_by(col(InvoiceLine.position))
            )
        ]
        draft = {
            "customer": original.customer_id,
            "corrects": original.id,
            "series": original.series,
            "currency": original.currency,
            "lines": lines or copied,
        }
    return create_draft_fn(org_id, draft)

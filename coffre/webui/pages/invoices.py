"""Invoices: customers, drafts, issuing (Factur-X, sealed), credit notes, downloads,
and the legal mentions invoices carry."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from nicegui import run, ui
from sqlmodel import col, select

from coffre.models import session_scope
from coffre.models.invoicing import Customer, Invoice, SellerProfile
from coffre.runtime import get_engine
from coffre.webui.auth import SessionUser
from coffre.webui.i18n import t
from coffre.webui.layout import signed_in

SELLER_FIELDS = (
    ("legal_name", "Raison sociale"),
    ("legal_form", "Forme juridique et capital"),
    ("siret", "SIRET"),
    ("vat_number", "N° de TVA intracommunautaire"),
    ("address_line1", "Adresse"),
    ("postcode", "Code postal"),
    ("city", "Ville"),
    ("iban", "IBAN"),
    ("bic", "BIC"),
    ("vat_exemption", "Mention d'exonération de TVA (facultatif)"),
)
_REQUIRED = {"legal_name", "address_line1", "postcode", "city"}
STATE_LABELS = {"draft": "Brouillon", "issued": "Émise", "paid": "Payée", "cancelled": "Annulée"}


def invoices_of(org_id: str) -> list[tuple[Invoice, str]]:
    with session_scope(get_engine()) as session:
        rows = session.exec(
            select(Invoice, Customer)
            .join(Customer, col(Customer.id) == col(Invoice.customer_id))
            .where(Invoice.org_id == org_id)
            .order_by(col(Invoice.created_at).desc())
            .limit(200)
        )
        return [(invoice, customer.name) for invoice, customer in rows]


def customers_of(org_id: str) -> list[Customer]:
    with session_scope(get_engine()) as session:
        return list(
            session.exec(
                select(Customer).where(Customer.org_id == org_id).order_by(col(Customer.name))
            )
        )


def save_seller(org_id: str, values: dict[str, str]) -> None:
    with session_scope(get_engine()) as session:
        profile = session.get(SellerProfile, org_id) or SellerProfile(
            org_id=org_id, legal_name="", address_line1="", postcode="", city=""
        )
        for name, value in values.items():
            cleaned = value.strip()
            setattr(profile, name, cleaned if name in _REQUIRED else cleaned or None)
        session.add(profile)


@ui.page("/factures", title="Coffre — factures")
def invoices_page() -> None:
    user = signed_in("invoice")
    if user is None:
        return
    with ui.column().classes("q-pa-md gap-4 w-full max-w-5xl"):
        _list(user)
        _new_invoice(user)
        _customers(user)
        _seller(user)


def _list(user: SessionUser) -> None:
    with ui.card().classes("w-full"):
        ui.label(t("Factures émises")).classes("text-h6")
        rows = invoices_of(user.org_id)
        if not rows:
            ui.label(t("Aucune facture."))
        for invoice, customer in rows:
            with ui.row().classes("items-center gap-4").props(f"data-testid=invoice-{invoice.id}"):
                ui.label(invoice.number or "—").classes("w-32")
                ui.label(customer).classes("w-48")
                ui.label(f"{invoice.issue_date:%d/%m/%Y}" if invoice.issue_date else "—")
                ui.label(f"{invoice.total_gross or '—'} {invoice.currency}").classes("w-32")
                ui.label(STATE_LABELS.get(invoice.state.value, invoice.state.value))
                if invoice.document_id:
                    ui.link(t("Factur-X"), f"/fichiers/{invoice.document_id}/archive")
                if invoice.state.value == "draft":
                    ui.button(
                        t("Émettre"), on_click=lambda i=invoice.id: _issue_draft(user, i)
                    ).props("flat dense")
                if invoice.kind.value == "invoice" and invoice.state.value in ("issued", "paid"):
                    ui.button(
                        t("Avoir"), on_click=lambda i=invoice.id: _credit_note(user, i)
                    ).props("flat dense")


async def _issue_draft(user: SessionUser, invoice_id: str) -> None:
    from coffre.flows.invoicing import issue_invoice

    state = await run.io_bound(issue_invoice, user.org_id, invoice_id=invoice_id, return_state=True)
    if state is not None and not state.is_completed():
        ui.notify(f"Facture refusée : {state.message}", type="negative", multi_line=True)
        return
    ui.navigate.reload()


async def _credit_note(user: SessionUser, invoice_id: str) -> None:
    from coffre.flows.invoicing import issue_credit_note

    state = await run.io_bound(issue_credit_note, user.org_id, invoice_id, return_state=True)
    if state is not None and not state.is_completed():
        ui.notify(f"Avoir refusé : {state.message}", type="negative")
        return
    ui.navigate.reload()


def _new_invoice(user: SessionUser) -> None:
    with ui.card().classes("w-full"):
        ui.label(t("Nouvelle facture")).classes("text-h6")
        known = {c.id: c.name for c in customers_of(user.org_id)}
        existing = ui.select(
            {"": t("Nouveau client"), **known}, value="", label=t("Client existant")
        ).classes("w-64")
        with ui.row().bind_visibility_from(existing, "value", value=""):
            customer = ui.input(t("Client")).classes("w-64")
            siren = ui.input(t("SIREN du client (facultatif)"))
            email = ui.input(t("E-mail du client (facultatif)"))
        with ui.row().bind_visibility_from(existing, "value", value=""):
            street = ui.input(t("Adresse du client")).classes("w-64")
            postcode = ui.input(t("Code postal du client"))
            city = ui.input(t("Ville du client"))
        with ui.row():
            description = ui.input(t("Désignation")).classes("w-64")
            quantity = ui.number(t("Quantité"), value=1)
            price = ui.input(t("Prix unitaire HT")).props("inputmode=decimal")
            rate = ui.select({"20": "20 %", "10": "10 %", "5.5": "5,5 %", "0": "0 %"}, value="20")
        due = ui.input(t("Échéance"), value=(date.today() + timedelta(days=30)).isoformat()).props(
            "type=date"
        )
        errors = ui.column()

        def draft() -> dict[str, Any]:
            return {
                "customer": existing.value
                or {
                    "name": customer.value or "",
                    "siren": (siren.value or "").replace(" ", "") or None,
                    "email": email.value or None,
                    "address": {
                        "line1": street.value or "",
                        "postcode": postcode.value or "",
                        "city": city.value or "",
                        "country": "FR",
                    },
                },
                "lines": [
                    {
                        "description": description.value or "",
                        "quantity": str(quantity.value or 1),
                        "unit_price": (price.value or "").replace(",", "."),
                        "vat_rate": rate.value,
                    }
                ],
                "issue_date": date.today().isoformat(),
                "due_date": due.value or None,
            }

        def refused(message: str) -> None:
            errors.clear()
            with errors:
                for part in message.split("; "):
                    ui.label(part).classes("text-negative")

        async def issue() -> None:
            from coffre.flows.invoicing import issue_invoice

            state = await run.io_bound(issue_invoice, user.org_id, draft=draft(), return_state=True)
            if state is None:
                return
            if not state.is_completed():
                refused(str(state.message))
                return
            ui.navigate.reload()

        def save_draft() -> None:
            from coffre.tasks.invoicing import InvoiceRefused, create_draft_fn

            try:
                create_draft_fn(user.org_id, draft())
            except InvoiceRefused as refusal:
                refused(str(refusal))
                return
            ui.navigate.reload()

        with ui.row():
            ui.button(t("Émettre la facture"), on_click=issue)
            ui.button(t("Enregistrer le brouillon"), on_click=save_draft).props("flat")


def _customers(user: SessionUser) -> None:
    with ui.expansion(t("Clients")).classes("w-full"):
        rows = customers_of(user.org_id)
        if not rows:
            ui.label(t("Aucun client."))
        for customer in rows:
            with ui.row().classes("gap-4"):
                ui.label(customer.name).classes("w-64")
                ui.label(customer.siren or "—").classes("w-32")
                ui.label(f"{customer.postcode} {customer.city}").classes("w-48")
                ui.label(customer.email or "—")


def _seller(user: SessionUser) -> None:
    with session_scope(get_engine()) as session:
        profile = session.get(SellerProfile, user.org_id)
    with ui.expansion(t("Mentions légales de vos factures"), value=profile is None).classes(
        "w-full"
    ):
        inputs = {
            name: ui.input(label, value=str(getattr(profile, name, "") or "")).classes("w-96")
            for name, label in SELLER_FIELDS
        }

        def save() -> None:
            save_seller(user.org_id, {name: field.value or "" for name, field in inputs.items()})
            ui.notify("Mentions enregistrées.", type="positive")

        ui.button(t("Enregistrer"), on_click=save)

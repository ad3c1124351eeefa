"""The documents page: search, pages of results, downloads, seal and quarantine states."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from nicegui import run, ui

from coffre.models import NotFound, get_document, session_scope
from coffre.models.document import DocumentKind, DocumentStatus
from coffre.models.document_search import DocumentFilter, search_documents
from coffre.runtime import get_engine, get_vault
from coffre.settings import get_settings
from coffre.webui.auth import SessionUser
from coffre.webui.i18n import t
from coffre.webui.layout import signed_in

STATUS_LABELS = {
    "RECEIVED": "Reçu",
    "NORMALIZED": "Converti (sceau en attente)",
    "SEALED": "Scellé",
    "QUARANTINED": "En quarantaine",
}


def _parse_amount(text: str | None) -> Decimal | None:
    if not text or not text.strip():
        return None
    try:
        return Decimal(text.replace(",", ".").replace(" ", "").replace("€", ""))
    except InvalidOperation:
        return None


def _parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@ui.page("/documents", title="Coffre — documents")
def documents_page() -> None:
    user = signed_in("read")
    if user is None:
        return
    state: dict[str, Any] = {"page": 1}
    with ui.row().classes("items-end gap-2 q-pa-md"):
        text = ui.input(t("Texte")).props("clearable data-testid=search-text")
        supplier = ui.input(t("Fournisseur")).props("clearable")
        amount = ui.input(t("Montant TTC")).props("clearable inputmode=decimal")
        date_from = ui.input(t("Du")).props("type=date")
        date_to = ui.input(t("Au")).props("type=date")
        kind = ui.select(
            {"": "—", **{k.value: k.value for k in DocumentKind}}, value="", label=t("Type")
        ).classes("w-40")
        status = ui.select(
            {"": "—", **{s.value: STATUS_LABELS.get(s.value, s.value) for s in DocumentStatus}},
            value="",
            label=t("Statut"),
        ).classes("w-48")
        ui.button(t("Rechercher"), on_click=lambda: show(1)).props("data-testid=search")
    results = ui.column().classes("w-full q-px-md")

    def wanted() -> DocumentFilter:
        return DocumentFilter(
            text=text.value or None,
            supplier=supplier.value or None,
            amount=_parse_amount(amount.value),
            date_from=_parse_date(date_from.value),
            date_to=_parse_date(date_to.value),
            kind=kind.value or None,
            status=status.value or None,
        )

    def show(page: int) -> None:
        state["page"] = page
        size = get_settings().portal_page_size
        with session_scope(get_engine()) as session:
            rows, total = search_documents(
                session, user.org_id, wanted(), page=page, page_size=size
            )
        results.clear()
        with results:
            _table(user, rows)
            pages = max((total + size - 1) // size, 1)
            with ui.row().classes("items-center"):
                ui.button(t("‹"), on_click=lambda: show(page - 1)).props(
                    "flat" + (" disable" if page <= 1 else "")
                )
                ui.label(f"{page} / {pages} · {total} documents").props("data-testid=pager")
                ui.button(t("›"), on_click=lambda: show(page + 1)).props(
                    "flat" + (" disable" if page >= pages else "")
                )

    show(1)


def _table(user: SessionUser, rows: list[Any]) -> None:
    if not rows:
        ui.label(t("Aucun document."))
        return
    with ui.grid(columns=7).classes("w-full gap-x-4 gap-y-1 items-center"):
        for heading in ("Date", "Fichier", "Type", "Fournisseur", "TTC", "Statut", ""):
            ui.label(t(heading)).classes("text-bold")
        for document in rows:
            fields = document.fields or {}
            ui.label(fields.get("date") or document.created_at.date().isoformat())
            ui.label(document.filename).props(f"data-testid=doc-{document.id}")
            ui.label(document.kind.value)
            ui.label(fields.get("supplier") or "—")
            ui.label(fields.get("total_ttc") or "—")
            with ui.column().classes("gap-0"):
                ui.label(t(STATUS_LABELS.get(document.status.value, document.status.value)))
                if document.status == DocumentStatus.QUARANTINED and document.reason:
                    ui.label(document.reason).classes("text-caption text-negative")
                if document.status == DocumentStatus.SEALED and document.sealed_at:
                    ui.label(
                        f"{document.seal_level or ''} · {document.sealed_at:%d/%m/%Y %H:%M}"
                    ).classes("text-caption")
            with ui.row().classes("gap-2"):
                if document.archive_key:
                    ui.link(t("Archive scellée"), f"/fichiers/{document.id}/archive")
                if document.original_key:
                    ui.link(t("Original"), f"/fichiers/{document.id}/original")
                if document.status == DocumentStatus.SEALED:
                    ui.button(
                        t("Vérifier"), on_click=lambda d=document.id: _verify_dialog(user, d)
                    ).props("flat dense")


async def _verify_dialog(user: SessionUser, document_id: str) -> None:
    report = await run.io_bound(_verify, user.org_id, document_id)
    with ui.dialog() as dialog, ui.card():
        if report is None:
            ui.label(t("Document introuvable."))
        else:
            ui.label(t("Sceau valide") if report.ok else t("Sceau non valide")).classes(
                "text-h6 " + ("text-positive" if report.ok else "text-negative")
            )
            for label, value in (
                ("Niveau", report.level),
                ("Scellé par", report.signer),
                ("Le", report.signing_time),
                ("Horodatage", report.timestamp_time),
            ):
                ui.label(f"{label} : {value or '—'}")
            for reason in report.reasons:
                ui.label(reason).classes("text-negative")
        ui.button(t("OK"), on_click=dialog.close)
    dialog.open()


def _verify(org_id: str, document_id: str) -> Any:
    from coffre.tasks.pki import load_certificates
    from coffre.tasks.sealing import seal_config
    from coffre.tasks.verify import verify_pdf

    try:
        with session_scope(get_engine()) as session:
            document = get_document(session, org_id, document_id)
    except NotFound:
        return None
    if not document.archive_key:
        return None
    settings = get_settings()
    roots = load_certificates(list(seal_config(settings).trust_root_paths))
    return verify_pdf(
        get_vault().get(org_id, document.archive_key),
        roots,
        revocation_mode=settings.seal_revocation_mode,
    )

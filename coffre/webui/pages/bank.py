"""The bank page: connections (Powens), transactions, suggestions to decide, matching by
hand."""

from __future__ import annotations

from typing import Any

from nicegui import run, ui

from coffre.models import session_scope
from coffre.models.document_search import DocumentFilter, search_documents
from coffre.runtime import get_engine
from coffre.settings import get_settings
from coffre.tasks.bank_store import hide_transaction
from coffre.tasks.manual_match import match_by_hand
from coffre.tasks.reconcile import decide_match
from coffre.webui.auth import SessionUser
from coffre.webui.bank_views import connections, suggestions, transactions
from coffre.webui.i18n import t
from coffre.webui.layout import signed_in

STATE_LABELS = {
    "active": "Active",
    "needs_reauth": "À reconnecter",
    "failing": "En échec (nouvel essai automatique)",
}


def _portal_url() -> str:
    settings = get_settings()
    return f"https://{settings.portal_host}:{settings.portal_port}"


@ui.page("/banque", title="Coffre — banque")
def bank_page() -> None:
    user = signed_in("read")
    if user is None:
        return
    with ui.column().classes("q-pa-md gap-4 w-full"):
        _connections(user)
        _suggestions(user)
        _transactions(user)


def _connections(user: SessionUser) -> None:
    with ui.card().classes("w-full"):
        ui.label(t("Connexions bancaires")).classes("text-h6")
        for connection in connections(user.org_id):
            with ui.row().classes("items-center gap-4"):
                ui.label(connection.bank_name or "Banque (en attente de connexion)")
                ui.label(STATE_LABELS.get(connection.state.value, connection.state.value))
                if connection.state_reason:
                    ui.label(connection.state_reason).classes("text-caption text-negative")
                if connection.last_sync_at:
                    ui.label(f"Synchronisée le {connection.last_sync_at:%d/%m/%Y %H:%M}")
                if user.may("admin"):
                    ui.button(
                        t("Supprimer"), on_click=lambda c=connection.id: _delete_connection(user, c)
                    ).props("flat color=negative")
        if user.may("admin"):
            ui.button(t("Connecter une banque"), on_click=lambda: _connect(user))


async def _connect(user: SessionUser) -> None:
    from coffre.tasks.bank_sync import connect_bank_fn

    result = await run.io_bound(connect_bank_fn, user.org_id, _portal_url() + "/banque/retour")
    if result is not None:
        ui.navigate.to(result[1])  # Powens' web view, then back to /banque/retour


async def _delete_connection(user: SessionUser, connection_id: str) -> None:
    from coffre.tasks.bank_sync import delete_bank_connection_fn

    await run.io_bound(delete_bank_connection_fn, user.org_id, connection_id)
    ui.navigate.reload()


@ui.page("/banque/retour", title="Coffre — banque")
async def bank_return_page(connection_id: str | None = None) -> None:
    user = signed_in("admin")
    if user is None:
        return
    ui.label(t("Connexion enregistrée : la synchronisation commence.")).classes("q-pa-md")
    ui.link(t("Retour à la banque"), "/banque")


def _suggestions(user: SessionUser) -> None:
    rows = suggestions(user.org_id)
    with ui.card().classes("w-full"):
        ui.label(f"Suggestions de rapprochement ({len(rows)})").classes("text-h6")
        for row in rows:
            with (
                ui.row()
                .classes("items-center gap-4")
                .props(f"data-testid=suggestion-{row.match_id}")
            ):
                ui.label(row.transaction)
                ui.label(t("→ ") + row.document)
                ui.label(row.explanation).classes("text-caption")
                if user.may("reconcile"):
                    ui.button(
                        t("Confirmer"),
                        on_click=lambda m=row.match_id: _decide(user, m, "confirmed"),
                    ).props("flat color=positive")
                    ui.button(
                        t("Rejeter"), on_click=lambda m=row.match_id: _decide(user, m, "rejected")
                    ).props("flat color=negative")


def _decide(user: SessionUser, match_id: str, kind: str) -> None:
    try:
        decide_match(user.org_id, match_id, kind, decided_by=f"user:{user.user_id}")
    except LookupError:
        ui.notify("Suggestion introuvable.", type="negative")
    ui.navigate.reload()


def _transactions(user: SessionUser) -> None:
    state: dict[str, Any] = {"page": 1}
    size = get_settings().portal_page_size
    with ui.card().classes("w-full"):
        ui.label(t("Opérations")).classes("text-h6")
        body = ui.column().classes("w-full")

    def show(page: int) -> None:
        state["page"] = page
        rows, total = transactions(user.org_id, page, size)
        body.clear()
        with body:
            for row in rows:
                with ui.row().classes("items-center gap-4").props(f"data-testid=tx-{row.id}"):
                    ui.label(f"{row.booking_date:%d/%m/%Y}").classes("w-24")
                    ui.label(row.wording).classes("w-96")
                    ui.label(f"{row.amount_cents / 100:.2f} {row.currency}").classes("w-32")
                    ui.label(t("rapprochée") if row.matched else "ouverte").classes("w-24")
                    if user.may("reconcile") and not row.matched:
                        ui.button(
                            t("Rapprocher"), on_click=lambda t=row.id: _match_dialog(user, t)
                        ).props("flat dense")
                    if user.may("admin"):
                        ui.button(t("Supprimer"), on_click=lambda t=row.id: _hide(user, t)).props(
                            "flat dense color=negative"
                        )
            pages = max((total + size - 1) // size, 1)
            with ui.row().classes("items-center"):
                ui.button(t("‹"), on_click=lambda: show(page - 1)).props(
                    "flat" + (" disable" if page <= 1 else "")
                )
                ui.label(f"{page} / {pages} · {total} opérations")
                ui.button(t("›"), on_click=lambda: show(page + 1)).props(
                    "flat" + (" disable" if page >= pages else "")
                )

    show(1)


def _hide(user: SessionUser, transaction_id: str) -> None:
    with session_scope(get_engine()) as session:
        hidden = hide_transaction(session, user.org_id, transaction_id)
    if not hidden:
        ui.notify("Opération introuvable.", type="negative")
    ui.navigate.reload()


def _match_dialog(user: SessionUser, transaction_id: str) -> None:
    with ui.dialog() as dialog, ui.card().classes("w-[40rem]"):
        ui.label(t("Quel document cette opération paie-t-elle ?")).classes("text-h6")
        query = ui.input(t("Rechercher (fournisseur, texte, montant)"))
        found = ui.column()

        def search() -> None:
            with session_scope(get_engine()) as session:
                rows, _ = search_documents(
                    session, user.org_id, DocumentFilter(text=query.value or None), page_size=20
                )
            found.clear()
            with found:
                for document in rows:
                    fields = document.fields or {}
                    ui.button(
                        f"{document.filename} · {fields.get('supplier') or '—'} · "
                        f"{fields.get('total_ttc') or '—'}",
                        on_click=lambda d=document.id: choose(d),
                    ).props("flat align=left")

        def choose(document_id: str) -> None:
            try:
                match_by_hand(
                    user.org_id, transaction_id, document_id, decided_by=f"user:{user.user_id}"
                )
            except LookupError:
                ui.notify("Document ou opération introuvable.", type="negative")
                return
            dialog.close()
            ui.navigate.reload()

        ui.button(t("Rechercher"), on_click=search)
        search()
    dialog.open()

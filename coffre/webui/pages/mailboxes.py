"""Mailboxes: supplier invoices fetched from a Nylas grant or an IMAP mailbox."""

from __future__ import annotations

from typing import Any

from nicegui import run, ui

from coffre.models import session_scope
from coffre.models.mail_queries import list_connections
from coffre.runtime import get_engine
from coffre.tasks.mail_errors import MailError
from coffre.webui.auth import SessionUser
from coffre.webui.i18n import t
from coffre.webui.layout import signed_in

STATUS_LABELS = {
    "active": "Active",
    "needs_reauth": "À reconnecter",
    "failing": "En échec",
}


def _words(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").replace(";", ",").split(",") if part.strip()]


@ui.page("/boites-mail", title="Coffre — boîtes mail")
def mailboxes_page() -> None:
    user = signed_in("admin")
    if user is None:
        return
    with ui.column().classes("q-pa-md gap-4 w-full max-w-4xl"):
        with ui.card().classes("w-full"):
            ui.label(t("Boîtes mail")).classes("text-h6")
            with session_scope(get_engine()) as session:
                mailboxes = list_connections(session, user.org_id)
            if not mailboxes:
                ui.label(t("Aucune boîte mail."))
            for mailbox in mailboxes:
                with (
                    ui.row()
                    .classes("items-center gap-4")
                    .props(f"data-testid=mailbox-{mailbox.id}")
                ):
                    ui.label(f"{mailbox.display_name} ({mailbox.provider.value})")
                    ui.label(STATUS_LABELS.get(mailbox.status.value, mailbox.status.value))
                    senders = ", ".join(mailbox.criteria.get("senders") or []) or "—"
                    ui.label(f"Expéditeurs : {senders}").classes("text-caption")
                    last = f"{mailbox.last_run_at:%d/%m/%Y %H:%M}" if mailbox.last_run_at else "—"
                    ui.label(f"Dernière relève : {last}").classes("text-caption")
                    if mailbox.last_error:
                        ui.label(mailbox.last_error).classes("text-caption text-negative")
                    ui.button(t("Supprimer"), on_click=lambda m=mailbox.id: _delete(user, m)).props(
                        "flat color=negative"
                    )
        _add_form(user)


async def _delete(user: SessionUser, connection_id: str) -> None:
    from coffre.tasks.mail_connections import delete_connection

    await run.io_bound(delete_connection, user.org_id, connection_id)
    ui.navigate.reload()


def _add_form(user: SessionUser) -> None:
    with ui.card().classes("w-full"):
        ui.label(t("Ajouter une boîte mail")).classes("text-h6")
        provider = ui.toggle({"imap": "IMAP", "nylas": "Nylas"}, value="imap")
        name = ui.input(t("Nom")).classes("w-64")
        senders = ui.input(t("Expéditeurs (adresses ou domaines, séparés par des virgules)"))
        senders.classes("w-full")
        subjects = ui.input(t("Mots du sujet (facultatif)")).classes("w-full")
        with ui.row().bind_visibility_from(provider, "value", value="imap"):
            host = ui.input(t("Serveur IMAP"))
            port = ui.number(t("Port"), value=993, format="%d")
            tls = ui.select(
                {"ssl": "TLS", "starttls": "STARTTLS"}, value="ssl", label=t("Chiffrement")
            )
            username = ui.input(t("Identifiant"))
            password = ui.input(t("Mot de passe"), password=True)
        with ui.row().bind_visibility_from(provider, "value", value="nylas"):
            grant = ui.input(t("Identifiant de l'autorisation Nylas (grant)"))
        message = ui.label().classes("text-negative")

        async def add() -> None:
            from coffre.tasks.mail_connections import add_connection

            credentials: dict[str, Any]
            if provider.value == "nylas":
                credentials = {"grant_id": grant.value or ""}
            else:
                credentials = {
                    "host": host.value or "",
                    "port": int(port.value or 0),
                    "tls": tls.value,
                    "username": username.value or "",
                    "password": password.value or "",
                }
            criteria = {
                "senders": _words(senders.value),
                "subject_contains": _words(subjects.value),
            }
            try:
                await run.io_bound(
                    add_connection,
                    user.org_id,
                    provider.value,
                    (name.value or "").strip() or "Boîte mail",
                    credentials,
                    criteria=criteria,
                )
            except MailError as error:
                message.set_text(str(error))
                return
            ui.navigate.reload()

        ui.button(t("Ajouter"), on_click=add)

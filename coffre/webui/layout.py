"""The frame of every signed-in page: header, navigation, language, log-out."""

from __future__ import annotations

from nicegui import app, ui

from coffre.webui.auth import SESSION_KEY, SessionUser, session_user
from coffre.webui.i18n import language, t
from coffre.webui.session import current_user, end_session


def signed_in(permission: str = "read") -> SessionUser | None:
    """The user, with the page frame drawn; None (and a redirect) when not allowed."""
    user = current_user()
    if user is None:
        ui.navigate.to("/connexion")
        return None
    if not user.may(permission):
        frame(user)
        ui.label("Vous n'avez pas accès à cette page.").classes("text-negative")
        return None
    frame(user)
    return user


def frame(user: SessionUser) -> None:
    ui.timer(SESSION_CHECK_SECONDS, _end_if_session_ended)
    with ui.header().classes("items-center justify-between"):
        with ui.row().classes("items-center gap-4"):
            ui.label("Coffre").classes("text-h6")
            ui.link(t("Tableau de bord"), "/").classes("text-white")
            ui.link(t("Documents"), "/documents").classes("text-white")
            if user.may("upload"):
                ui.link(t("Envoyer"), "/envoyer").classes("text-white")
            if user.may("invoice"):
                ui.link(t("Factures"), "/factures").classes("text-white")
            ui.link(t("Banque"), "/banque").classes("text-white")
            if user.may("admin"):
                ui.link(t("Boîtes mail"), "/boites-mail").classes("text-white")
            ui.link(t("Organisation"), "/organisation").classes("text-white")
            ui.link(t("Compte"), "/compte").classes("text-white")
        with ui.row().classes("items-center gap-2"):
            ui.label(f"{user.org_name} · {user.email}").classes("text-caption")
            ui.button("EN" if language() == "fr" else "FR", on_click=_switch_language).props(
                "flat color=white dense"
            )
            ui.button(t("Déconnexion"), on_click=_log_out).props("flat color=white")


SESSION_CHECK_SECONDS = 20


def _end_if_session_ended() -> None:
    """An open page stops working once its session has ended (expired, or logged out in
    another tab): its buttons must not act for someone who is no longer signed in."""
    if session_user(app.storage.user.get(SESSION_KEY), touch=False) is None:
        ui.navigate.to("/connexion")


def _switch_language() -> None:
    app.storage.user["lang"] = "en" if language() == "fr" else "fr"
    ui.navigate.reload()


def _log_out() -> None:
    end_session()
    ui.navigate.to("/connexion")

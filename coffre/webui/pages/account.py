"""Sign-up, log-in and password change."""

from __future__ import annotations

from nicegui import ui

from coffre.webui.auth import AuthError, SessionUser, change_password, log_in, sign_up
from coffre.webui.i18n import t
from coffre.webui.layout import signed_in
from coffre.webui.second_factor import (
    SecondFactorNeeded,
    complete_login,
    disable,
    enable,
    enabled,
    new_secret,
    provisioning_uri,
)
from coffre.webui.session import start_session


def _client_address() -> str:
    return ui.context.client.ip or "unknown"


@ui.page("/connexion", title="Coffre — connexion")
def login_page() -> None:
    with ui.card().classes("absolute-center w-96"):
        ui.label(t("Connexion")).classes("text-h5")
        email = ui.input(t("Adresse e-mail")).props("type=email autocomplete=username")
        email.classes("w-full")
        password = ui.input(t("Mot de passe"), password=True).props("autocomplete=current-password")
        password.classes("w-full")
        error = ui.label().classes("text-negative")

        code = ui.input(t("Code de l'application d'authentification")).props(
            "inputmode=numeric autocomplete=one-time-code"
        )
        code.classes("w-full").set_visibility(False)
        pending: dict[str, str] = {}

        def submit() -> None:
            try:
                if pending:
                    user = complete_login(pending["user_id"], code.value or "", _client_address())
                else:
                    user = log_in(email.value or "", password.value or "", _client_address())
            except SecondFactorNeeded as needed:
                pending["user_id"] = needed.user_id
                code.set_visibility(True)
                error.set_text("")
                return
            except AuthError as failure:
                error.set_text(str(failure))
                password.set_value("")
                code.set_value("")
                return
            start_session(user)
            ui.navigate.to("/")

        password.on("keydown.enter", submit)
        code.on("keydown.enter", submit)
        ui.button(t("Se connecter"), on_click=submit).classes("w-full")
        ui.link(t("Créer un compte"), "/inscription")


@ui.page("/inscription", title="Coffre — créer un compte")
def signup_page() -> None:
    with ui.card().classes("absolute-center w-96"):
        ui.label(t("Créer un compte")).classes("text-h5")
        org_name = ui.input(t("Nom de l'entreprise")).classes("w-full")
        siren = ui.input(t("SIREN")).props("inputmode=numeric").classes("w-full")
        email = ui.input(t("Adresse e-mail")).props("type=email autocomplete=username")
        email.classes("w-full")
        password = ui.input(t("Mot de passe"), password=True).props("autocomplete=new-password")
        password.classes("w-full")
        error = ui.label().classes("text-negative")

        def submit() -> None:
            try:
                user = sign_up(
                    org_name.value or "", siren.value or "", email.value or "",
                    password.value or "",
                )  # fmt: skip
            except AuthError as failure:
                error.set_text(str(failure))
                return
            start_session(user)
            ui.navigate.to("/")

        ui.button(t("Créer un compte"), on_click=submit).classes("w-full")
        ui.link(t("Connexion"), "/connexion")


@ui.page("/compte", title="Coffre — compte")
def account_page() -> None:
    user = signed_in()
    if user is None:
        return
    with ui.card().classes("w-96 q-ma-md"):
        ui.label(t("Changer le mot de passe")).classes("text-h6")
        current = ui.input(t("Mot de passe actuel"), password=True).classes("w-full")
        new = ui.input(t("Nouveau mot de passe"), password=True).classes("w-full")
        message = ui.label()

        def submit() -> None:
            try:
                change_password(user, current.value or "", new.value or "")
            except AuthError as failure:
                message.set_text(str(failure))
                message.classes(replace="text-negative")
                return
            current.set_value("")
            new.set_value("")
            message.set_text("Mot de passe changé.")
            message.classes(replace="text-positive")

        ui.button(t("Changer le mot de passe"), on_click=submit)
    _second_factor(user)


def _second_factor(user: SessionUser) -> None:
    with ui.card().classes("w-96 q-ma-md"):
        ui.label(t("Double authentification")).classes("text-h6")
        message = ui.label()
        if enabled(user):
            ui.label(t("Activée : un code est demandé à chaque connexion."))
            code = ui.input(t("Code actuel")).props("inputmode=numeric")

            def turn_off() -> None:
                try:
                    disable(user, code.value or "")
                except AuthError as failure:
                    message.set_text(str(failure))
                    return
                ui.navigate.reload()

            ui.button(t("Désactiver"), on_click=turn_off).props("flat color=negative")
            return
        secret = new_secret()
        ui.label(t("Ajoutez cette clé dans votre application (FreeOTP, Aegis…) :"))
        ui.label(secret).classes("text-mono").props("data-testid=totp-secret")
        ui.link(t("ou ouvrez ce lien sur votre téléphone"), provisioning_uri(secret, user.email))
        code = ui.input(t("Code affiché par l'application")).props("inputmode=numeric")

        def turn_on() -> None:
            try:
                enable(user, secret, code.value or "")
            except AuthError as failure:
                message.set_text(str(failure))
                return
            ui.navigate.reload()

        ui.button(t("Activer"), on_click=turn_on)

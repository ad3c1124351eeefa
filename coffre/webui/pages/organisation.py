"""The organisation page: users and roles, data export, account deletion (owners)."""

from __future__ import annotations

from nicegui import run, ui

from coffre.models.organization import Role
from coffre.webui.auth import AuthError, SessionUser
from coffre.webui.i18n import t
from coffre.webui.layout import signed_in
from coffre.webui.members import add_member, list_members, remove_member, set_role
from coffre.webui.session import end_session

DELETION_WARNING = (
    "Les accès bancaires (Powens) et les boîtes mail sont fermés chez les fournisseurs, "
    "la clé de chiffrement est détruite : les documents deviennent illisibles partout, "
    "sauvegardes comprises. Exportez vos données d'abord."
)
ROLE_LABELS = {
    Role.OWNER.value: "Propriétaire",
    Role.ACCOUNTANT.value: "Comptable",
    Role.MEMBER.value: "Membre",
}


@ui.page("/organisation", title="Coffre — organisation")
def organisation_page() -> None:
    user = signed_in("read")
    if user is None:
        return
    with ui.column().classes("q-pa-md gap-6 max-w-3xl"):
        if user.may("export"):
            with ui.card().classes("w-full"):
                ui.label(t("Export des données")).classes("text-h6")
                ui.label(t("Une archive zip de tous les documents scellés et un index CSV."))
                ui.link(t("Télécharger l'export"), "/export").props("data-testid=export")
        if user.may("admin"):
            _members(user)
            _deletion(user)


def _members(owner: SessionUser) -> None:
    with ui.card().classes("w-full"):
        ui.label(t("Utilisateurs")).classes("text-h6")
        rows = ui.column().classes("w-full")

        def refresh() -> None:
            rows.clear()
            with rows:
                for member in list_members(owner.org_id):
                    with ui.row().classes("items-center gap-4"):
                        ui.label(member.email).classes("w-64")
                        ui.select(
                            ROLE_LABELS,
                            value=member.role.value,
                            on_change=lambda e, m=member.id: change(m, e.value),
                        ).classes("w-40")
                        if member.id != owner.user_id:
                            ui.button(t("Retirer"), on_click=lambda m=member.id: remove(m)).props(
                                "flat color=negative"
                            )

        def change(member_id: str, role: str) -> None:
            try:
                set_role(owner, member_id, Role(role))
            except AuthError as error:
                ui.notify(str(error), type="negative")
            refresh()

        def remove(member_id: str) -> None:
            try:
                remove_member(owner, member_id)
            except AuthError as error:
                ui.notify(str(error), type="negative")
            refresh()

        refresh()
        with ui.row().classes("items-end gap-2"):
            email = ui.input(t("Adresse e-mail")).props("type=email")
            password = ui.input(t("Mot de passe provisoire"), password=True)
            role = ui.select(ROLE_LABELS, value=Role.MEMBER.value, label=t("Rôle")).classes("w-40")

            def add() -> None:
                try:
                    add_member(owner, email.value or "", password.value or "", Role(role.value))
                except AuthError as error:
                    ui.notify(str(error), type="negative")
                    return
                email.set_value("")
                password.set_value("")
                refresh()

            ui.button(t("Ajouter"), on_click=add)


def _deletion(owner: SessionUser) -> None:
    with ui.card().classes("w-full"):
        ui.label(t("Supprimer le compte")).classes("text-h6 text-negative")
        ui.label(t(DELETION_WARNING))
        confirm = ui.input(t("Tapez le nom de l'entreprise pour confirmer")).classes("w-96")

        async def delete() -> None:
            if (confirm.value or "").strip() != owner.org_name:
                ui.notify("Le nom ne correspond pas.", type="negative")
                return
            from coffre.flows.account import delete_account

            result = await run.io_bound(
                delete_account, owner.org_id, requested_by=f"user:{owner.user_id}"
            )
            if result is None:
                return
            end_session()
            ui.navigate.to("/connexion")

        ui.button(t("Supprimer définitivement"), on_click=delete).props("color=negative")

"""The organisation page in a browser: roles, export, and deleting the account."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from coffre.models import Document, Organization, session_scope
from tests.portal import Portal, close_context
from tests.test_portal import PASSWORD, _account, _log_in, _sealed_document
from tests.test_portal import portal as portal

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(300)]


def _signed_in(chromium: Any, portal: Portal, email: str, password: str = PASSWORD) -> Any:
    context = chromium.new_context(ignore_https_errors=True, accept_downloads=True)
    page = context.new_page()
    _log_in(page, portal, email, password)
    page.wait_for_url(portal.url + "/")
    return page


def test_owner_adds_an_accountant_who_may_export_but_not_upload(
    portal: Portal, chromium: Any, tmp_path: Path
) -> None:
    owner = _account("Boulangerie Martin", "732829320", "alice@boulangerie.example")
    _sealed_document(owner.org_id, tmp_path, "facture-farine")
    page = _signed_in(chromium, portal, "alice@boulangerie.example")
    page.goto(portal.url + "/organisation")
    page.get_by_label("Adresse e-mail").fill("cabinet@compta.example")
    page.get_by_label("Mot de passe provisoire").fill("provisoire et assez long")
    page.get_by_label("Rôle").click()
    page.get_by_role("option", name="Comptable").click()
    page.get_by_role("button", name="Ajouter").click()
    page.get_by_text("cabinet@compta.example").wait_for()
    close_context(page.context)

    accountant = _signed_in(chromium, portal, "cabinet@compta.example", "provisoire et assez long")
    assert accountant.get_by_role("link", name="Envoyer").count() == 0
    accountant.goto(portal.url + "/envoyer")
    accountant.get_by_text("Vous n'avez pas accès à cette page.").wait_for()
    accountant.goto(portal.url + "/organisation")
    assert accountant.get_by_text("Supprimer le compte").count() == 0
    with accountant.expect_download() as download_info:
        accountant.get_by_test_id("export").click()
    with zipfile.ZipFile(download_info.value.path()) as export:
        names = export.namelist()
        index = list(csv.DictReader(io.StringIO(export.read("index.csv").decode("utf-8-sig"))))
        [archive] = [name for name in names if name.startswith("documents/")]
        assert export.read(archive).startswith(b"%PDF")
    assert [row["filename"] for row in index] == ["facture-farine.pdf"]
    assert index[0]["status"] == "SEALED" and index[0]["file_in_export"] == archive
    close_context(accountant.context)


def test_members_may_not_export(portal: Portal, chromium: Any) -> None:
    from coffre.models.organization import Role
    from coffre.webui.members import add_member

    owner = _account("Garage Dupont", "732829320", "paul@garage.example")
    add_member(owner, "apprenti@garage.example", "un mot de passe correct", Role.MEMBER)
    page = _signed_in(chromium, portal, "apprenti@garage.example", "un mot de passe correct")
    assert page.request.get(portal.url + "/export").status == 403
    close_context(page.context)


def test_owner_deletes_the_account_from_the_portal(
    portal: Portal, chromium: Any, tmp_path: Path
) -> None:
    owner = _account("Fleuriste Lenoir", "552100554", "rose@fleuriste.example")
    _sealed_document(owner.org_id, tmp_path, "facture-roses")
    page = _signed_in(chromium, portal, "rose@fleuriste.example")
    page.goto(portal.url + "/organisation")
    page.get_by_label("Tapez le nom de l'entreprise pour confirmer").fill("Fleuriste Lenoir")
    page.get_by_role("button", name="Supprimer définitivement").click()
    page.wait_for_url(portal.url + "/connexion", timeout=120_000)
    _log_in(page, portal, "rose@fleuriste.example")
    page.get_by_text("Adresse e-mail ou mot de passe incorrect.").wait_for()
    close_context(page.context)
    with session_scope() as session:
        org = session.get(Organization, owner.org_id)
        assert org is not None and org.deleted_at is not None
        left = session.exec(select(Document).where(Document.org_id == owner.org_id)).all()
        assert left == []

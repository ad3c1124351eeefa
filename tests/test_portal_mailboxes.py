"""The mailboxes page in a browser: a Nylas grant added, listed, then deleted (revoked)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coffre.runtime import reset_runtime
from tests.fake_nylas import FakeNylas
from tests.portal import Portal, close_context, start_portal
from tests.test_cli import cli_env
from tests.test_portal import _account, _log_in

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(300)]


@pytest.fixture
def nylas_portal(
    tmp_path: Path, seal_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Portal, FakeNylas]]:
    home = tmp_path / "var"
    with FakeNylas() as nylas:
        for name, value in {
            "COFFRE_HOME": str(home),
            "COFFRE_NYLAS_API_KEY": nylas.api_key,
            "COFFRE_NYLAS_API_URI": nylas.url,
            "COFFRE_MAIL_RETRY_MAX_SECONDS": "0.05",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("COFFRE_DATABASE_URL", raising=False)
        reset_runtime()
        from coffre.bootstrap import prepare_home

        prepare_home()
        for portal in start_portal(home, cli_env(home)):
            yield portal, nylas
    reset_runtime()


def test_owner_adds_and_deletes_a_nylas_mailbox(
    nylas_portal: tuple[Portal, FakeNylas], chromium: Any
) -> None:
    portal, nylas = nylas_portal
    _account("Boulangerie Martin", "732829320", "alice@boulangerie.example")
    grant = nylas.add_grant("compta@boulangerie.example")
    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    _log_in(page, portal, "alice@boulangerie.example")
    page.wait_for_url(portal.url + "/")
    page.goto(portal.url + "/boites-mail")
    page.get_by_text("Aucune boîte mail.").wait_for()
    page.get_by_text("Nylas", exact=True).click()
    page.get_by_label("Nom", exact=True).fill("Factures")
    page.get_by_label("Expéditeurs (adresses ou domaines, séparés par des virgules)").fill(
        "edf.fr, factures@orange.fr"
    )
    page.get_by_label("Identifiant de l'autorisation Nylas (grant)").fill(grant)
    page.get_by_role("button", name="Ajouter").click()
    page.get_by_text("Factures (nylas)").wait_for()
    page.get_by_text("Expéditeurs : edf.fr, factures@orange.fr").wait_for()
    assert grant not in page.content()  # the grant id is never shown back

    page.get_by_role("button", name="Supprimer").click()
    page.get_by_text("Aucune boîte mail.").wait_for()
    assert nylas.deleted_grants == [grant]
    close_context(context)

"""The customer portal: HTTPS only, strict headers, accounts, documents, uploads, the
public seal check — through HTTP and in a real browser — and tenant isolation."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from coffre.runtime import get_vault, reset_runtime
from tests import documents
from tests.portal import Portal, close_context, start_portal
from tests.test_cli import cli_env

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(300)]

PASSWORD = "correct horse battery staple"


def _portal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict[str, str]
) -> Iterator[Portal]:
    """The portal on its own port; this test process shares its home (same store)."""
    home = tmp_path / "var"
    monkeypatch.setenv("COFFRE_HOME", str(home))
    monkeypatch.delenv("COFFRE_DATABASE_URL", raising=False)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    reset_runtime()
    from coffre.bootstrap import prepare_home

    prepare_home()
    yield from start_portal(home, cli_env(home) | extra)
    reset_runtime()


@pytest.fixture
def portal(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    seal_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Portal]:
    """The portal; a test may give it settings (``indirect`` parametrization)."""
    yield from _portal(tmp_path, monkeypatch, getattr(request, "param", {}))


def _account(name: str, siren: str, email: str) -> Any:
    from coffre.webui.auth import sign_up

    return sign_up(name, siren, email, PASSWORD)


def _sealed_document(org_id: str, tmp_path: Path, label: str) -> dict[str, Any]:
    from coffre.flows.capture import capture

    path = tmp_path / f"{label}.pdf"
    path.write_bytes(documents.text_pdf([f"Facture {label}", "Total TTC 18,00 EUR"]))
    [outcome] = capture(org=org_id, paths=[str(path)])
    assert outcome["status"] == "SEALED", outcome
    return dict(outcome)


def test_https_only_with_strict_headers_and_security_txt(portal: Portal) -> None:
    answer = portal.get("/connexion")
    assert answer.status_code == 200
    headers = answer.headers
    assert headers["strict-transport-security"].startswith("max-age=")
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    cookie = headers["set-cookie"].lower()
    assert "coffre_session=" in cookie and "secure" in cookie and "httponly" in cookie

    security = portal.get("/.well-known/security.txt")
    assert security.status_code == 200 and "Contact: mailto:" in security.text
    assert re.search(r"^Expires: \d{4}-\d\d-\d\dT", security.text, re.MULTILINE)

    with pytest.raises(requests.RequestException):
        requests.get(portal.url.replace("https://", "http://") + "/connexion", timeout=10)
    assert portal.get("/fichiers/0123/archive").status_code == 401


def _log_in(page: Any, portal: Portal, email: str, password: str = PASSWORD) -> None:
    page.goto(portal.url + "/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def test_sign_up_upload_download_and_log_out_in_a_browser(
    portal: Portal, chromium: Any, tmp_path: Path
) -> None:
    context = chromium.new_context(ignore_https_errors=True, accept_downloads=True)
    page = context.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)

    page.goto(portal.url + "/inscription")
    page.get_by_label("Nom de l'entreprise").fill("Boulangerie Martin")
    page.get_by_label("SIREN").fill("732 829 320")
    page.get_by_label("Adresse e-mail").fill("marie@boulangerie.example")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer un compte").click()
    page.wait_for_url(portal.url + "/")
    page.get_by_test_id("figure-month").wait_for()

    receipt = tmp_path / "ticket-boulangerie.pdf"
    receipt.write_bytes(documents.text_pdf(["Facture papeterie", "Total TTC 12,00 EUR"]))
    page.goto(portal.url + "/envoyer")
    page.locator("input[type=file]").set_input_files(str(receipt))
    page.get_by_test_id("outcome-SEALED").wait_for(timeout=120_000)

    page.goto(portal.url + "/documents")
    page.get_by_text("ticket-boulangerie.pdf").wait_for()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Archive scellée").click()
    archive = Path(download_info.value.path()).read_bytes()
    assert archive.startswith(b"%PDF")

    from coffre.tasks.pki import load_certificates
    from coffre.tasks.sealing import seal_config
    from coffre.tasks.verify import verify_pdf

    roots = load_certificates(list(seal_config().trust_root_paths))
    with ThreadPoolExecutor(1) as pool:  # Playwright's loop owns this thread
        report = pool.submit(verify_pdf, archive, roots).result()
    assert report.ok, report.reasons

    page.goto(portal.url + "/")
    page.get_by_role("button", name="EN").click()  # English on request
    page.get_by_text("Documents this month").wait_for()
    page.get_by_role("button", name="FR").click()
    page.get_by_text("Documents ce mois-ci").wait_for()

    page.get_by_role("button", name="Déconnexion").click()
    page.wait_for_url(portal.url + "/connexion")
    page.goto(portal.url + "/documents")
    page.wait_for_url(portal.url + "/connexion")
    assert blocked == [], blocked  # NiceGUI works under the Content-Security-Policy
    close_context(context)


def test_one_organisation_never_sees_another(portal: Portal, chromium: Any, tmp_path: Path) -> None:
    alice = _account("Boulangerie Martin", "732829320", "alice@boulangerie.example")
    _account("Fleuriste Lenoir", "552100554", "bob@fleuriste.example")
    secret = _sealed_document(alice.org_id, tmp_path, "confidentiel-alice")

    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    _log_in(page, portal, "bob@fleuriste.example")
    page.wait_for_url(portal.url + "/")
    for which in ("archive", "original"):
        answer = page.request.get(f"{portal.url}/fichiers/{secret['document_id']}/{which}")
        assert answer.status == 404, which  # the same as a document that does not exist
    export = page.request.get(f"{portal.url}/export")  # an owner's export: their own only
    assert export.status == 200
    with zipfile.ZipFile(io.BytesIO(export.body())) as archive:
        assert [n for n in archive.namelist() if n.startswith("documents/")] == []
        assert "confidentiel" not in archive.read("index.csv").decode("utf-8-sig")
    page.goto(portal.url + "/documents")
    page.get_by_label("Texte").fill("confidentiel")
    page.get_by_test_id("search").click()
    page.get_by_text("Aucun document.").wait_for()
    assert page.get_by_text("confidentiel-alice").count() == 0
    close_context(context)

    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    _log_in(page, portal, "alice@boulangerie.example")
    page.wait_for_url(portal.url + "/")
    answer = page.request.get(f"{portal.url}/fichiers/{secret['document_id']}/archive")
    assert answer.status == 200 and answer.body().startswith(b"%PDF")
    close_context(context)


def test_logins_are_throttled_and_sessions_expire(
    portal: Portal, chromium: Any, tmp_path: Path
) -> None:
    _account("Garage Dupont", "732829320", "paul@garage.example")
    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    for _ in range(5):
        _log_in(page, portal, "paul@garage.example", "not the password!")
        page.get_by_text("Adresse e-mail ou mot de passe incorrect.").wait_for()
    _log_in(page, portal, "paul@garage.example")  # the right one, too late
    page.get_by_text("Trop de tentatives").wait_for()
    close_context(context)


@pytest.mark.parametrize(
    "portal", [{"COFFRE_PORTAL_SESSION_IDLE_MINUTES": "0.1"}], ids=["idle-6s"], indirect=True
)
def test_sessions_expire_when_idle(portal: Portal, chromium: Any) -> None:
    _account("Garage Dupont", "732829320", "paul@garage.example")
    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    _log_in(page, portal, "paul@garage.example")
    page.wait_for_url(portal.url + "/")
    # Idle timeout: 0.1 minute here. The open page notices by itself…
    page.wait_for_url(portal.url + "/connexion", timeout=40_000)
    # …and a new request is refused too.
    page.goto(portal.url + "/documents")
    page.wait_for_url(portal.url + "/connexion")
    close_context(context)


@pytest.mark.parametrize(
    "portal", [{"COFFRE_PORTAL_VERIFICATIONS_PER_HOUR": "2"}], ids=["two-an-hour"], indirect=True
)
def test_public_page_checks_a_seal(portal: Portal, chromium: Any, tmp_path: Path) -> None:
    owner = _account("Boulangerie Martin", "732829320", "alice@boulangerie.example")
    outcome = _sealed_document(owner.org_id, tmp_path, "facture-publique")
    from coffre.models import get_document, session_scope

    with session_scope() as session:
        document = get_document(session, owner.org_id, outcome["document_id"])
    sealed = get_vault().get(owner.org_id, document.archive_key or "")
    (tmp_path / "sealed.pdf").write_bytes(sealed)
    tampered = bytearray(sealed)
    tampered[len(tampered) // 3] ^= 0x01
    (tmp_path / "tampered.pdf").write_bytes(bytes(tampered))

    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(portal.url + "/verifier")  # no login
    page.locator("input[type=file]").set_input_files(str(tmp_path / "sealed.pdf"))
    page.get_by_test_id("verdict-valid").wait_for(timeout=60_000)
    page.get_by_text("Scellé par").wait_for()
    page.goto(portal.url + "/verifier")
    page.locator("input[type=file]").set_input_files(str(tmp_path / "tampered.pdf"))
    page.get_by_test_id("verdict-invalid").wait_for(timeout=60_000)
    page.goto(portal.url + "/verifier")  # a third check within the hour
    page.locator("input[type=file]").set_input_files(str(tmp_path / "sealed.pdf"))
    page.get_by_test_id("too-soon").wait_for(timeout=60_000)
    assert "Réessayez dans 60 minute(s)" in page.get_by_test_id("too-soon").inner_text()
    close_context(context)


def test_second_factor_turned_on_in_the_browser(portal: Portal, chromium: Any) -> None:
    import pyotp

    _account("Garage Dupont", "732829320", "paul@garage.example")
    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    _log_in(page, portal, "paul@garage.example")
    page.wait_for_url(portal.url + "/")
    page.goto(portal.url + "/compte")
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    totp = pyotp.TOTP(secret)
    if time.time() % 30 > 20:
        time.sleep(10.5)  # keep clear of a step's edge: both codes must stay valid
    step = int(time.time()) // 30
    page.get_by_label("Code affiché par l'application").fill(totp.at((step - 1) * 30))
    page.get_by_role("button", name="Activer").click()
    page.get_by_text("Activée").wait_for()
    page.get_by_role("button", name="Déconnexion").click()
    page.wait_for_url(portal.url + "/connexion")

    _log_in(page, portal, "paul@garage.example")
    code = page.get_by_label("Code de l'application d'authentification")
    code.wait_for()
    assert page.url == portal.url + "/connexion"  # not in without the code
    code.fill(totp.at(step * 30))
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(portal.url + "/")
    close_context(context)

"""`make run`'s process: Prefect server + served deployments + inbox, stopped by Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests import documents


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return bytes(response.read())
    except OSError:
        return None


def _answers_tls(url: str, certificate: Path) -> bool:
    if not certificate.exists():
        return False
    context = ssl.create_default_context(cafile=str(certificate))
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_embedded_run_captures_the_inbox_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    home = tmp_path / "var"
    env = {
        **os.environ,
        "COFFRE_HOME": str(home),
        "COFFRE_PREFECT_PORT": str(_free_port()),
        "COFFRE_TSA_PORT": str(_free_port()),
        "COFFRE_WEBHOOK_PORT": str(_free_port()),
        "COFFRE_PORTAL_PORT": str(_free_port()),
        "PREFECT_HOME": str(home / "prefect"),
    }
    env.pop("PREFECT_API_URL", None)
    created = subprocess.run(
        [sys.executable, "-m", "coffre.cli", "org", "create", "Fleurs", "--siren", "732829320"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    org = json.loads(created.stdout)
    log = (tmp_path / "run.log").open("w+")
    service = subprocess.Popen(
        [sys.executable, "-m", "coffre.serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _run_checks(env, home, org, Path(log.name))
    except AssertionError:
        for name in ("runner.log", "prefect-server.log"):
            path = home / "logs" / name
            if path.exists():
                print(f"--- {name}\n{path.read_text()[-4000:]}")
        print(f"--- run.log\n{Path(log.name).read_text()[-4000:]}")
        raise
    finally:
        service.send_signal(signal.SIGINT)
        try:
            service.wait(timeout=60)
        finally:
            if service.poll() is None:
                os.killpg(service.pid, signal.SIGKILL)
    assert service.returncode == 0
    assert "Coffre stopped." in Path(log.name).read_text()
    leftovers = subprocess.run(
        ["pgrep", "-f", f"--port {env['COFFRE_PREFECT_PORT']}"], capture_output=True, text=True
    )
    assert leftovers.stdout.strip() == ""


def _run_checks(env: dict[str, str], home: Path, org: dict[str, str], log: Path) -> None:
    """Welcome printed; a file dropped in the inbox becomes a SEALED document."""
    _wait_for(lambda: "Press Ctrl-C" in log.read_text(), 180, "the welcome")
    output = log.read_text()
    assert f"Prefect dashboard : http://127.0.0.1:{env['COFFRE_PREFECT_PORT']}" in output
    webhooks = f"http://127.0.0.1:{env['COFFRE_WEBHOOK_PORT']}/webhooks/nylas"
    assert f"Webhooks          : {webhooks}" in output
    _wait_for(lambda: _answers(f"{webhooks}?challenge=abc") == b"abc", 30, "the webhook app")
    portal = f"https://127.0.0.1:{env['COFFRE_PORTAL_PORT']}/"
    assert f"Portal            : {portal}" in output
    certificate = home / "pki" / "portal" / "portal.pem"
    _wait_for(lambda: _answers_tls(portal + "healthz", certificate), 60, "the portal")

    inbox = home / "inbox" / "732829320"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "facture.pdf.part").write_bytes(documents.text_pdf(documents.INVOICE_LINES))
    (inbox / "facture.pdf.part").rename(inbox / "facture.pdf")
    _wait_for(lambda: not (inbox / "facture.pdf").exists(), 180, "the inbox capture")

    listed = subprocess.run(
        [sys.executable, "-m", "coffre.cli", "doc", "list", "--org", org["id"]],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    documents_listed = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(d["filename"], d["status"], d["source"]) for d in documents_listed] == [
        ("facture.pdf", "SEALED", "inbox")
    ]

"""The portal as customers reach it: its own process over HTTPS, and a real Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

CHROMIUM = os.environ.get("COFFRE_TEST_CHROMIUM", "/usr/bin/chromium")


@dataclass
class Portal:
    url: str
    cert: Path
    home: Path
    env: dict[str, str] = field(repr=False)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, verify=str(self.cert), timeout=30, **kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_portal(home: Path, env: dict[str, str]) -> Iterator[Portal]:
    """Run `python -m coffre.webui.portal` until the test is done."""
    port = _free_port()
    env = {**env, "COFFRE_PORTAL_HOST": "127.0.0.1", "COFFRE_PORTAL_PORT": str(port)}
    log = (home.parent / "portal.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "coffre.webui.portal"], env=env, stdout=log, stderr=log
    )
    cert = home / "pki" / "portal" / "portal.pem"
    portal = Portal(f"https://127.0.0.1:{port}", cert, home, env)
    deadline = time.monotonic() + 90
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    "the portal stopped: " + (home.parent / "portal.log").read_text()[-3000:]
                )
            if cert.exists():
                try:
                    if portal.get("/healthz").status_code == 200:
                        break
                except requests.RequestException:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("the portal did not answer within 90 s")
            time.sleep(0.2)
        yield portal
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright.

    Per module, not per session: Playwright's sync API keeps an event loop running in
    the main thread, which would break every later test that calls asyncio.run().
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs the chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


def close_context(context: Any) -> None:
    """Leave every page first: closing a context while a NiceGUI page reloads can hang."""
    for page in context.pages:
        page.goto("about:blank")
    context.close()

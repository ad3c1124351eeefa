"""`make run`: the embedded Coffre on one machine.

Starts a Prefect server on SQLite under COFFRE_HOME and a process that serves every
deployment, watches the inbox, prints the URLs, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from coffre.bootstrap import configure_prefect_home, prepare_home
from coffre.settings import Settings, get_settings
from coffre.tasks.sealing import local_tsa_url


def start_child(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """A child in its own process group, so that it can be stopped with everything it runs."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_until_healthy(api_url: str, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not answer at {api_url} within {timeout:.0f} s")


def wait_for_deployments(runner: subprocess.Popen[bytes], timeout: float) -> None:
    """The runner registers the deployments when it starts; wait until it has."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    from coffre.flows.deployments import DEPLOYMENT_NAMES

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            if runner.poll() is not None:
                raise RuntimeError(f"the flow runner exited with code {runner.returncode}")
            try:
                for name in DEPLOYMENT_NAMES:
                    client.read_deployment_by_name(name)
                return
            except ObjectNotFound:
                time.sleep(0.5)
    raise RuntimeError(f"the deployments were not registered within {timeout:.0f} s")


def stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Supervise the Prefect server and the flow runner; Ctrl-C or SIGTERM stops both."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    settings = get_settings()
    configure_prefect_home(settings)
    home = prepare_home(settings)
    base_url = f"http://{settings.prefect_host}:{settings.prefect_port}"
    api_url = f"{base_url}/api"
    os.environ["PREFECT_API_URL"] = api_url
    logs = home / "logs"
    children: list[subprocess.Popen[bytes]] = []
    stop_event = threading.Event()
    exit_code = 0
    try:
        tsa = _start_local_tsa(settings, logs)
        if tsa is not None:
            children.append(tsa)
        server = start_child(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                settings.prefect_host,
                "--port",
                str(settings.prefect_port),
            ],
            logs / "prefect-server.log",
        )
        children.append(server)
        wait_until_healthy(api_url, server, timeout=120)
        ensure_concurrency_limits(settings)
        runner = start_child(
            [sys.executable, "-m", "coffre.flows.deployments"], logs / "runner.log"
        )
        children.append(runner)
        wait_for_deployments(runner, timeout=180)
        children.append(
            start_child([sys.executable, "-m", "coffre.webui.webhook_app"], logs / "webhooks.log")
        )
        children.append(
            start_child([sys.executable, "-m", "coffre.webui.portal"], logs / "portal.log")
        )
        _start_inbox_watcher(settings, stop_event)
        print(  # noqa: T201 - the operator's welcome
            f"\nCoffre is running (home: {home})\n"
            f"  Portal            : https://{settings.portal_host}:{settings.portal_port}/"
            " (self-signed certificate unless configured)\n"
            f"  Prefect dashboard : {base_url}\n"
            f"  Prefect API       : {api_url}\n"
            f"  Inbox             : {settings.inbox_path}/<SIREN or organisation id>/\n"
            f"  Timestamps (TSA)  : {settings.tsa_url or local_tsa_url(settings)}\n"
            f"  Webhooks          : http://{settings.webhook_host}:{settings.webhook_port}"
            "/webhooks/nylas\n"
            f"  Logs              : {logs}/\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(1)
        exit_code = 1
        print("A Coffre process stopped unexpectedly; see the logs.", flush=True)  # noqa: T201
    except KeyboardInterrupt:
        pass
    finally:
        stop_event.set()
        for child in reversed(children):
            stop(child)
        print("Coffre stopped.", flush=True)  # noqa: T201
    return exit_code


def _start_local_tsa(settings: Settings, logs: Path) -> subprocess.Popen[bytes] | None:
    """The embedded default's RFC 3161 TSA, and its seal key in SoftHSM2 (made once)."""
    if settings.seal_block or settings.seal_module_path:
        return None  # production: a real HSM, and a TSA given by COFFRE_TSA_URL or the block
    from coffre.tasks.embedded_seal import local_tsa_command, prepare_embedded_seal

    embedded = prepare_embedded_seal(settings.resolved_home, settings.seal_organisation)
    if settings.tsa_url:
        return None
    tsa = start_child(
        local_tsa_command(embedded, settings.tsa_port),
        logs / "tsa.log",
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if tsa.poll() is not None:
            raise RuntimeError(f"the local TSA exited with code {tsa.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", settings.tsa_port), timeout=1):
                return tsa
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the local TSA did not start")


def ensure_concurrency_limits(settings: Settings) -> None:
    """The HSM's global concurrency limit (bounds parallel signing across workers), and
    Coffre's block types, so that operators find them in the dashboard."""
    from prefect import get_client

    from coffre.blocks.backup import BackupIdentity, BackupRepository
    from coffre.blocks.bank import PowensApp
    from coffre.blocks.mail import NylasApp
    from coffre.blocks.seal import SealHsm
    from coffre.blocks.storage import MasterKey, ObjectStorage

    for block_type in (
        SealHsm,
        ObjectStorage,
        MasterKey,
        NylasApp,
        PowensApp,
        BackupRepository,
        BackupIdentity,
    ):
        block_type.register_type_and_schema()

    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(
            f"hsm-{settings.seal_token_label}", settings.seal_concurrency
        )


def _start_inbox_watcher(settings: Settings, stop_event: threading.Event) -> None:
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    from coffre.inbox import watch_inbox

    def capture_via_api(org: str, paths: list[str]) -> bool:
        """Run the capture deployment, so that inbox runs show in the dashboard."""
        run: FlowRun = run_deployment(  # type: ignore[assignment]
            "capture/capture",
            parameters={"org": org, "paths": paths, "source": "inbox"},
            timeout=None,
        )
        return bool(run.state and run.state.is_completed())

    threading.Thread(
        target=watch_inbox,
        args=(settings.inbox_path, capture_via_api, stop_event, settings.max_upload_bytes),
        name="inbox-watcher",
        daemon=True,
    ).start()


if __name__ == "__main__":
    sys.exit(main())

"""`make run`: the embedded Coffre on one machine.

Starts a Prefect server on SQLite under COFFRE_HOME, serves every deployment from this
process, watches the inbox, prints the URLs, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from coffre.bootstrap import configure_prefect_home, prepare_home
from coffre.settings import get_settings


def start_prefect_server(host: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """Prefect's API and dashboard, on SQLite under PREFECT_HOME."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
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


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def main() -> None:
    settings = get_settings()
    configure_prefect_home(settings)
    home = prepare_home(settings)
    base_url = f"http://{settings.prefect_host}:{settings.prefect_port}"
    api_url = f"{base_url}/api"
    os.environ["PREFECT_API_URL"] = api_url
    server = start_prefect_server(
        settings.prefect_host, settings.prefect_port, home / "logs" / "prefect-server.log"
    )
    stop_event = threading.Event()
    try:
        wait_until_healthy(api_url, server, timeout=120)

        from prefect import serve
        from prefect.client.schemas.objects import FlowRun
        from prefect.deployments import run_deployment

        from coffre.flows.deployments import embedded_deployments
        from coffre.inbox import watch_inbox

        def capture_via_api(org: str, paths: list[str]) -> bool:
            """Run the capture deployment, so that inbox runs show in the dashboard."""
            run: FlowRun = run_deployment(  # type: ignore[assignment]
                "capture/capture",
                parameters={"org": org, "paths": paths, "source": "inbox"},
                timeout=None,
            )
            return bool(run.state and run.state.is_completed())

        watcher = threading.Thread(
            target=watch_inbox,
            args=(settings.inbox_path, capture_via_api, stop_event, settings.max_upload_bytes),
            name="inbox-watcher",
            daemon=True,
        )
        watcher.start()
        print(  # noqa: T201
            f"\nCoffre is running (home: {home})\n"
            f"  Prefect dashboard : {base_url}\n"
            f"  Prefect API       : {api_url}\n"
            f"  Inbox             : {settings.inbox_path}/<SIREN or organisation id>/\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        serve(*embedded_deployments(), print_starting_message=False)
    except KeyboardInterrupt:
        pass
    finally:
        stop_event.set()
        stop(server)
        print("Coffre stopped.", flush=True)  # noqa: T201


if __name__ == "__main__":
    main()

"""The deployments `make run` serves from its own process (prefect.yaml is for workers)."""

from __future__ import annotations

from typing import Any, cast

from prefect import Flow
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from coffre.flows.capture import capture, capture_folder
from coffre.flows.mail import fetch_mail, fetch_mail_sweep
from coffre.flows.seal import renew_timestamps, seal_pending
from coffre.settings import get_settings

DEPLOYMENT_NAMES = (
    "capture/capture",
    "capture-folder/capture-folder",
    "seal-pending/seal-pending",
    "renew-timestamps/renew-timestamps",
    "fetch-mail/fetch-mail",
    "fetch-mail-sweep/fetch-mail-sweep",
)
TIMEZONE = "Europe/Paris"


def _deployment(flow: Flow[Any, Any], description: str, **options: Any) -> RunnerDeployment:
    """A deployment named after its flow."""
    return cast(
        RunnerDeployment, flow.to_deployment(name=flow.name, description=description, **options)
    )


def embedded_deployments() -> list[RunnerDeployment]:
    return [
        _deployment(
            capture,
            "Capture files on this machine: originals kept, PDF/A copies made.",
            tags=["capture"],
        ),
        _deployment(capture_folder, "Capture every file of a folder.", tags=["capture"]),
        _deployment(
            seal_pending,
            "Seal documents left NORMALIZED (HSM or TSA outages).",
            schedule=Cron("*/10 * * * *", timezone=TIMEZONE),
            tags=["seal"],
        ),
        _deployment(
            renew_timestamps,
            "Add fresh archive timestamps before their certificates expire.",
            schedule=Cron("15 3 * * *", timezone=TIMEZONE),
            tags=["seal"],
        ),
        _deployment(
            fetch_mail,
            "Fetch one mail connection's new supplier invoices (webhooks trigger it).",
            tags=["mail"],
        ),
        _deployment(
            fetch_mail_sweep,
            "Fetch every active mail connection.",
            schedule=Cron(get_settings().mail_sweep_cron, timezone=TIMEZONE),
            tags=["mail"],
        ),
    ]


def serve_embedded() -> None:
    """Serve the deployments from this process until it is stopped (SIGTERM or Ctrl-C)."""
    from prefect import serve

    serve(*embedded_deployments(), print_starting_message=False)


if __name__ == "__main__":
    serve_embedded()

"""The deployments `make run` serves from its own process (prefect.yaml is for workers)."""

from __future__ import annotations

from typing import cast

from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from coffre.flows.capture import capture, capture_folder
from coffre.flows.seal import renew_timestamps, seal_pending

DEPLOYMENT_NAMES = (
    "capture/capture",
    "capture-folder/capture-folder",
    "seal-pending/seal-pending",
    "renew-timestamps/renew-timestamps",
)
TIMEZONE = "Europe/Paris"


def embedded_deployments() -> list[RunnerDeployment]:
    return [
        cast(
            RunnerDeployment,
            capture.to_deployment(
                name="capture",
                description="Capture files on this machine: originals kept, PDF/A copies made.",
                tags=["capture"],
            ),
        ),
        cast(
            RunnerDeployment,
            capture_folder.to_deployment(
                name="capture-folder",
                description="Capture every file of a folder.",
                tags=["capture"],
            ),
        ),
        cast(
            RunnerDeployment,
            seal_pending.to_deployment(
                name="seal-pending",
                description="Seal documents left NORMALIZED (HSM or TSA outages).",
                schedule=Cron("*/10 * * * *", timezone=TIMEZONE),
                tags=["seal"],
            ),
        ),
        cast(
            RunnerDeployment,
            renew_timestamps.to_deployment(
                name="renew-timestamps",
                description="Add fresh archive timestamps before their certificates expire.",
                schedule=Cron("15 3 * * *", timezone=TIMEZONE),
                tags=["seal"],
            ),
        ),
    ]


def serve_embedded() -> None:
    """Serve the deployments from this process until it is stopped (SIGTERM or Ctrl-C)."""
    from prefect import serve

    serve(*embedded_deployments(), print_starting_message=False)


if __name__ == "__main__":
    serve_embedded()

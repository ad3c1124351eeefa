"""The deployments `make run` serves from its own process (prefect.yaml is for workers)."""

from __future__ import annotations

from typing import cast

from prefect.deployments.runner import RunnerDeployment

from coffre.flows.capture import capture, capture_folder

DEPLOYMENT_NAMES = ("capture/capture", "capture-folder/capture-folder")


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
    ]


def serve_embedded() -> None:
    """Serve the deployments from this process until it is stopped (SIGTERM or Ctrl-C)."""
    from prefect import serve

    serve(*embedded_deployments(), print_starting_message=False)


if __name__ == "__main__":
    serve_embedded()

"""Flow runs of a deployment in the session's Prefect API (webhooks create them)."""

from __future__ import annotations

from typing import Any
from uuid import UUID


def runs_of(deployment_id: UUID) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with get_client(sync_client=True) as prefect:
        return list(
            prefect.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )
        )


def fresh_deployment(flow: Any, name: str) -> UUID:
    """The deployment applied, without the runs earlier tests left (the API lives for the
    whole session)."""
    from prefect.client.orchestration import get_client

    deployment = UUID(str(flow.to_deployment(name=name).apply()))
    with get_client(sync_client=True) as prefect:
        for run in runs_of(deployment):
            prefect.delete_flow_run(run.id)
    return deployment

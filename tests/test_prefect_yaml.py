"""prefect.yaml: a deployment for every flow, Paris schedules, and `prefect deploy --all`
accepted by a real Prefect server."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from coffre.flows.deployments import DEPLOYMENT_NAMES

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("prefect_harness")


def _declared() -> list[dict[str, object]]:
    return list(yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"])


def test_every_served_flow_has_a_documented_deployment_with_paris_schedules() -> None:
    declared = {str(d["name"]): d for d in _declared()}
    assert set(declared) == {name.split("/")[1] for name in DEPLOYMENT_NAMES}
    for name, deployment in declared.items():
        assert len(str(deployment.get("description", ""))) > 30, name
        for schedule in deployment.get("schedules") or []:  # type: ignore[attr-defined]
            assert schedule["timezone"] == "Europe/Paris", name


def test_prefect_deploy_all_against_the_local_server() -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.settings import get_current_settings

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name="coffre", type="process"))
    env = {
        **os.environ,
        "PREFECT_API_URL": str(get_current_settings().api.url),
        "COFFRE_SOURCE_DIR": str(ROOT),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    with get_client(sync_client=True) as client:
        deployments = {d.name: d for d in client.read_deployments()}
    for declared in _declared():
        deployment = deployments[str(declared["name"])]
        assert deployment.work_pool_name == "coffre"
    for saas in ("fetch-mail", "sync-bank"):  # the SaaS APIs' shared rate limits
        limit = deployments[saas].global_concurrency_limit
        assert limit is not None and limit.limit == 4, saas

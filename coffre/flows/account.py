"""delete_account: close an account for good, and be able to prove it."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from coffre.tasks.account_deletion import (
    close_bank_access,
    close_mail_access,
    destroy_data_key,
    finish_deletion,
    remove_data,
    request_deletion,
)

_SAAS_DELAYS = [10.0, 60.0, 300.0]  # Powens or Nylas outages are transient

request_step = task(name="request-deletion", cache_policy=NO_CACHE)(request_deletion)
bank_step = task(
    name="close-bank-access", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=_SAAS_DELAYS
)(close_bank_access)
mail_step = task(
    name="close-mail-access", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=_SAAS_DELAYS
)(close_mail_access)
key_step = task(name="destroy-data-key", cache_policy=NO_CACHE)(destroy_data_key)
data_step = task(name="remove-data", cache_policy=NO_CACHE)(remove_data)
finish_step = task(name="finish-deletion", cache_policy=NO_CACHE)(finish_deletion)


@flow(name="delete-account")
def delete_account(org: str, requested_by: str = "operator") -> dict[str, Any]:
    """Delete an organisation's account: Powens user and connections deleted at Powens,
    Nylas grants revoked, credentials erased, data key destroyed, data removed.

    Args:
        org: the organisation's id or SIREN.
        requested_by: who asked (recorded in the audit journal).

    A rerun after a failure or a crash picks up where the last run stopped.
    """
    logger = get_run_logger()
    org_id, done = request_step(org, requested_by)
    if done:
        logger.info("the account of %s is already deleted", org_id)
        return {"org_id": org_id, "status": "deleted", "already": True}
    report: dict[str, Any] = {"org_id": org_id}
    report["bank"] = bank_step(org_id)
    report["mail"] = mail_step(org_id)
    report["key"] = key_step(org_id)
    report["removed"] = data_step(org_id)
    finish_step(org_id)
    report["status"] = "deleted"
    logger.info("account %s deleted: %s", org_id, report)
    return report

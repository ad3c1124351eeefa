"""The deployments `make run` serves from its own process (prefect.yaml is for workers)."""

from __future__ import annotations

from typing import Any, cast

from prefect import Flow
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from coffre.flows.account import delete_account
from coffre.flows.backup import nightly_backup, restore_drill
from coffre.flows.bank import import_statement, reconcile, sync_bank, sync_bank_sweep
from coffre.flows.capture import capture, capture_folder
from coffre.flows.invoicing import issue_credit_note, issue_invoice
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
    "import-statement/import-statement",
    "sync-bank/sync-bank",
    "sync-bank-sweep/sync-bank-sweep",
    "reconcile/reconcile",
    "issue-invoice/issue-invoice",
    "issue-credit-note/issue-credit-note",
    "nightly-backup/nightly-backup",
    "restore-drill/restore-drill",
    "delete-account/delete-account",
)
TIMEZONE = "Europe/Paris"
SAAS_CONCURRENCY = 4  # Nylas and Powens rate limits are shared by every customer


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
            concurrency_limit=SAAS_CONCURRENCY,
        ),
        _deployment(
            fetch_mail_sweep,
            "Fetch every active mail connection.",
            schedule=Cron(get_settings().mail_sweep_cron, timezone=TIMEZONE),
            tags=["mail"],
        ),
        _deployment(
            import_statement,
            "Import an OFX, CAMT.053, CFONB 120 or CSV statement, then reconcile.",
            tags=["bank"],
        ),
        _deployment(
            sync_bank,
            "Sync one Powens connection, then reconcile (Powens webhooks trigger it).",
            tags=["bank"],
            concurrency_limit=SAAS_CONCURRENCY,
        ),
        _deployment(
            sync_bank_sweep,
            "Sync every active Powens connection.",
            schedule=Cron("30 6 * * *", timezone=TIMEZONE),
            tags=["bank"],
        ),
        _deployment(reconcile, "Match transactions with documents.", tags=["bank"]),
        _deployment(
            issue_invoice,
            "Issue an invoice: gapless number, Factur-X (EN 16931), sealed, stored.",
            tags=["invoicing"],
        ),
        _deployment(
            issue_credit_note, "Cancel an issued invoice by a credit note.", tags=["invoicing"]
        ),
        _deployment(
            nightly_backup,
            "Encrypted backup of the store, objects and key store to every repository.",
            schedule=Cron("30 2 * * *", timezone=TIMEZONE),
            tags=["backup"],
        ),
        _deployment(
            restore_drill,
            "Restore the latest backup into scratch space and verify it.",
            schedule=Cron("30 5 * * 0", timezone=TIMEZONE),
            tags=["backup"],
        ),
        _deployment(
            delete_account,
            "Delete an account: third-party access revoked, data key destroyed, data removed.",
            tags=["account"],
        ),
    ]


def serve_embedded() -> None:
    """Serve the deployments from this process until it is stopped (SIGTERM or Ctrl-C)."""
    from prefect import serve

    serve(*embedded_deployments(), print_starting_message=False)


if __name__ == "__main__":
    serve_embedded()

"""Bank lifecycles: statement files and Powens syncs in, reconciliation after each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from coffre.flows.sweeps import run_for_each
from coffre.models import session_scope
from coffre.runtime import get_engine
from coffre.tasks.bank_import import import_statement_fn
from coffre.tasks.bank_sync import sync_connection_fn
from coffre.tasks.capture import organisation_id
from coffre.tasks.reconcile import reconcile_org_fn
from coffre.tasks.statements import CsvMapping


@task(name="import-statement-file", cache_policy=NO_CACHE)
def import_file(
    org_id: str, path: str, account_iban: str | None, csv_mapping: dict[str, Any] | None
) -> dict[str, Any]:
    mapping = CsvMapping(**csv_mapping) if csv_mapping else None
    data = Path(path).read_bytes()
    return import_statement_fn(
        org_id, data, Path(path).name, account_iban=account_iban, csv_mapping=mapping
    ).to_json()


sync_connection = task(name="sync-bank-connection", cache_policy=NO_CACHE)(sync_connection_fn)
reconcile_org = task(name="reconcile-organisation", cache_policy=NO_CACHE)(reconcile_org_fn)


@flow(name="reconcile")
def reconcile(org: str) -> dict[str, int]:
    """Match open transactions with open documents: automatic when sure, suggestions
    otherwise; what a human decided is never changed. org: id or SIREN."""
    report = reconcile_org(organisation_id(org))
    get_run_logger().info("reconciliation: %s", report.to_json())
    return report.to_json()


@flow(name="import-statement")
def import_statement(
    org: str,
    path: str,
    account_iban: str | None = None,
    csv_mapping: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Import an OFX, CAMT.053, CFONB 120 or CSV statement, whole or not at all, then
    reconcile. account_iban: the account, required when the file does not name it."""
    org_id = organisation_id(org)
    imported = import_file(org_id, path, account_iban, csv_mapping)
    return {**imported, "reconciliation": reconcile(org_id)}


@flow(name="sync-bank")
def sync_bank(org: str, connection_id: str) -> dict[str, Any]:
    """Fetch a Powens connection's accounts and new, changed or deleted transactions
    since the last sync, then reconcile. A Powens webhook triggers it."""
    org_id = organisation_id(org)
    synced = sync_connection(org_id, connection_id)
    return {**synced.to_json(), "reconciliation": reconcile(org_id)}


@task(name="bank-connections-to-sync", cache_policy=NO_CACHE)
def connections_to_sync() -> list[tuple[str, str]]:
    from sqlmodel import col, select

    from coffre.models.bank import BankConnection, BankConnectionState

    with session_scope(get_engine()) as session:
        rows = session.exec(
            select(BankConnection.org_id, BankConnection.id).where(
                BankConnection.provider == "powens",
                col(BankConnection.state).in_(
                    [BankConnectionState.ACTIVE, BankConnectionState.FAILING]
                ),
            )
        )
        return [(org_id, connection_id) for org_id, connection_id in rows]


@flow(name="sync-bank-sweep")
def sync_bank_sweep() -> dict[str, str]:
    """Sync every active Powens connection (in case a webhook was lost); fails at the
    end, naming them, if any connection failed."""
    return run_for_each(sync_bank, connections_to_sync(), "bank connection")

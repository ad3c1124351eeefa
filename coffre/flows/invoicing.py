"""issue_invoice: a draft becomes a numbered, sealed Factur-X invoice; and credit notes."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from coffre.tasks.capture import organisation_id
from coffre.tasks.invoicing import (
    InvoiceRefused,
    create_credit_note_fn,
    create_draft_fn,
    issue_invoice_fn,
)


def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """HSM or TSA trouble passes; an invoice refused for its content does not."""
    try:
        state.result()
    except InvoiceRefused:
        return False
    except Exception:  # noqa: BLE001 - any other failure may be transient
        return True
    return False


create_draft = task(name="create-draft", cache_policy=NO_CACHE)(create_draft_fn)
create_credit_note = task(name="create-credit-note", cache_policy=NO_CACHE)(create_credit_note_fn)
issue = task(
    name="issue-invoice",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=_worth_retrying,
)(issue_invoice_fn)


@flow(name="issue-invoice")
def issue_invoice(
    org: str, invoice_id: str | None = None, draft: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Issue an invoice: give either the id of a draft, or the draft itself (JSON: customer,
    lines, dates; see `coffre invoice issue`). Refused input consumes no number; returns
    the number, the invoice id and the sealed document's id."""
    org_id = organisation_id(org)
    if invoice_id is None:
        if draft is None:
            raise ValueError("give invoice_id or draft")
        invoice_id = create_draft(org_id, draft)
    issued = issue(org_id, invoice_id)
    get_run_logger().info("issued %s (document %s)", issued.number, issued.document_id)
    return issued.to_json()


@flow(name="issue-credit-note")
def issue_credit_note(
    org: str, invoice: str, lines: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Cancel an issued invoice (id or number) by a credit note: all of it, or the lines
    given. The credit note has its own number in the same series."""
    org_id = organisation_id(org)
    draft_id = create_credit_note(org_id, invoice, lines)
    return issue(org_id, draft_id).to_json()

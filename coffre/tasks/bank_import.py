"""Importing a statement file: all of it in one transaction, or nothing.

The file is parsed whole before anything is written (a bad line refuses the file, with
the line and the reason); then its accounts and movements are written in a single
database transaction, so an import is never half done. The same bytes imported again
are recognised at once; overlapping statements add each movement once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from coffre.models import append_event, session_scope
from coffre.models.bank import StatementImport
from coffre.runtime import get_engine
from coffre.tasks.bank_store import (
    InvalidIban,
    account_key,
    checked_iban,
    content_ids,
    find_or_add_account,
    known_provider_ids,
    transaction_row,
)
from coffre.tasks.bank_types import StatementError
from coffre.tasks.statements import CsvMapping, parse_statement

ACTOR = "bank-import"


class ImportRefused(ValueError):
    """The file is not imported at all; the message says why, with the line if known."""


@dataclass
class ImportReport:
    filename: str
    format: str = ""
    already_imported: bool = False
    accounts: list[str] = field(default_factory=list)  # account ids
    added: int = 0
    known: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.filename,
            "format": self.format,
            "already_imported": self.already_imported,
            "accounts": self.accounts,
            "transactions_added": self.added,
            "transactions_known": self.known,
        }


def import_statement_fn(
    org_id: str,
    data: bytes,
    filename: str,
    *,
    account_iban: str | None = None,
    csv_mapping: CsvMapping | None = None,
) -> ImportReport:
    report = ImportReport(filename)
    digest = hashlib.sha256(data).hexdigest()
    with session_scope(get_engine()) as session:
        earlier = session.exec(
            select(StatementImport).where(
                StatementImport.org_id == org_id, StatementImport.sha256 == digest
            )
        ).first()
        if earlier is not None:
            report.format, report.already_imported = earlier.format, True
            report.known = earlier.transactions_added + earlier.transactions_known
            return report
    try:
        given = checked_iban(account_iban) if account_iban else None
        parsed = parse_statement(data, filename, csv_mapping=csv_mapping)
    except (StatementError, InvalidIban) as error:
        raise ImportRefused(f"{filename} : {error}") from error
    report.format = parsed.format
    if not parsed.statements:
        raise ImportRefused(f"{filename} : le fichier ne contient aucun relevé")
    try:
        with session_scope(get_engine()) as session:
            for statement in parsed.statements:
                key = account_key(statement.account, fallback=given)
                if given and statement.account.iban and key != given:
                    raise ImportRefused(
                        f"{filename} : le relevé est celui du compte {key}, pas de {given}"
                    )
                key = given or key  # a file without IBAN belongs to the account named
                account = find_or_add_account(
                    session,
                    org_id,
                    key,
                    iban=key if not key.startswith("RIB:") else None,
                    currency=statement.account.currency,
                    name=statement.account.name or "",
                )
                if statement.account.closing_balance_cents is not None:
                    account.balance_cents = statement.account.closing_balance_cents
                    account.balance_date = statement.account.closing_date
                    session.add(account)
                ids = content_ids(key, statement.transactions)
                known = known_provider_ids(session, account.id, ids)
                for provider_id, movement in zip(ids, statement.transactions, strict=True):
                    if provider_id in known:
                        report.known += 1
                        continue
                    known.add(provider_id)
                    session.add(
                        transaction_row(org_id, account.id, provider_id, parsed.format, movement)
                    )
                    report.added += 1
                report.accounts.append(account.id)
            session.add(
                StatementImport(
                    org_id=org_id,
                    sha256=digest,
                    filename=filename[:255],
                    format=parsed.format,
                    transactions_added=report.added,
                    transactions_known=report.known,
                )
            )
            append_event(
                session,
                org_id,
                actor=ACTOR,
                action="bank.statement_imported",
                subject_type="statement",
                subject_id=digest[:32],
                details={"format": parsed.format, "added": report.added, "known": report.known},
            )
    except InvalidIban as error:
        raise ImportRefused(f"{filename} : {error}") from error
    except IntegrityError:
        # The same file imported at the same moment by another run: it won the race.
        report.already_imported, report.added = True, 0
    return report

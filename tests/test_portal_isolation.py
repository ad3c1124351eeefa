"""Everything the portal's pages can ask for, asked with another organisation's ids:
refused, and nothing changed. (Downloads, search and export: tests/test_portal.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from coffre.models import session_scope
from coffre.models.bank import BankConnection
from coffre.models.mail import MailConnection, MailProvider
from coffre.models.organization import Role, User
from coffre.models.queries import NotFound
from coffre.tasks.bank_store import hide_transaction
from coffre.tasks.invoicing import (
    InvoiceRefused,
    create_credit_note_fn,
    create_draft_fn,
    issue_invoice_fn,
)
from coffre.webui.auth import AuthError, sign_up
from coffre.webui.members import add_member, remove_member, set_role

PASSWORD = "un mot de passe assez long"


def test_another_organisations_ids_are_refused_everywhere(coffre_home: Path) -> None:
    from coffre.tasks.bank_sync import delete_bank_connection_fn
    from coffre.tasks.mail_connections import delete_connection

    alice = sign_up("Boulangerie", "732829320", "alice@boulangerie.example", PASSWORD)
    bob = sign_up("Fleuriste", "552100554", "bob@fleuriste.example", PASSWORD)
    clerk = add_member(alice, "vendeuse@boulangerie.example", PASSWORD, Role.MEMBER)
    with session_scope() as session:
        bank = BankConnection(org_id=alice.org_id, bank_name="Banque Populaire")
        mailbox = MailConnection(
            org_id=alice.org_id, provider=MailProvider.IMAP, display_name="Factures"
        )
        session.add_all([bank, mailbox])
    draft = create_draft_fn(
        alice.org_id,
        {
            "customer": {"name": "Café", "address": {"line1": "1 rue", "postcode": "69001",
                                                      "city": "Lyon"}},
            "lines": [{"description": "Pain", "unit_price": "10"}],
        },
    )  # fmt: skip

    with pytest.raises(AuthError, match="introuvable"):
        set_role(bob, clerk.id, Role.OWNER)
    with pytest.raises(AuthError, match="introuvable"):
        remove_member(bob, clerk.id)
    with pytest.raises(AuthError):
        set_role(sign_up("Garage", "356000000", "x@garage.example", PASSWORD), clerk.id, Role.OWNER)
    with pytest.raises(NotFound):
        delete_bank_connection_fn(bob.org_id, bank.id)
    with pytest.raises(NotFound):
        delete_connection(bob.org_id, mailbox.id)
    with session_scope() as session:
        assert not hide_transaction(session, bob.org_id, "any-transaction-id")
    with pytest.raises(InvoiceRefused, match="inconnue"):
        issue_invoice_fn(bob.org_id, draft)
    with pytest.raises(InvoiceRefused):
        create_credit_note_fn(bob.org_id, draft)

    with session_scope() as session:
        member = session.get(User, clerk.id)
        assert member is not None and member.role == Role.MEMBER
        assert session.get(BankConnection, bank.id) is not None
        assert session.exec(select(MailConnection)).one().org_id == alice.org_id

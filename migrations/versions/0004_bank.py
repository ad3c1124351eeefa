"""bank

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 22:07:18.797317
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "bank_connection",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("powens_connection_id", sa.Integer(), nullable=True),
        sa.Column("user_token", sa.LargeBinary(), nullable=True),
        sa.Column("bank_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("last_update", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_sync_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("deleted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bank_connection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bank_connection_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bank_connection_powens_connection_id"),
            ["powens_connection_id"],
            unique=False,
        )

    op.create_table(
        "statement_import",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("transactions_added", sa.Integer(), nullable=False),
        sa.Column("transactions_known", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "sha256", name="uq_statement_import_content"),
    )
    with op.batch_alter_table("statement_import", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_statement_import_org_id"), ["org_id"], unique=False)

    op.create_table(
        "bank_account",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("connection_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column(
            "provider_account_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("account_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("iban", sqlmodel.sql.sqltypes.AutoString(length=34), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), nullable=True),
        sa.Column("balance_date", sa.Date(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["bank_connection.id"],
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "account_key", name="uq_bank_account_key"),
        sa.UniqueConstraint("org_id", "iban", name="uq_bank_account_iban"),
    )
    with op.batch_alter_table("bank_account", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_account_connection_id"), ["connection_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bank_account_org_id"), ["org_id"], unique=False)

    op.create_table(
        "bank_transaction",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("provider_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("original_wording", sa.Text(), nullable=False),
        sa.Column("simplified_wording", sa.Text(), nullable=False),
        sa.Column("counterparty_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("counterparty_iban", sqlmodel.sql.sqltypes.AutoString(length=34), nullable=True),
        sa.Column("end_to_end_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("remittance", sa.Text(), nullable=True),
        sa.Column("coming", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("hidden_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["bank_account.id"],
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "provider_id", name="uq_bank_transaction_provider_id"),
    )
    with op.batch_alter_table("bank_transaction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_transaction_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            "ix_bank_transaction_org_date", ["org_id", "booking_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bank_transaction_org_id"), ["org_id"], unique=False)

    op.create_table(
        "bank_match",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("transaction_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("document_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("group_key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["document.id"],
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["bank_transaction.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transaction_id", "document_id", name="uq_bank_match_pair"),
    )
    with op.batch_alter_table("bank_match", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_match_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bank_match_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_bank_match_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bank_match_transaction_id"), ["transaction_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("bank_match", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_match_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_bank_match_org_id"))
        batch_op.drop_index(batch_op.f("ix_bank_match_kind"))
        batch_op.drop_index(batch_op.f("ix_bank_match_document_id"))

    op.drop_table("bank_match")
    with op.batch_alter_table("bank_transaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_transaction_org_id"))
        batch_op.drop_index("ix_bank_transaction_org_date")
        batch_op.drop_index(batch_op.f("ix_bank_transaction_account_id"))

    op.drop_table("bank_transaction")
    with op.batch_alter_table("bank_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_account_org_id"))
        batch_op.drop_index(batch_op.f("ix_bank_account_connection_id"))

    op.drop_table("bank_account")
    with op.batch_alter_table("statement_import", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_import_org_id"))

    op.drop_table("statement_import")
    with op.batch_alter_table("bank_connection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_connection_powens_connection_id"))
        batch_op.drop_index(batch_op.f("ix_bank_connection_org_id"))

    op.drop_table("bank_connection")

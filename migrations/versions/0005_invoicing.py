"""invoicing

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 22:42:21.367681
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "customer",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("siren", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=True),
        sa.Column("siret", sqlmodel.sql.sqltypes.AutoString(length=14), nullable=True),
        sa.Column("vat_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("address_line1", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("address_line2", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("postcode", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("is_business", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_org_id"), ["org_id"], unique=False)

    op.create_table(
        "invoice_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("series", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "series", name="uq_invoice_counter"),
    )
    op.create_table(
        "seller_profile",
        sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("legal_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("legal_form", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("vat_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("siret", sqlmodel.sql.sqltypes.AutoString(length=14), nullable=True),
        sa.Column("address_line1", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("address_line2", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("postcode", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("iban", sqlmodel.sql.sqltypes.AutoString(length=34), nullable=True),
        sa.Column("bic", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=True),
        sa.Column("payment_terms", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column(
            "late_penalty_rate", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.Column("vat_exemption", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("org_id"),
    )
    op.create_table(
        "invoice",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("customer_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("corrects_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("series", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("buyer_reference", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("total_net", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("total_vat", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("total_gross", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("document_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("issued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["corrects_id"],
            ["invoice.id"],
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["document.id"],
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "series", "number", name="uq_invoice_number"),
    )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoice_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoice_state"), ["state"], unique=False)

    op.create_table(
        "invoice_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("unit_price", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("discount", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("vat_rate", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("vat_category", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("exemption_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("invoice_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoice_line_invoice_id"), ["invoice_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("invoice_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_line_invoice_id"))

    op.drop_table("invoice_line")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_state"))
        batch_op.drop_index(batch_op.f("ix_invoice_org_id"))
        batch_op.drop_index(batch_op.f("ix_invoice_customer_id"))

    op.drop_table("invoice")
    op.drop_table("seller_profile")
    op.drop_table("invoice_counter")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_org_id"))

    op.drop_table("customer")

"""mail connections

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 21:44:11.897337
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "mail_connection",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("provider", sa.String(length=10), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("folder", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=True),
        sa.Column("grant_lookup", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_run_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("lease_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("deleted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mail_connection", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_connection_grant_lookup"), ["grant_lookup"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mail_connection_org_id"), ["org_id"], unique=False)

    op.create_table(
        "processed_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("uidvalidity", sa.Integer(), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("processed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["mail_connection.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "connection_id", "uidvalidity", "message_id", name="uq_processed_message"
        ),
    )
    with op.batch_alter_table("processed_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_processed_message_connection_id"), ["connection_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("processed_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_message_connection_id"))

    op.drop_table("processed_message")
    with op.batch_alter_table("mail_connection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_connection_org_id"))
        batch_op.drop_index(batch_op.f("ix_mail_connection_grant_lookup"))

    op.drop_table("mail_connection")

"""seal state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 05:14:14.230607
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sealed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("seal_level", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True)
        )
        batch_op.add_column(
            sa.Column("timestamp_expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_document_timestamp_expires_at"), ["timestamp_expires_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_timestamp_expires_at"))
        batch_op.drop_column("last_error")
        batch_op.drop_column("timestamp_expires_at")
        batch_op.drop_column("seal_level")
        batch_op.drop_column("sealed_at")

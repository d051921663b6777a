"""The content-hash cache of LLM extractions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "llm_extractions",
        sa.Column("cache_key", sa.String(64), nullable=False),
        sa.Column("doc_id", sa.Text(), nullable=False),
        sa.Column("company", sa.String(64), nullable=False),
        sa.Column("extractor", sa.String(128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cache_key", name="pk_llm_extractions"),
    )


def downgrade() -> None:
    op.drop_table("llm_extractions")

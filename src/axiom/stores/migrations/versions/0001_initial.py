"""Initial warehouse schema.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("isin", sa.String(32), nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("sector", sa.Text(), nullable=True),
        sa.Column("industries", sa.JSON(), nullable=False),
        sa.Column("indices", sa.JSON(), nullable=False),
        sa.Column("hq_city", sa.Text(), nullable=True),
        sa.Column("hq_country", sa.Text(), nullable=True),
        sa.Column("key_people", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(16), nullable=True),
        sa.Column("revenue", sa.Double(), nullable=True),
        sa.Column("revenue_currency", sa.String(16), nullable=True),
        sa.Column("employees", sa.BigInteger(), nullable=True),
        sa.Column("website", sa.Text(), nullable=True),
        sa.Column("updated_at", _UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("symbol", name="pk_companies"),
    )
    op.create_table(
        "prices",
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("open", sa.Double(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("low", sa.Double(), nullable=False),
        sa.Column("close", sa.Double(), nullable=False),
        sa.Column("volume", sa.Double(), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "day", name="pk_prices"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "market_events",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("magnitude", sa.Double(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_market_events"),
    )
    op.create_index("ix_market_events_symbol_day", "market_events", ["symbol", "day"])
    op.create_index("ix_market_events_kind_day", "market_events", ["kind", "day"])
    op.create_table(
        "correlation_edges",
        sa.Column("a", sa.String(64), nullable=False),
        sa.Column("b", sa.String(64), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("rho", sa.Double(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("a", "b", "method", name="pk_correlation_edges"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "risk_scores",
        sa.Column("scenario_id", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("loss", sa.Double(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("shocked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("scenario_id", "symbol", name="pk_risk_scores"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "symbol_stats",
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("last_close", sa.Double(), nullable=True),
        sa.Column("bars", sa.Integer(), nullable=False),
        sa.Column("ret_1d", sa.Double(), nullable=True),
        sa.Column("vol_20d", sa.Double(), nullable=True),
        sa.Column("high_52w", sa.Double(), nullable=True),
        sa.Column("low_52w", sa.Double(), nullable=True),
        sa.Column("drawdown", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("symbol", name="pk_symbol_stats"),
    )
    op.create_table(
        "pipeline_runs",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("pipeline", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("started_at", _UTC_DATETIME, nullable=False),
        sa.Column("finished_at", _UTC_DATETIME, nullable=True),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("duration_s", sa.Double(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_pipeline_runs"),
    )
    op.create_index(
        "ix_pipeline_runs_pipeline_started_at", "pipeline_runs", ["pipeline", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_pipeline_runs_pipeline_started_at", table_name="pipeline_runs")
    op.drop_table("pipeline_runs")
    op.drop_table("symbol_stats")
    op.drop_table("risk_scores")
    op.drop_table("correlation_edges")
    op.drop_index("ix_market_events_kind_day", table_name="market_events")
    op.drop_index("ix_market_events_symbol_day", table_name="market_events")
    op.drop_table("market_events")
    op.drop_table("prices")
    op.drop_table("companies")

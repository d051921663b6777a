"""Columnar price blocks (one row per symbol and year), filled from the stored rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BLOBS = ("days", "open", "high", "low", "close", "volume", "simulated")


def upgrade() -> None:
    op.create_table(
        "price_blocks",
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("bars", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.LargeBinary(), nullable=False) for name in _BLOBS),
        sa.PrimaryKeyConstraint("symbol", "year", name="pk_price_blocks"),
        sqlite_with_rowid=False,
    )
    _fill_from_rows(op.get_bind())


def _fill_from_rows(conn: sa.Connection) -> None:
    """One block per (symbol, year) of the rows already in ``prices``, symbol by symbol."""
    from axiom.stores.price_blocks import FIELDS, by_year
    from axiom.stores.sql_codec import columns_from_rows
    from axiom.stores.sql_schema import price_blocks, prices

    symbols = [s for (s,) in conn.execute(sa.select(prices.c.symbol).distinct())]
    for symbol in symbols:
        stmt = (
            sa.select(prices.c.symbol, prices.c.day, prices.c.simulated)
            .add_columns(*(prices.c[f] for f in FIELDS))
            .where(prices.c.symbol == symbol)
            .order_by(prices.c.day)
        )
        cols = columns_from_rows(conn.execute(stmt).all(), FIELDS, with_simulated=True)
        if cols.rows == 0 or cols.simulated is None:
            continue
        days = (cols.calendar[cols.day_pos] - np.datetime64("1970-01-01", "D")).astype(np.int64)
        rows = [
            blk.to_row(symbol, year) for year, blk in by_year(days, cols.values, cols.simulated)
        ]
        conn.execute(price_blocks.insert(), rows)


def downgrade() -> None:
    op.drop_table("price_blocks")

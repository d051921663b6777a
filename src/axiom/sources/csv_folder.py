"""Prices from a folder of files: one ``<SYMBOL>.csv`` or ``<SYMBOL>.parquet`` per symbol.

The way to bring real data without any online provider: export daily bars from anywhere
into a folder and point Axiom at it. Each file needs the columns date, open, high, low,
close and volume (header case and surrounding spaces do not matter; extra columns such as
"Adj Close" are ignored); dates are ISO (``2024-01-31``). Files are read when asked for, so
a large folder costs nothing until used. Every problem is reported as one line that names
the file and what is wrong with it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from axiom.domain.models import DateArray, FloatArray, PriceBars
from axiom.errors import InputError, MessageError, UnknownSymbolError
from axiom.sources.base import PriceSource, check_range

#: Columns every file must have, in the order PriceBars takes them.
REQUIRED = ("date", "open", "high", "low", "close", "volume")
#: File suffixes read, in order of preference when a symbol has both.
SUFFIXES = (".parquet", ".csv")


def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
            named_index = any(name is not None for name in frame.index.names)
            return frame.reset_index() if named_index else frame
        return pd.read_csv(path, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read file: {reason}") from exc


def _normalise_columns(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    renamed = {c: str(c).strip().lower() for c in frame.columns}
    frame = frame.rename(columns=renamed)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        have = ", ".join(str(c) for c in frame.columns) or "none"
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} (has: {have})")
    return frame.loc[:, list(REQUIRED)]


def _parse_dates(column: pd.Series, path: Path) -> DateArray:
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = pd.to_datetime(column)
    else:
        text = column.astype("string").str.strip()
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        bad = parsed.isna()
        if bool(bad.any()):
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{path}: unparsable date {column.iloc[row]!r} in data row {row + 1} "
                "(expected ISO dates such as 2024-01-31)"
            )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


def _numeric(frame: pd.DataFrame, name: str, path: Path) -> FloatArray:
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bool(bad.any()):
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{path}: non-numeric or missing {name} {frame[name].iloc[row]!r} in data row {row + 1}"
        )
    return values


def read_price_file(path: Path, symbol: str | None = None) -> PriceBars:
    """Read one file into validated, date-sorted :class:`PriceBars` (``simulated=False``).

    Called by :class:`CsvFolderSource` and usable on its own. Raises
    :class:`~axiom.errors.InputError` naming the file for: unreadable file, missing
    columns, unparsable dates, non-numeric prices, duplicate dates, or bars that break the
    OHLC invariants.
    """
    frame = _normalise_columns(_read_table(path), path)
    dates = _parse_dates(frame["date"], path)
    cols = {name: _numeric(frame, name, path) for name in REQUIRED[1:]}
    order = np.argsort(dates, kind="stable")
    dates = dates[order]
    duplicated = np.flatnonzero(dates[1:] == dates[:-1])
    if duplicated.size:
        raise InputError(f"{path}: duplicate date {dates[duplicated[0]]}")
    try:
        return PriceBars(
            symbol or path.stem,
            dates,
            cols["open"][order],
            cols["high"][order],
            cols["low"][order],
            cols["close"][order],
            cols["volume"][order],
            simulated=False,
        ).validate()
    except MessageError as exc:
        raise InputError(f"{path}: {exc}") from exc


class CsvFolderSource(PriceSource):
    """A :class:`PriceSource` over a folder of per-symbol CSV or Parquet files.

    Built by the CLI when the user passes ``--prices <folder>``. The folder must exist when
    the source is built (else :class:`~axiom.errors.InputError`); files are listed on
    every call, so files added later are seen. A symbol with both a ``.parquet`` and a
    ``.csv`` file is read from the Parquet one.
    """

    simulated = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            what = "is not a folder" if self.path.exists() else "does not exist"
            raise InputError(f"price folder {self.path} {what}")

    def _files(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for suffix in reversed(SUFFIXES):
            for file in self.path.iterdir():
                if file.is_file() and file.suffix.lower() == suffix:
                    found[file.stem] = file
        return found

    def symbols(self) -> list[str]:
        """Symbols that have a file in the folder, sorted."""
        return sorted(self._files())

    def _file_for(self, symbol: str, files: dict[str, Path]) -> Path:
        if symbol in files:
            return files[symbol]
        folded = {s.casefold(): p for s, p in files.items()}
        if symbol.casefold() in folded:
            return folded[symbol.casefold()]
        near = difflib.get_close_matches(symbol, list(files), n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise UnknownSymbolError(
            f"no price file for {symbol!r} in {self.path} "
            f"(expected {symbol}.csv or {symbol}.parquet; {len(files)} symbols there{hint})"
        )

    def bars(self, symbols: Sequence[str], start: date, end: date) -> Iterator[PriceBars]:
        """Yield the bars of each symbol within [start, end], read from its file.

        Called by the ingestion pipeline. Every symbol is checked to have a file before
        any is read; a bad file raises :class:`~axiom.errors.InputError` when reached.
        """
        check_range(start, end)
        files = self._files()
        wanted = {symbol: self._file_for(symbol, files) for symbol in dict.fromkeys(symbols)}
        lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
        for symbol, path in wanted.items():
            bars = read_price_file(path, symbol)
            first = int(np.searchsorted(bars.dates, lo, side="left"))
            last = int(np.searchsorted(bars.dates, hi, side="right"))
            yield bars.slice(first, last)

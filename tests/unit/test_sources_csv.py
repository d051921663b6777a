"""Prices from a folder of CSV and Parquet files, and the errors a bad folder gives."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from axiom.errors import DateRangeError, InputError, UnknownSymbolError
from axiom.sources.base import PriceSource
from axiom.sources.csv_folder import CsvFolderSource, read_price_file

_ROWS = [
    # date, open, high, low, close, adj close, volume -- deliberately not in date order
    ("2024-01-04", 11.0, 12.5, 10.5, 12.0, 11.9, 1300),
    ("2024-01-02", 10.0, 10.8, 9.5, 10.5, 10.4, 1000),
    ("2024-01-03", 10.5, 11.2, 10.1, 11.0, 10.9, 1200),
    ("2024-01-05", 12.0, 12.2, 11.1, 11.5, 11.4, 900),
]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        _ROWS, columns=["Date", " Open", "HIGH", "low ", "Close", "Adj Close", "Volume"]
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "prices"
    root.mkdir()
    _frame().to_csv(root / "AAA.csv", index=False)
    parquet = _frame().assign(Date=pd.to_datetime(_frame()["Date"]))
    parquet.to_parquet(root / "BBB.parquet", index=False)
    (root / "notes.txt").write_text("not prices")
    return root


def test_lists_symbols_and_is_not_simulated(folder: Path) -> None:
    source = CsvFolderSource(folder)
    assert isinstance(source, PriceSource)
    assert source.simulated is False
    assert source.symbols() == ["AAA", "BBB"]


def test_reads_csv_sorted_with_loose_headers(folder: Path) -> None:
    (bars,) = CsvFolderSource(folder).bars(["AAA"], date(2024, 1, 1), date(2024, 1, 31))
    assert bars.symbol == "AAA"
    assert not bars.simulated
    assert bars.dates.tolist() == [date(2024, 1, d) for d in (2, 3, 4, 5)]
    assert bars.close.tolist() == [10.5, 11.0, 12.0, 11.5]  # close, not the adjusted close
    assert bars.open.tolist() == [10.0, 10.5, 11.0, 12.0]
    assert bars.volume.tolist() == [1000, 1200, 1300, 900]
    bars.validate()


def test_parquet_equals_csv(folder: Path) -> None:
    source = CsvFolderSource(folder)
    a, b = source.bars(["AAA", "BBB"], date(2024, 1, 1), date(2024, 1, 31))
    for col in ("dates", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(a, col), getattr(b, col))
    assert b.symbol == "BBB"


def test_parquet_with_date_index_and_date_objects(tmp_path: Path) -> None:
    frame = _frame().assign(Date=pd.to_datetime(_frame()["Date"])).set_index("Date")
    frame.to_parquet(tmp_path / "IDX.parquet")
    objects = _frame().assign(Date=[date.fromisoformat(r[0]) for r in _ROWS])
    objects.to_parquet(tmp_path / "OBJ.parquet", index=False)
    source = CsvFolderSource(tmp_path)
    for bars in source.bars(["IDX", "OBJ"], date(2024, 1, 3), date(2024, 1, 4)):
        assert bars.dates.tolist() == [date(2024, 1, 3), date(2024, 1, 4)]
        assert bars.close.tolist() == [11.0, 12.0]


def test_range_filter_and_empty_range(folder: Path) -> None:
    source = CsvFolderSource(folder)
    (bars,) = source.bars(["AAA"], date(2024, 1, 3), date(2024, 1, 4))
    assert bars.dates.tolist() == [date(2024, 1, 3), date(2024, 1, 4)]
    (empty,) = source.bars(["AAA"], date(2030, 1, 1), date(2030, 12, 31))
    assert len(empty) == 0
    with pytest.raises(DateRangeError):
        list(source.bars(["AAA"], date(2024, 2, 1), date(2024, 1, 1)))


def test_symbol_lookup_ignores_case_and_prefers_parquet(folder: Path) -> None:
    frame = _frame()
    frame["Close"] = frame["Close"] + 0.25
    frame["High"] = frame["HIGH"] + 0.25
    frame.drop(columns=["HIGH"]).to_parquet(folder / "AAA.parquet", index=False)
    source = CsvFolderSource(folder)
    assert source.symbols() == ["AAA", "BBB"]
    (bars,) = source.bars(["aaa"], date(2024, 1, 1), date(2024, 1, 31))
    assert bars.symbol == "aaa"
    assert bars.close.tolist() == [10.75, 11.25, 12.25, 11.75]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"price folder .*nowhere does not exist$"):
        CsvFolderSource(tmp_path / "nowhere")
    file = tmp_path / "file.csv"
    file.write_text("date\n")
    with pytest.raises(InputError, match="is not a folder"):
        CsvFolderSource(file)


def test_missing_symbol_names_folder_and_suggests(folder: Path) -> None:
    source = CsvFolderSource(folder)
    with pytest.raises(UnknownSymbolError) as info:
        list(source.bars(["AAA", "AAB"], date(2024, 1, 1), date(2024, 1, 31)))
    message = str(info.value)
    assert "'AAB'" in message and str(folder) in message and "did you mean AAA" in message
    assert "\n" not in message


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("date,open,high,low,close\n2024-01-02,1,2,1,1.5\n", "missing column(s) volume"),
        ("Open,High,Low,Close,Volume\n1,2,1,1.5,10\n", "missing column(s) date"),
        ("date,open,high,low,close,volume\n02/01/2024x,1,2,1,1.5,10\n", "unparsable date"),
        (
            "date,open,high,low,close,volume\n2024-01-02,1,2,1,abc,10\n",
            "non-numeric or missing close",
        ),
        ("date,open,high,low,close,volume\n2024-01-02,1,2,1,,10\n", "non-numeric or missing close"),
        (
            "date,open,high,low,close,volume\n2024-01-02,1,2,1,1.5,10\n2024-01-02,1,2,1,1.5,10\n",
            "duplicate date 2024-01-02",
        ),
        ("date,open,high,low,close,volume\n2024-01-02,1,1.2,1,1.5,10\n", "high/low do not bracket"),
        ("date,open,high,low,close,volume\n2024-01-02,1,2,1,1.5,-5\n", "negative volume"),
        ("", "cannot read file"),
    ],
)
def test_bad_file_is_one_line_naming_file(tmp_path: Path, content: str, problem: str) -> None:
    path = _write(tmp_path, "BAD.csv", content)
    with pytest.raises(InputError) as info:
        list(CsvFolderSource(tmp_path).bars(["BAD"], date(2024, 1, 1), date(2024, 12, 31)))
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert "\n" not in message


def test_unparsable_date_names_the_value(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "X.csv",
        "date,open,high,low,close,volume\n2024-01-02,1,2,1,1.5,10\nlast tuesday,1,2,1,1.5,10\n",
    )
    with pytest.raises(InputError, match=r"unparsable date 'last tuesday' in data row 2"):
        read_price_file(path)


def test_header_only_file_gives_empty_bars(tmp_path: Path) -> None:
    _write(tmp_path, "NONE.csv", "Date,Open,High,Low,Close,Volume\n")
    (bars,) = CsvFolderSource(tmp_path).bars(["NONE"], date(2024, 1, 1), date(2024, 12, 31))
    assert len(bars) == 0 and bars.symbol == "NONE"

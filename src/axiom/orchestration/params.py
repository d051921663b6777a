"""The parameters of an orchestrated run: what it processes and which days.

Called by :mod:`axiom.orchestration.airflow_context` at the start of every task, with plain
values taken from the Airflow context, so the rules are tested without Airflow.

Which days a run processes, first rule that applies:

1. ``start``/``end`` given when the run was triggered (``--conf`` / REST ``conf``);
2. the days of the asset events that triggered it (``start``/``end`` in each event's
   ``extra``, as the upstream DAG wrote them): from the earliest start to the latest end;
3. its data interval ``[data_interval_start, data_interval_end)`` as whole days (a daily
   run and a backfilled day are exactly one day);
4. nothing: everything available.

The universe follows the same order (trigger conf, then the events, then the DAG's
default); every other field comes from the DAG params (which already hold the trigger
conf).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from axiom.errors import DateRangeError, InputError
from axiom.pipelines.base import RunParams

#: DAG params that become RunParams fields as they are.
_PASSED = ("universe", "seed", "source", "window", "method", "top_k", "threshold")


def parse_day(value: object, what: str) -> date | None:
    """An ISO day (``2025-07-01``, or a timestamp whose day is taken) or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        raise DateRangeError(f"{what} '{value}' is not a date (use YYYY-MM-DD)") from None


def interval_days(start: datetime | None, end: datetime | None) -> tuple[date | None, date | None]:
    """The days of the half-open interval ``[start, end)``, as an inclusive day range.

    A zero-length interval (a point in time) is the day of that point.
    """
    if start is None or end is None:
        return None, None
    last = end - timedelta(microseconds=1) if end > start else start
    return start.date(), last.date()


def _event_days(extras: Sequence[Mapping[str, Any]]) -> tuple[date | None, date | None]:
    starts = [d for e in extras if (d := parse_day(e.get("start"), "event start")) is not None]
    ends = [d for e in extras if (d := parse_day(e.get("end"), "event end")) is not None]
    return (min(starts) if starts else None), (max(ends) if ends else None)


def _shocks(value: object) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"shocks must be an object symbol -> loss fraction, got {value!r}")
    try:
        return {str(k): float(v) for k, v in value.items()}
    except (TypeError, ValueError):
        raise InputError(f"shocks must map symbols to numbers, got {dict(value)!r}") from None


def resolve_params(
    params: Mapping[str, Any],
    conf: Mapping[str, Any],
    extras: Sequence[Mapping[str, Any]],
    interval: tuple[datetime | None, datetime | None],
) -> RunParams:
    """RunParams of a run from its DAG params, trigger conf, triggering events and interval.

    Raises DateRangeError for an unparsable day or a start after the end, InputError for
    malformed shocks.
    """
    fields: dict[str, Any] = {k: params[k] for k in _PASSED if params.get(k) is not None}
    start, end = parse_day(conf.get("start"), "start"), parse_day(conf.get("end"), "end")
    if start is None and end is None:
        start, end = _event_days(extras)
    if start is None and end is None:
        start, end = interval_days(*interval)
    if "universe" not in conf:
        universes = [str(e["universe"]) for e in extras if e.get("universe")]
        if universes:
            fields["universe"] = universes[-1]
    if "shocks" in params:
        fields["shocks"] = _shocks(params["shocks"])
    return RunParams(start=start, end=end, **fields)


def announcement(params: RunParams, pipeline: str, records: int) -> dict[str, Any]:
    """The ``extra`` of the asset events a run emits: what downstream runs resolve from."""
    return {
        "pipeline": pipeline,
        "universe": params.universe,
        "start": params.start.isoformat() if params.start else None,
        "end": params.end.isoformat() if params.end else None,
        "records": records,
    }

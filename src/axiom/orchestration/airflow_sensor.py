"""The sensor every reading DAG starts with: its stores' consumers have caught up.

Pipelines never write stores; consumers do, in their own processes (``axiom consume``).
So before a task reads a store, the consumers writing that store must have applied
everything published before the run got there. :class:`ConsumersCaughtUpSensor` checks
it with the bus API only (committed offsets against the offsets at the barrier time, see
:mod:`axiom.orchestration.runs`), in ``reschedule`` mode: between pokes it holds no worker
slot, however long the consumers take.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

#: How long one poke watches the lag before it gives the slot back.
SETTLE_S = 20.0
#: Between pokes (reschedule mode), and the longest wait before the sensor fails.
POKE_INTERVAL = timedelta(seconds=30)
TIMEOUT = timedelta(hours=2)


class ConsumersCaughtUpSensor(BaseSensorOperator):
    """Succeeds once the consumers writing the stores ``pipeline`` reads have caught up.

    The barrier is the time of the sensor's first poke: it comes after everything the
    upstream runs published (the asset events that triggered this run are emitted only
    after their messages are flushed), and it does not move while the sensor is
    rescheduled, so a busy bus cannot starve it. Each poke watches the lag for up to
    ``settle_s`` seconds; if it is still not zero the sensor is rescheduled. After
    ``timeout`` the task fails (consumers down or far behind): nothing reads a store
    that may be stale.
    """

    template_fields: Sequence[str] = ()
    ui_color = "#dfeef7"

    def __init__(self, *, pipeline: str, settle_s: float = SETTLE_S, **kwargs: Any) -> None:
        kwargs.setdefault("task_id", "wait_for_consumers")
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", POKE_INTERVAL)
        kwargs.setdefault("timeout", TIMEOUT)
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.settle_s = settle_s

    def poke(self, context: Context) -> bool:
        """True when every group's lag before the barrier is zero (polls for ``settle_s``)."""
        from axiom.orchestration.airflow_context import airflow_settings
        from axiom.orchestration.runs import behind, consumer_groups
        from axiom.runtime import Runtime

        first = context["ti"].get_first_reschedule_date(context)
        barrier = first or datetime.now(UTC)
        barrier_ms = int(barrier.timestamp() * 1000)
        groups = consumer_groups(self.pipeline)
        deadline = time.monotonic() + self.settle_s
        with Runtime(airflow_settings()) as rt:
            while True:
                lag = behind(rt.bus, groups, barrier_ms)
                if not any(lag.values()):
                    self.log.info("consumers %s caught up with %s", groups, barrier.isoformat())
                    return True
                if time.monotonic() >= deadline:
                    self.log.info("still behind %s: %s", barrier.isoformat(), lag)
                    return False
                time.sleep(0.25)

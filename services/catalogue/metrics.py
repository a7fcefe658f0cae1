"""Prometheus metrics of the catalogue: the task queue, read from the database at scrape time.

The queue gauges are not kept up to date by the code paths that change tasks (SQL functions create and
delete tasks too, and several replicas share one queue): a custom collector counts the live task rows
when Prometheus scrapes, one small aggregate over the task table (its rows are only the queued and
leased tasks, never the history) and one over aoi_status_count (schema/0005_*.sql). Nothing polls
between scrapes. Each replica reports the same queue: aggregate with max(), not sum().

Counters of what this replica did (leases granted, lease expiries it reclaimed, results) are plain
counters updated by the task queue.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool

from services.catalogue.store import queue_counts

logger = logging.getLogger(__name__)

KINDS = ("download", "process")
STATES = ("queued", "leased")


class QueueMetrics:
    """Counters the task queue updates (this replica's share of the work)."""

    def __init__(self, registry: CollectorRegistry):
        self.leased = Counter(
            "geocube_tasks_leased_total", "Tasks leased to workers, by kind.", ["kind"], registry=registry
        )
        self.lease_expiries = Counter(
            "geocube_lease_expiries_total",
            "Leases that expired without a report (worker killed or hung) and were reclaimed, by kind.",
            ["kind"],
            registry=registry,
        )
        self.claims = Counter(
            "geocube_lease_claims_total",
            "Claim statements of leases, by kind and outcome (claimed: at least one task; empty: none ready).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.results = Counter(
            "geocube_task_results_total",
            "Results accepted from workers, by status (TEMPORARY: a transient failure, requeued).",
            ["status"],
            registry=registry,
        )
        for kind in KINDS:  # present from the start, so that rate() sees the first increment
            self.leased.labels(kind)
            self.lease_expiries.labels(kind)


class QueueCollector(Collector):
    """Tasks by kind and state, the ready-queue depth and age, and items by status, read at scrape time.

    `collect` runs in the metrics server's thread; the query runs on the service's event loop and pool
    (bounded by `timeout`). When the database does not answer, only `geocube_catalogue_database_up 0` is
    reported: a scrape never fails and never hangs."""

    def __init__(self, pool: AsyncConnectionPool[Any], loop: asyncio.AbstractEventLoop, timeout: float = 5.0):
        self._pool = pool
        self._loop = loop
        self._timeout = timeout

    def describe(self) -> list[Metric]:
        return []  # collected on demand only: registering must not query the database

    async def _read(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        async with self._pool.connection(timeout=self._timeout) as conn:
            return await queue_counts.read(conn)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "geocube_catalogue_database_up", "1 when the last scrape could read the queue."
        )
        future = asyncio.run_coroutine_threadsafe(self._read(), self._loop)
        try:
            task_rows, item_rows = future.result(self._timeout)
        except (Exception, concurrent.futures.TimeoutError) as exc:  # noqa: BLE001 - reported as a gauge
            future.cancel()
            logger.warning("metrics: cannot read the task queue (%s)", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        counts = {(kind, state): (0, 0.0) for kind in KINDS for state in STATES}
        for kind, state, count, age in task_rows:
            counts[(kind, state)] = (int(count), float(age))
        tasks = GaugeMetricFamily("geocube_tasks", "Live tasks by kind and state.", labels=["kind", "state"])
        depth = GaugeMetricFamily(
            "geocube_queue_depth", "Tasks ready to be leased (queued), by kind.", labels=["kind"]
        )
        age = GaugeMetricFamily(
            "geocube_queue_oldest_seconds",
            "Age of the oldest queued task, by kind (0: none).",
            labels=["kind"],
        )
        for (kind, state), (count, oldest) in sorted(counts.items()):
            tasks.add_metric([kind, state], count)
            if state == "queued":
                depth.add_metric([kind], count)
                age.add_metric([kind], oldest)
        items = GaugeMetricFamily(
            "geocube_items",
            "Scenes by status, and tiles of downloaded (DONE) scenes by status, over every AOI.",
            labels=["kind", "status"],
        )
        for kind, status, count in item_rows:
            items.add_metric([kind, status], int(count or 0))
        yield from (tasks, depth, age, items)

"""Prometheus metrics of a worker (downloader or processor), on the worker's own registry.

Created by `start_worker` and handed to every job through `TaskContext.metrics`, so that the job code
records what only it sees: provider fetches (duration, bytes) and graph steps (duration per graph and
step, through `RunOptions.on_step`).
"""

from __future__ import annotations

import os
import pathlib
import stat

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from libs.graph.run import RunOptions

# Seconds: graph steps and downloads run from a second to hours.
LONG_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None, kind: str = ""):
        # A private registry when none is given (a job run outside a worker, in tests): never shared.
        self.registry = registry if registry is not None else CollectorRegistry()
        self.kind = kind
        registry = self.registry
        self.tasks = Counter(
            "geocube_worker_tasks_total",
            "Tasks run by this worker, by kind and outcome (DONE, RETRY, FAILED, TEMPORARY, LOST).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.task_seconds = Histogram(
            "geocube_worker_task_duration_seconds",
            "Time from lease to report, by kind and outcome.",
            ["kind", "outcome"],
            buckets=LONG_BUCKETS,
            registry=registry,
        )
        self.running = Gauge(
            "geocube_worker_running_tasks", "Tasks being worked on now.", ["kind"], registry=registry
        )
        self.graph_step_seconds = Histogram(
            "geocube_graph_step_duration_seconds",
            "Duration of one graph step (subprocess), by graph, step command and outcome (ok, failed, fatal).",
            ["graph", "step", "outcome"],
            buckets=LONG_BUCKETS,
            registry=registry,
        )
        self.download_seconds = Histogram(
            "geocube_download_duration_seconds",
            "Duration of one provider's attempt to fetch a product, by provider and outcome (ok, error).",
            ["provider", "outcome"],
            buckets=LONG_BUCKETS,
            registry=registry,
        )
        self.download_bytes = Counter(
            "geocube_download_bytes_total",
            "Bytes of the products fetched (on disk once fetched and unpacked), by provider.",
            ["provider"],
            registry=registry,
        )
        if kind:
            self.running.labels(kind)

    def observe_step(self, graph: str, step: str, seconds: float, outcome: str) -> None:
        self.graph_step_seconds.labels(graph, step, outcome).observe(seconds)

    def run_options(self) -> RunOptions:
        """Graph run options that time every step into this registry."""
        return RunOptions(on_step=self.observe_step)

    def observe_task(self, outcome: str, seconds: float) -> None:
        self.tasks.labels(self.kind, outcome).inc()
        self.task_seconds.labels(self.kind, outcome).observe(seconds)

    def observe_download(self, provider: str, seconds: float, ok: bool, workdir: pathlib.Path | None) -> None:
        self.download_seconds.labels(provider, "ok" if ok else "error").observe(seconds)
        if ok and workdir is not None:
            self.download_bytes.labels(provider).inc(tree_size(workdir))


def tree_size(root: pathlib.Path) -> int:
    """Bytes of the regular files under `root` (symlinks not followed: a linked product is not fetched)."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                info = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if not stat.S_ISLNK(info.st_mode):
                total += info.st_size
    return total

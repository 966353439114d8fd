"""Prometheus metrics, one registry per app so several apps can live in one process."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "eadrcc_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "eadrcc_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

        # Which process answered: `serve --workers N` puts N behind one port.
        Gauge("eadrcc_process_id", "This instance's process id", registry=self.registry).set(
            os.getpid()
        )
        self.notification_queue = Gauge(
            "eadrcc_pg_notification_queue_usage",
            "pg_notification_queue_usage(): share of PostgreSQL's NOTIFY queue in use",
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def watch_pool(self, pool: Callable[[], asyncpg.Pool | None]) -> None:
        self.registry.register(_PoolCollector(pool))

    def add_gauges(
        self, name: str, doc: str, read: Callable[[], dict[str, float]], label: str = "name"
    ) -> None:
        """A gauge family read at scrape time (e.g. the event hub's counters)."""
        self.registry.register(_GaugeCollector(name, doc, read, label))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _PoolCollector(Collector):
    def __init__(self, pool: Callable[[], asyncpg.Pool | None]) -> None:
        self._pool = pool

    def collect(self) -> Iterator[Metric]:
        pool = self._pool()
        if pool is None:
            return
        size = GaugeMetricFamily(
            "eadrcc_db_pool_connections", "Database pool connections", labels=["state"]
        )
        idle = pool.get_idle_size()
        size.add_metric(["idle"], idle)
        size.add_metric(["in_use"], pool.get_size() - idle)
        size.add_metric(["max"], pool.get_max_size())
        yield size


class _GaugeCollector(Collector):
    def __init__(
        self, name: str, doc: str, read: Callable[[], dict[str, float]], label: str
    ) -> None:
        self._name, self._doc, self._read, self._label = name, doc, read, label

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self._name, self._doc, labels=[self._label])
        for key, value in self._read().items():
            family.add_metric([key], value)
        yield family

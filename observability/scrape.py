"""What one node's /metrics answers, and who may read it: shared by the web view and the worker's endpoint.

Every node (a web process group, a Celery worker) serves only its own counters, from its own
PROMETHEUS_MULTIPROC_DIR on its own disk; Prometheus scrapes each node and sums across them
(deploy/prometheus). Facts about the present (breaker states, queue depth, the oldest undelivered
code) are read from Redis and PostgreSQL by the web nodes only, so a worker adds no second copy.
"""

from __future__ import annotations

import hmac

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from observability.multiprocess import multiproc_dir

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def node_registry(*, current_state: bool) -> CollectorRegistry:
    """This node's counters (every process of its group when multiprocess mode is on), and with
    current_state the figures read at scrape time (observability.collectors)."""
    registry = CollectorRegistry(auto_describe=False)
    directory = multiproc_dir()
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:  # one process (runserver, a threads-pool worker, tests): this process's own counters
        registry.register(_DefaultRegistryCollector())
    if current_state:
        from observability.collectors import CurrentStateCollector

        registry.register(CurrentStateCollector())
    return registry


def exposition(*, current_state: bool) -> bytes:
    return generate_latest(node_registry(current_state=current_state))


class _DefaultRegistryCollector(Collector):
    def collect(self):  # type: ignore[no-untyped-def]
        return REGISTRY.collect()


def bearer_token(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def scrape_refusal(authorization: str, expected: str) -> tuple[int, str] | None:
    """None when the Authorization header carries the expected token; else (status, message):
    404 when no token is configured, 401 without a bearer token, 403 with a wrong one."""
    if not expected:
        return 404, "Not found.\n"
    given = bearer_token(authorization)
    if given is None:
        return 401, "Bearer token required.\n"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return 403, "Wrong token.\n"
    return None

"""A worker node's own GET /metrics: a small HTTP server in the Celery worker's main process.

Started when the worker is ready, on WORKER_METRICS_HOST:WORKER_METRICS_PORT (off when the port is
unset), behind the web's bearer token (METRICS_TOKEN). It answers this node's counters only: its
pool's, merged from its own PROMETHEUS_MULTIPROC_DIR under prefork, so no disk is shared with the
web or other nodes. Prometheus scrapes every worker and sums (deploy/prometheus/prometheus.yml).
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.conf import settings

from observability.scrape import CONTENT_TYPE, exposition, scrape_refusal

logger = logging.getLogger("observability.worker_endpoint")

_server: ThreadingHTTPServer | None = None


class MetricsHandler(BaseHTTPRequestHandler):
    server_version = "otpsvc-worker-metrics"

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self._answer(404, b"Not found.\n", "text/plain")
            return
        refusal = scrape_refusal(self.headers.get("Authorization", ""), settings.METRICS_TOKEN)
        if refusal is not None:
            status, message = refusal
            self._answer(status, message.encode(), "text/plain")
            return
        self._answer(200, exposition(current_state=False), CONTENT_TYPE)

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="metrics"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every 15 s are not worth a line each."""


def start_worker_metrics() -> ThreadingHTTPServer | None:
    """Serve /metrics in a daemon thread; None when off (no port, or no token to guard it)."""
    global _server
    port = settings.WORKER_METRICS_PORT
    if not port or _server is not None:
        return _server
    if not settings.METRICS_TOKEN:
        logger.warning("WORKER_METRICS_PORT is set but METRICS_TOKEN is not: the worker serves no /metrics")
        return None
    try:
        server = ThreadingHTTPServer((settings.WORKER_METRICS_HOST, port), MetricsHandler)
    except OSError as err:  # delivery matters more than its metrics: log and keep working
        logger.error("worker /metrics could not listen on %s:%s: %s", settings.WORKER_METRICS_HOST, port, err)
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    logger.info("worker /metrics listening on %s:%s", settings.WORKER_METRICS_HOST, port)
    _server = server
    return server


def stop_worker_metrics() -> None:
    global _server
    if _server is not None:
        _server.shutdown()
        _server.server_close()
        _server = None

"""GET /metrics for Prometheus, behind a bearer token (METRICS_TOKEN); no token configured, no page."""

from __future__ import annotations

import glob
import hmac
import os

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from observability.collectors import CurrentStateCollector


class MultiProcessDirsCollector(Collector):
    """The merged files of every process of every group (gunicorn workers, Celery children).

    Each entry of METRICS_SCRAPE_DIRS may be a glob pattern (one directory per worker container).
    """

    def __init__(self, directories: list[str]) -> None:
        self.directories = directories

    def collect(self):  # type: ignore[no-untyped-def]
        files = [path for directory in self.directories for path in glob.glob(os.path.join(directory, "*.db"))]
        return MultiProcessCollector.merge(files, accumulate=True)


def registry_for_scrape() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    directories = [d for d in settings.METRICS_SCRAPE_DIRS if d]
    if directories:
        registry.register(MultiProcessDirsCollector(directories))
    else:  # one process (runserver, tests): this process's own counters
        registry.register(_DefaultRegistryCollector())
    registry.register(CurrentStateCollector())
    return registry


class _DefaultRegistryCollector(Collector):
    def collect(self):  # type: ignore[no-untyped-def]
        return REGISTRY.collect()


def bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """404 when METRICS_TOKEN is unset, 401 without a bearer token, 403 with a wrong one."""
    expected = settings.METRICS_TOKEN
    if not expected:
        raise Http404
    given = bearer_token(request)
    if given is None:
        response = HttpResponse("Bearer token required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return HttpResponse("Wrong token.\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(registry_for_scrape()), content_type="text/plain; version=0.0.4; charset=utf-8")

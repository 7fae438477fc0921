"""GET /metrics for Prometheus, behind a bearer token (METRICS_TOKEN); no token configured, no page.

A web node answers with its own counters (gunicorn's workers) and the figures read at scrape
time; each worker node serves its own counters itself (observability.worker_endpoint).
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from observability.scrape import CONTENT_TYPE, exposition, scrape_refusal


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """404 when METRICS_TOKEN is unset, 401 without a bearer token, 403 with a wrong one."""
    refusal = scrape_refusal(request.headers.get("Authorization", ""), settings.METRICS_TOKEN)
    if refusal is not None:
        status, message = refusal
        if status == 404:
            raise Http404
        response = HttpResponse(message, status=status, content_type="text/plain")
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(current_state=True), content_type=CONTENT_TYPE)

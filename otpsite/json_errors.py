"""Every error answer of the API in one place: DRF's exception handler and the JSON 404s.

REST_FRAMEWORK["EXCEPTION_HANDLER"] points at :func:`exception_handler`; urls' handler404 at
:func:`not_found`. Errors under the API and health paths are JSON, never Django's HTML page, and
never cached.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views.defaults import page_not_found
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from otpsite.logs import log_event

# The logger the handler has always written to (its events are the API's).
logger = logging.getLogger("otp.api")
JSON_PREFIXES = ("/api/", "/api", "/health", "/.well-known/")
# Raised when PostgreSQL is stopped, restarting or unreachable (connect_timeout bounds the wait).
DatabaseUnavailable = (OperationalError, InterfaceError)
UNAVAILABLE = {"detail": "The service is temporarily unavailable. Try again shortly."}


def unavailable() -> Response:
    """503: the service (its database, Redis or broker) cannot answer now; the client may retry."""
    return Response(UNAVAILABLE, status=status.HTTP_503_SERVICE_UNAVAILABLE)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus `Cache-Control: no-store` on every error answer.

    A database that cannot be reached is the service being unavailable (503), never a 500.
    """
    if isinstance(exc, DatabaseUnavailable):
        log_event(logger, "api.database_unavailable", level=logging.WARNING, error=type(exc).__name__)
        unavailable_response = unavailable()
        unavailable_response["Cache-Control"] = "no-store"
        return unavailable_response
    response = drf_exception_handler(exc, context)
    if response is not None:
        response["Cache-Control"] = "no-store"
    return response


def json_not_found(request: HttpRequest, exception: Exception | None = None, **_: object) -> JsonResponse:
    """404 with the path that exists when only a trailing slash is wrong."""
    body = {"detail": "Not found."}
    suggestion = _with_or_without_slash(request.path)
    if suggestion:
        body = {"detail": f"Not found. Did you mean {suggestion}?", "path": suggestion}
    return JsonResponse(body, status=404, headers={"Cache-Control": "no-store"})


def _with_or_without_slash(path: str) -> str | None:
    candidate = path.rstrip("/") if path.endswith("/") else path + "/"
    try:
        match = resolve(candidate)
    except Resolver404:
        return None
    return None if match.func is json_not_found else candidate


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: JSON under the API and health paths, Django's page elsewhere."""
    if request.path.startswith(JSON_PREFIXES):
        return json_not_found(request, exception)
    return page_not_found(request, exception)

"""JSON 404 answers for the API and health paths, never Django's HTML page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views.defaults import page_not_found

JSON_PREFIXES = ("/api/", "/api", "/health", "/.well-known/")


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

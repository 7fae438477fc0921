"""`@idempotent` for a DRF view's post(): the Idempotency-Key header, as store.py describes it.

With `atomic=True` the view's writes and the stored answer commit together, so a process that dies
mid-request leaves nothing behind but an in-flight row that another request may take over after
its lease. A view whose work must commit on its own (it publishes inside and answers from what the
publish did) uses `atomic=False`: its answer is stored right after it returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from otpsite.idempotency import store

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
IN_FLIGHT = {"detail": "A request with this Idempotency-Key is still in progress. Try again shortly."}
MISMATCH = {"detail": "This Idempotency-Key was already used with a different request body."}

KEY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="1 to 255 characters. The same key with the same body within 24 h gets the first answer "
    "again (with Idempotent-Replayed: true) and does nothing; a different body gets 422; while the first "
    "request is still running, 409. Scoped to the API key (or client), method and path.",
)
REPLAYED_PARAMETER = OpenApiParameter(
    REPLAYED,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    response=True,
    description="`true` when the answer is the stored answer of an earlier request with the same key.",
)

View = Callable[..., Response]


def idempotent(
    *, anonymous_scope: Callable[[HttpRequest], str] | None = None, atomic: bool = True
) -> Callable[[View], View]:
    """Decorate a view's post(). Anonymous callers are scoped by `anonymous_scope(request)` (e.g. their IP)."""

    def decorate(method: View) -> View:
        @functools.wraps(method)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                return method(view, request, *args, **kwargs)
            scope = _scope(request, key, anonymous_scope)
            decision = store.claim(scope, store.fingerprint(request.data), now=timezone.now())
            if decision.action == "mismatch":
                return Response(MISMATCH, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
            if decision.action == "conflict":
                return Response(IN_FLIGHT, status=status.HTTP_409_CONFLICT, headers={"Retry-After": "1"})
            assert decision.record is not None
            if decision.action == "replay":
                record = decision.record
                return Response(record.body, status=record.status_code, headers={REPLAYED: "true"})
            return _run(method, decision.record, atomic, view, request, *args, **kwargs)

        wrapper.kwargs = dict(getattr(method, "kwargs", {}))  # type: ignore[attr-defined]
        return extend_schema(parameters=[KEY_PARAMETER, REPLAYED_PARAMETER])(wrapper)  # type: ignore[no-any-return]

    return decorate


def _scope(request: Request, key: str, anonymous_scope: Callable[[HttpRequest], str] | None) -> str:
    if not 1 <= len(key) <= store.MAX_KEY_LENGTH:
        raise ValidationError({HEADER: [f"Use 1 to {store.MAX_KEY_LENGTH} characters."]})
    auth = request.auth
    if auth is not None:
        caller = f"{type(auth).__name__}:{getattr(auth, 'pk', auth)}"
    elif anonymous_scope is not None:
        caller = f"anonymous:{anonymous_scope(request)}"
    else:
        raise ValidationError({HEADER: ["Only a caller with an API key can use an Idempotency-Key here."]})
    return store.scope_of(caller=caller, method=request.method or "", path=request.path, key=key)


def _run(method: View, record: Any, atomic: bool, view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
    """Run the view owning the key; store a 2xx answer, forget the key after anything else."""
    try:
        with transaction.atomic() if atomic else _nothing():
            response = method(view, request, *args, **kwargs)
            succeeded = 200 <= response.status_code < 300
            if succeeded:
                store.complete(record, status_code=response.status_code, body=getattr(response, "data", None))
    except BaseException:
        store.release(record)
        raise
    if not succeeded:
        store.release(record)
    return response


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

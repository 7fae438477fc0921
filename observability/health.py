"""Health endpoints: provider health for operators, liveness for load balancers.

Each layer reports its own part and the view composes them: GET /health/messaging is messaging's
channels and breakers (messaging.health) with otp's pending deliveries (otp.health); GET /health is
the stack's liveness (observability.liveness).
"""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging.health import UNHEALTHY, messaging_health
from messaging.tenancy.breakers import tenant_report
from observability.liveness import liveness
from otp.health import pending_deliveries

NO_STORE = {"Cache-Control": "no-store"}


def staff_caller(*, user: Any, authorization: str) -> bool:
    """Whether a /health/messaging caller sees counts and error texts: a signed-in, active staff
    user (admin session), or a bearer token equal to METRICS_TOKEN (what Prometheus already holds)."""
    if user is not None and user.is_active and user.is_staff:
        return True
    scheme, _, token = authorization.partition(" ")
    expected = settings.METRICS_TOKEN
    return (
        bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())
    )


class MessagingHealthView(APIView):
    """GET /health/messaging: 200 while every channel has a usable provider, 503 otherwise.

    Anyone sees states and error codes; staff (an admin session, or `Authorization: Bearer
    $METRICS_TOKEN`) also see each breaker's last error text, with recipients masked and secrets
    redacted, the receipt counts and the pending count and age, and `tenant_breakers`: tenants' own
    breakers not closed or counting failures, at most MESSAGING_HEALTH_TENANT_BREAKERS (never the
    overall status's concern). Anyone else sees no tenant.
    """

    authentication_classes = [SessionAuthentication]
    permission_classes: list[type] = []

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT}, tags=["health"])
    def get(self, request: Request) -> Response:
        staff = staff_caller(user=request.user, authorization=request.headers.get("Authorization", ""))
        report = {**messaging_health(detailed=staff), "pending_deliveries": pending_deliveries(detailed=staff)}
        if staff:
            report["tenant_breakers"] = tenant_report(settings.MESSAGING_HEALTH_TENANT_BREAKERS)
        code = status.HTTP_503_SERVICE_UNAVAILABLE if report["overall_status"] == UNHEALTHY else status.HTTP_200_OK
        return Response(report, status=code, headers=NO_STORE)


class LivenessView(APIView):
    """GET /health: 200 when the database, Redis and a Celery worker all answer, 503 otherwise."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT}, tags=["health"])
    def get(self, request: Request) -> Response:
        report = liveness()
        code = status.HTTP_200_OK if report["status"] == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(report, status=code, headers=NO_STORE)

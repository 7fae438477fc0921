"""What the OTP endpoints answer, for the OpenAPI schema: every status, body and header."""

from __future__ import annotations

from typing import Any

from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers

# A 400 for bad input: each field (or `non_field_errors`) maps to its messages; a body that is
# not JSON gets {"detail": "..."}.
FIELD_ERRORS: dict[str, Any] = {
    "type": "object",
    "description": "Field errors: each field, or non_field_errors, maps to messages in words.",
    "additionalProperties": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]},
}
DETAIL: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}

# 402 from messaging.budget_accept: the tenant's monthly spending cap is spent.
BUDGET_SPENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string", "enum": ["budget_exhausted"]},
        "monthly_cap_usd": {"type": "string", "example": "50.00"},
        "resets_at": {"type": "string", "format": "date-time"},
    },
    "required": ["detail", "code", "monthly_cap_usd", "resets_at"],
}
BUDGET_SPENT_RESPONSE = OpenApiResponse(BUDGET_SPENT, description="The tenant's monthly spending cap is spent")


class TooManySerializer(serializers.Serializer):
    detail = serializers.CharField()
    retry_after = serializers.IntegerField(min_value=0, help_text="Seconds to wait; also in Retry-After.")


class SendAcceptedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted"])
    detail = serializers.CharField()


class VerifiedSerializer(serializers.Serializer):
    verified = serializers.BooleanField(help_text="Always true here.")
    verification_token = serializers.CharField(
        help_text="A JWT (ES256) naming tenant, channel, recipient and purpose; check it against "
        "/.well-known/jwks.json or redeem it once at /api/v1/auth/otp/token/redeem."
    )
    expires_in = serializers.IntegerField(help_text="Seconds the token stays valid.")


VERIFY_FAILED: dict[str, Any] = {
    "type": "object",
    "properties": {"verified": {"type": "boolean", "enum": [False]}, "detail": {"type": "string"}},
    "required": ["verified", "detail"],
}


RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[429],
    required=True,
    description="Seconds to wait before asking again.",
)
NO_STORE = OpenApiParameter(
    "Cache-Control",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    response=True,
    description="Always `no-store`.",
)


def body_responses() -> dict[int, Any]:
    """What any JSON endpoint may answer before its own logic runs (the parser, the database)."""
    return {
        413: OpenApiResponse(DETAIL, description="Body too large"),
        415: OpenApiResponse(DETAIL, description="Body is not JSON"),
        503: OpenApiResponse(DETAIL, description="Temporarily unavailable"),
    }


def common_responses() -> dict[int, Any]:
    return {
        401: OpenApiResponse(DETAIL, description="An Authorization header with an API key that is not valid"),
        429: OpenApiResponse(TooManySerializer, description="Too many requests or locked out; see Retry-After"),
        **body_responses(),
    }


def send_responses() -> dict[int, Any]:
    return {
        202: OpenApiResponse(SendAcceptedSerializer, description="The same answer for every well-formed recipient"),
        400: OpenApiResponse(FIELD_ERRORS, description="Field errors"),
        402: BUDGET_SPENT_RESPONSE,
        **common_responses(),
    }


def verify_responses() -> dict[int, Any]:
    # Exactly one matches: a refusal has a boolean `verified`, field errors have only strings and lists.
    refused = {"oneOf": [VERIFY_FAILED, FIELD_ERRORS]}
    return {
        200: OpenApiResponse(VerifiedSerializer, description="Verified; the token proves it to a backend"),
        400: OpenApiResponse(refused, description="Wrong, expired, used or unknown code (alike), or field errors"),
        **common_responses(),
    }


def one_of_recipient(base: type[serializers.Serializer], name: str) -> PolymorphicProxySerializer:
    """The request body as the serializer enforces it: exactly one of email or phone (oneOf)."""
    by_email = type(f"{name}ByEmail", (base,), {"phone": None, "email": _required(base, "email")})
    by_phone = type(f"{name}ByPhone", (base,), {"email": None, "phone": _required(base, "phone")})
    return PolymorphicProxySerializer(
        component_name=name, serializers=[by_email, by_phone], resource_type_field_name=None
    )


def _required(base: type[serializers.Serializer], field_name: str) -> serializers.Field:
    field = base._declared_fields[field_name]  # type: ignore[attr-defined]
    args, kwargs = field._args, {**field._kwargs, "required": True}  # type: ignore[attr-defined]
    return type(field)(*args, **kwargs)


# What "Try it out" sends by default: a body that works as it stands for an anonymous caller
# (no tenant_id, which only an API key may choose), one per request component and variant.
REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "SendRequestByEmail": {"email": "jane@example.com", "purpose": "verification"},
    "SendRequestByPhone": {"phone": "+14155550123", "purpose": "verification"},
    "VerifyRequestByEmail": {"email": "jane@example.com", "purpose": "verification", "code": "123456"},
    "VerifyRequestByPhone": {"phone": "+14155550123", "purpose": "verification", "code": "123456"},
}


def add_request_examples(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook: a working example on each request component."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, example in REQUEST_EXAMPLES.items():
        if name in schemas:
            schemas[name]["example"] = example
    return result


class SchemaView(SpectacularAPIView):
    """GET /api/schema/: JSON a browser shows (application/json first); YAML with ?format=yaml."""

    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer, OpenApiYamlRenderer, OpenApiYamlRenderer2]

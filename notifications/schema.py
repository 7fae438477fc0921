"""What the tenant endpoints answer, for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from messaging.models import AttemptOutcome, Channel, MessageStatus, ReceiptEvent
from otp.schema import (
    BUDGET_SPENT_RESPONSE,
    DETAIL,
    FIELD_ERRORS,
    NO_STORE,
    RETRY_AFTER,
    TooManySerializer,
    body_responses,
)


class CostSerializer(serializers.Serializer):
    amount = serializers.CharField(help_text="Decimal, e.g. 0.0075")
    currency = serializers.CharField(help_text="ISO 4217, e.g. USD")


class TemplateRefSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.IntegerField()


class AttemptSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    provider = serializers.CharField()
    outcome = serializers.ChoiceField(choices=AttemptOutcome.choices)
    error_code = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)


class ReceiptSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    provider = serializers.CharField()
    event = serializers.ChoiceField(choices=ReceiptEvent.choices)
    code = serializers.CharField(allow_null=True)


class LinksSerializer(serializers.Serializer):
    self = serializers.CharField()


class MessageSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    to = serializers.CharField()
    status = serializers.ChoiceField(choices=MessageStatus.choices)
    reference = serializers.CharField(allow_null=True)
    template = TemplateRefSerializer(allow_null=True)
    locale = serializers.CharField(allow_null=True)
    provider = serializers.CharField(allow_null=True)
    segments = serializers.IntegerField(allow_null=True, help_text="SMS segments, as priced")
    encoding = serializers.ChoiceField(choices=["GSM-7", "UCS-2"], allow_null=True)
    cost = CostSerializer(allow_null=True)
    test = serializers.BooleanField(help_text="Sent with a test key: to the sink, at no cost")
    metadata = serializers.DictField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    links = LinksSerializer()


class MessageDetailSerializer(MessageSummarySerializer):
    attempts = AttemptSerializer(many=True)
    receipts = ReceiptSerializer(many=True)


class MessagePageSerializer(serializers.Serializer):
    next = serializers.CharField(allow_null=True, help_text="URL of the next (older) page")
    previous = serializers.CharField(allow_null=True)
    results = MessageSummarySerializer(many=True)


def tenant_responses() -> dict[int, Any]:
    return {
        401: OpenApiResponse(DETAIL, description="No API key, or one that is not valid"),
        429: OpenApiResponse(TooManySerializer, description="Too many requests; see Retry-After"),
        **body_responses(),
    }


def send_message_responses() -> dict[int, Any]:
    from notifications.serializers import MessageAcceptedSerializer

    return {
        202: OpenApiResponse(MessageAcceptedSerializer, description="Accepted and queued"),
        400: OpenApiResponse(FIELD_ERRORS, description="Field errors, or a missing placeholder (named)"),
        402: BUDGET_SPENT_RESPONSE,
        **tenant_responses(),
    }


def read_responses(ok: Any) -> dict[int, Any]:
    return {
        200: OpenApiResponse(ok),
        404: OpenApiResponse(DETAIL, description="No such message for this key's tenant"),
        **tenant_responses(),
    }


LIST_PARAMETERS = [
    OpenApiParameter("reference", OpenApiTypes.STR, description="Only messages with this reference"),
    OpenApiParameter("status", OpenApiTypes.STR, enum=MessageStatus.values, description="Only this status"),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="From a previous page's next or previous link"),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="1 to 100, default 50"),
]
COMMON_HEADERS = [RETRY_AFTER, NO_STORE]


def list_responses() -> dict[int, Any]:
    return {**read_responses(MessagePageSerializer), 400: OpenApiResponse(FIELD_ERRORS, description="Unknown status")}

"""The tenant messages API: send a message, read one, list them. Every call needs a tenant's API key."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import ApiKey, ApiKeyKind
from messaging.budget_accept import refuse_if_budget_spent
from messaging.models import Channel, MessageStatus
from messaging.segments import count_segments
from messaging.templating.locales import requested_locale
from notifications import limits, presenters, schema
from notifications.accept import MessageRequest, accept_message
from notifications.models import Message
from notifications.permissions import TenantAPIView, api_key_of
from notifications.serializers import MessageRequestSerializer
from otpsite.idempotency.decorators import idempotent
from otpsite.parsers import LimitedJSONParser


class MessagesJSONParser(LimitedJSONParser):
    limit_setting = "MESSAGES_MAX_BODY_BYTES"


class MessagePages(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


def tenant_messages(api_key: ApiKey) -> QuerySet[Message]:
    return Message.objects.filter(tenant=api_key.tenant).select_related("log", "resend_log")


def publish_delivery(message_pk: int) -> None:
    from notifications.tasks import deliver_message

    deliver_message.delay(message_pk)


def message_request(data: dict[str, Any], *, api_key: ApiKey, locale: str) -> MessageRequest:
    """The accepted request, with a template resolved (and rendered once to check it) or inline content."""
    channel = data["channel"]
    fields: dict[str, Any] = {
        "channel": channel,
        "to": data["to"],
        "locale": locale,
        "reference": data.get("reference", ""),
        "metadata": data.get("metadata", {}),
        "personalisation": data.get("personalisation", {}),
    }
    if "template" in data:
        from notifications.templates import checked_template

        fields.update(checked_template(api_key.tenant, channel, data["template"], locale, fields["personalisation"]))
    else:
        parts = ("body",) if channel == Channel.SMS else ("subject", "html", "text")
        fields["content"] = {name: data[name] for name in parts if name in data}
    if channel == Channel.SMS and "content" in fields:
        segments = count_segments(fields["content"]["body"])
        fields.update(segments=segments.count, encoding=segments.encoding)
    return MessageRequest(**fields)


@method_decorator(never_cache, name="dispatch")
class MessagesView(TenantAPIView):
    """Send a message by email or SMS (a template or inline content), or list the tenant's messages."""

    parser_classes = [MessagesJSONParser]

    @idempotent()
    @extend_schema(
        operation_id="messages_send",
        request=MessageRequestSerializer,
        responses=schema.send_message_responses(),
        parameters=schema.COMMON_HEADERS,
    )
    def post(self, request: Request) -> Response:
        serializer = MessageRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        locale = requested_locale(data.get("locale"), request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        api_key = api_key_of(request)
        if api_key.kind != ApiKeyKind.TEST:  # a test key's sends cost nothing
            refuse_if_budget_spent(api_key.tenant.slug)
        accepted = message_request(data, api_key=api_key, locale=locale)
        limits.admit_message(api_key, now=timezone.now())
        message = accept_message(accepted, api_key=api_key, publish=publish_delivery)
        return Response(presenters.accepted(message), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="messages_list",
        parameters=[*schema.LIST_PARAMETERS, *schema.COMMON_HEADERS],
        responses=schema.list_responses(),
    )
    def get(self, request: Request) -> Response:
        messages = tenant_messages(api_key_of(request))
        reference = request.query_params.get("reference")
        if reference is not None:
            messages = messages.filter(reference=reference)
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted not in MessageStatus.values:
                raise ValidationError({"status": [f"Use one of: {', '.join(MessageStatus.values)}."]})
            messages = messages.filter(Q(resend_log__isnull=True, log__status=wanted) | Q(resend_log__status=wanted))
        pages = MessagePages()
        page = pages.paginate_queryset(messages, request, view=self)
        return pages.get_paginated_response([presenters.summary(message) for message in page or []])


@method_decorator(never_cache, name="dispatch")
class MessageDetailView(TenantAPIView):
    """One message: status, provider, each attempt, the receipts and the cost. Another tenant's is 404."""

    @extend_schema(
        operation_id="messages_read",
        responses=schema.read_responses(schema.MessageDetailSerializer),
        parameters=schema.COMMON_HEADERS,
    )
    def get(self, request: Request, message_id: Any) -> Response:
        message = tenant_messages(api_key_of(request)).filter(log__message_id=message_id).first()
        if message is None:
            raise NotFound()
        return Response(presenters.detail(message))

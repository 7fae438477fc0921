"""Tenant templates over the API: read (the tenant's own and the built-ins) and preview. Editing is in admin."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Max
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from messaging.models import Channel
from messaging.segments import count_segments
from messaging.templating import store
from messaging.templating.models import MessageTemplate
from messaging.templating.rendering import MissingPlaceholders, placeholders
from notifications import schema
from notifications.permissions import TenantAPIView, api_key_of
from notifications.serializers import flat_scalars
from otp.schema import FIELD_ERRORS


class TemplateSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    locale = serializers.CharField()
    version = serializers.IntegerField()
    built_in = serializers.BooleanField()
    placeholders = serializers.ListField(child=serializers.CharField())
    subject = serializers.CharField(allow_null=True)
    text = serializers.CharField(allow_null=True)
    html = serializers.CharField(allow_null=True)
    body = serializers.CharField(allow_null=True)


class TemplateListSerializer(serializers.Serializer):
    results = TemplateSerializer(many=True)


class PreviewRequestSerializer(serializers.Serializer):
    personalisation = serializers.DictField(required=False)

    def validate_personalisation(self, value: dict[str, Any]) -> dict[str, Any]:
        return flat_scalars(value, where="personalisation")


class PreviewSerializer(serializers.Serializer):
    parts = serializers.DictField(child=serializers.CharField())
    segments = serializers.IntegerField(allow_null=True)
    encoding = serializers.CharField(allow_null=True)


def shown(template: MessageTemplate) -> dict[str, Any]:
    parts = template.parts()
    return {
        "id": str(template.uid),
        "name": template.name,
        "channel": template.channel,
        "locale": template.locale,
        "version": template.version,
        "built_in": template.tenant == "",
        "placeholders": placeholders(parts.values()),
        **{part: parts.get(part) or None for part in ("subject", "text", "html", "body")},
    }


def visible_latest(tenant: str, uid: Any) -> MessageTemplate:
    """The latest version of template `uid` if it is the tenant's or built in; else 404."""
    try:
        uid = uuid.UUID(str(uid))
    except ValueError as err:
        raise NotFound() from err
    template = MessageTemplate.objects.filter(uid=uid, tenant__in=[tenant, ""]).order_by("-version").first()
    if template is None:
        raise NotFound()
    return template


@method_decorator(never_cache, name="dispatch")
class TemplatesView(TenantAPIView):
    @extend_schema(operation_id="templates_list", responses=schema.read_responses(TemplateListSerializer),
                   parameters=schema.COMMON_HEADERS)  # fmt: skip
    def get(self, request: Request) -> Response:
        tenant = api_key_of(request).tenant.slug
        families = MessageTemplate.objects.filter(tenant__in=[tenant, ""]).values("uid").annotate(latest=Max("version"))
        latest = {row["uid"]: row["latest"] for row in families}
        rows = [t for t in MessageTemplate.objects.filter(uid__in=latest) if t.version == latest[t.uid]]
        return Response({"results": [shown(t) for t in rows]})


@method_decorator(never_cache, name="dispatch")
class TemplateDetailView(TenantAPIView):
    @extend_schema(operation_id="templates_read", responses=schema.read_responses(TemplateSerializer),
                   parameters=schema.COMMON_HEADERS)  # fmt: skip
    def get(self, request: Request, template_id: Any) -> Response:
        return Response(shown(visible_latest(api_key_of(request).tenant.slug, template_id)))


@method_decorator(never_cache, name="dispatch")
class TemplatePreviewView(TenantAPIView):
    @extend_schema(
        operation_id="templates_preview",
        request=PreviewRequestSerializer,
        responses={**schema.read_responses(PreviewSerializer), 400: OpenApiResponse(FIELD_ERRORS)},
        parameters=schema.COMMON_HEADERS,
    )
    def post(self, request: Request, template_id: Any) -> Response:
        template = visible_latest(api_key_of(request).tenant.slug, template_id)
        body = PreviewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data.get("personalisation", template.preview_values)
        try:
            parts = store.render_in_locale(template, values, locale=template.locale).parts
        except MissingPlaceholders as err:
            names = ", ".join(f"(({name}))" for name in err.names)
            raise ValidationError({"personalisation": [f"Missing placeholder values: {names}."]}) from err
        segments = count_segments(parts.get("body", "")) if template.channel == Channel.SMS else None
        return Response({"parts": parts, "segments": segments and segments.count,
                         "encoding": segments and segments.encoding})  # fmt: skip

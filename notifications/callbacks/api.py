"""A tenant registers callback endpoints; the signing secret is shown once, when one is made."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from notifications import schema
from notifications.callbacks.addresses import UrlRefused, check_url
from notifications.callbacks.events import EVENT_TYPES
from notifications.callbacks.signing import new_secret
from notifications.models import CallbackEndpoint
from notifications.permissions import TenantAPIView, api_key_of
from otp.schema import FIELD_ERRORS


class EndpointRequestSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000, help_text="https://, to a public address")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), required=False, help_text="Empty or absent: all"
    )

    def validate_url(self, value: str) -> str:
        try:
            check_url(value)
        except UrlRefused as err:
            raise serializers.ValidationError(str(err)) from err
        return value


class EndpointChangeSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="true enables an endpoint that was disabled")


class EndpointSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class NewEndpointSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="whsec_...: verify each callback's webhook-signature with it")


class EndpointListSerializer(serializers.Serializer):
    results = EndpointSerializer(many=True)


def shown(endpoint: CallbackEndpoint) -> dict[str, Any]:
    return {
        "id": str(endpoint.uid),
        "url": endpoint.url,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason or None,
        "created_at": endpoint.created_at.isoformat(),
    }


def tenant_endpoint(request: Request, endpoint_id: Any) -> CallbackEndpoint:
    try:
        uid = uuid.UUID(str(endpoint_id))
    except ValueError as err:
        raise NotFound() from err
    endpoint = CallbackEndpoint.objects.filter(uid=uid, tenant=api_key_of(request).tenant).first()
    if endpoint is None:
        raise NotFound()
    return endpoint


@method_decorator(never_cache, name="dispatch")
class EndpointsView(TenantAPIView):
    @extend_schema(
        operation_id="callbacks_create",
        request=EndpointRequestSerializer,
        parameters=schema.COMMON_HEADERS,
        responses={201: NewEndpointSerializer, 400: OpenApiResponse(FIELD_ERRORS), **schema.tenant_responses()},
    )
    def post(self, request: Request) -> Response:
        body = EndpointRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = CallbackEndpoint.objects.create(
            tenant=api_key_of(request).tenant, url=body.validated_data["url"],
            events=sorted(set(body.validated_data.get("events", []))), secret=new_secret(),
        )  # fmt: skip
        return Response({**shown(endpoint), "secret": endpoint.secret}, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="callbacks_list", responses=schema.read_responses(EndpointListSerializer),
                   parameters=schema.COMMON_HEADERS)  # fmt: skip
    def get(self, request: Request) -> Response:
        endpoints = CallbackEndpoint.objects.filter(tenant=api_key_of(request).tenant).order_by("created_at")
        return Response({"results": [shown(endpoint) for endpoint in endpoints]})


@method_decorator(never_cache, name="dispatch")
class EndpointDetailView(TenantAPIView):
    @extend_schema(operation_id="callbacks_read", responses=schema.read_responses(EndpointSerializer),
                   parameters=schema.COMMON_HEADERS)  # fmt: skip
    def get(self, request: Request, endpoint_id: Any) -> Response:
        return Response(shown(tenant_endpoint(request, endpoint_id)))

    @extend_schema(
        operation_id="callbacks_change",
        request=EndpointChangeSerializer,
        parameters=schema.COMMON_HEADERS,
        responses={**schema.read_responses(EndpointSerializer), 400: OpenApiResponse(FIELD_ERRORS)},
    )
    def patch(self, request: Request, endpoint_id: Any) -> Response:
        endpoint = tenant_endpoint(request, endpoint_id)
        body = EndpointChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        enabled = body.validated_data["enabled"]
        CallbackEndpoint.objects.filter(pk=endpoint.pk).update(
            enabled=enabled, disabled_at=None if enabled else timezone.now(),
            disabled_reason="" if enabled else "disabled by the tenant",
        )  # fmt: skip
        endpoint.refresh_from_db()
        return Response(shown(endpoint))

    @extend_schema(operation_id="callbacks_delete", parameters=schema.COMMON_HEADERS,
                   responses={204: None, **schema.read_responses(EndpointSerializer)})  # fmt: skip
    def delete(self, request: Request, endpoint_id: Any) -> Response:
        tenant_endpoint(request, endpoint_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

"""Send and verify endpoints.

Both are cookie-less JSON APIs: no session or cookie authentication is read, so CSRF does
not apply (DRF only enforces CSRF for SessionAuthentication). Every answer carries
`Cache-Control: no-store`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from messaging.masking import log_event
from messaging.models import Channel
from otp import limits, lockout
from otp.canonical import ascii_domain
from otp.lifecycle import CodeRequest, DeliveryNotQueued, has_live_code, issue_code, verify_code
from otp.network import client_ip

logger = logging.getLogger("otp.api")

TENANT_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SEND_ACCEPTED = {
    "status": "accepted",
    "detail": "If this address can receive messages, a code is on its way.",
}
VERIFY_FAILED = {"verified": False, "detail": "The code is invalid or has expired."}
UNAVAILABLE = {"detail": "The service is temporarily unavailable. Try again shortly."}


class RecipientSerializer(serializers.Serializer):
    """Exactly one of email or phone, a known purpose, and an optional tenant."""

    email = serializers.CharField(required=False, max_length=254, trim_whitespace=True)
    phone = serializers.CharField(required=False, max_length=32, trim_whitespace=True)
    purpose = serializers.CharField(max_length=64)
    tenant_id = serializers.CharField(required=False, max_length=64)

    def validate_email(self, value: str) -> str:
        local, _, domain = value.rpartition("@")
        if not local.isascii():
            # Most mail servers and SDKs cannot carry it (SMTPUTF8): refuse it here, not at a provider.
            raise serializers.ValidationError("Use an address with only ASCII characters before the @.")
        try:
            validate_email(value)
        except Exception as err:
            raise serializers.ValidationError("Enter a valid email address.") from err
        # An internationalised domain travels as punycode, which every provider can encode.
        return f"{local}@{ascii_domain(domain)}".lower()

    def validate_phone(self, value: str) -> str:
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as err:
            raise serializers.ValidationError(
                "Enter a phone number in international format, e.g. +14155550123."
            ) from err
        if not phonenumbers.is_valid_number(number):
            raise serializers.ValidationError("This phone number is not valid.")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def validate_purpose(self, value: str) -> str:
        if value not in settings.OTP_PURPOSES:
            raise serializers.ValidationError(f"Unknown purpose; use one of: {', '.join(settings.OTP_PURPOSES)}.")
        return value

    def validate_tenant_id(self, value: str) -> str:
        if not TENANT_PATTERN.match(value):
            raise serializers.ValidationError("Use 1 to 64 letters, digits, '.', '_' or '-'.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("email" in attrs) == ("phone" in attrs):
            raise serializers.ValidationError({"non_field_errors": ["Give exactly one of email or phone."]})
        return attrs

    def code_request(self) -> CodeRequest:
        data = self.validated_data
        channel = Channel.EMAIL if "email" in data else Channel.SMS
        return CodeRequest(
            tenant_id=data.get("tenant_id") or settings.OTP_DEFAULT_TENANT,
            recipient=data["email"] if channel == Channel.EMAIL else data["phone"],
            channel=channel,
            purpose=data["purpose"],
        )


class VerifySerializer(RecipientSerializer):
    code = serializers.RegexField(
        r"^\d{6,10}$", max_length=10, error_messages={"invalid": "Enter the digits you received."}
    )


class SendAcceptedSerializer(serializers.Serializer):
    status = serializers.CharField()
    detail = serializers.CharField()


class VerifiedSerializer(serializers.Serializer):
    verified = serializers.BooleanField()


def enqueue_delivery(otp_id: str) -> None:
    from workers.tasks import deliver_otp

    deliver_otp.delay(otp_id)


def otp_responses(ok_status: int, ok_serializer: type[serializers.Serializer], refused: str) -> dict[int, Any]:
    return {
        ok_status: ok_serializer,
        400: OpenApiResponse(description=refused),
        429: OpenApiResponse(description="Too many requests or locked out; see Retry-After"),
        503: OpenApiResponse(description="Temporarily unavailable"),
    }


def log_otp_event(event: str, code_request: CodeRequest, *, result: str, ip: str, **fields: Any) -> None:
    """One structured line per send or verify; log_event masks the recipient."""
    log_event(
        logger, event, result=result, purpose=code_request.purpose, recipient=code_request.recipient, ip=ip, **fields
    )


def unavailable() -> Response:
    return Response(UNAVAILABLE, status=status.HTTP_503_SERVICE_UNAVAILABLE)


def too_many(err: limits.RateLimited) -> Response:
    return Response(
        {"detail": "Too many requests. Try again later.", "retry_after": err.retry_after},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(err.retry_after)},
    )


@method_decorator(never_cache, name="dispatch")
class SendCodeView(APIView):
    """Ask for a code by email or SMS. The answer is the same for every well-formed recipient."""

    @extend_schema(request=RecipientSerializer, responses=otp_responses(202, SendAcceptedSerializer, "Field errors"))
    def post(self, request: Request) -> Response:
        serializer = RecipientSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        code_request = serializer.code_request()
        ip = client_ip(request)
        try:
            if code_request.channel == Channel.SMS:
                limits.check_sms_destination(code_request.recipient)
            limits.check_send(
                channel=code_request.channel,
                recipient=code_request.recipient,
                tenant_id=code_request.tenant_id,
                client_ip=ip,
            )
        except limits.DestinationRefused as err:
            raise ValidationError({"phone": [str(err)]}) from err
        except limits.RateLimited as err:
            log_otp_event("otp.send", code_request, result="rate_limited", ip=ip, scope=err.scope)
            return too_many(err)
        except limits.LimitsUnavailable:
            return unavailable()
        try:
            issue_code(code_request, now=timezone.now(), enqueue=enqueue_delivery)
        except DeliveryNotQueued:
            log_otp_event("otp.send", code_request, result="enqueue_failed", ip=ip, level=logging.WARNING)
            return unavailable()
        log_otp_event("otp.send", code_request, result="accepted", ip=ip, channel=code_request.channel)
        return Response(SEND_ACCEPTED, status=status.HTTP_202_ACCEPTED)


@method_decorator(never_cache, name="dispatch")
@method_decorator(sensitive_post_parameters("code"), name="dispatch")
class VerifyCodeView(APIView):
    """Check a code. Wrong, expired, used and unknown all answer alike; a lockout answers 429."""

    @extend_schema(
        request=VerifySerializer, responses=otp_responses(200, VerifiedSerializer, "Invalid or expired code")
    )
    @sensitive_variables("serializer")
    def post(self, request: Request) -> Response:
        serializer = VerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        code_request = serializer.code_request()
        ip = client_ip(request)
        who = {"tenant_id": code_request.tenant_id, "recipient": code_request.recipient, "client_ip": ip}
        try:
            # Admitting a guess counts it as a failure at once (one atomic step), and only when a
            # live code exists: a stranger's guesses at an address with no code lock nobody out.
            live = has_live_code(code_request, now=timezone.now())
            lockout.admit_guess(**who, live_code=live)
            verified = live and verify_code(code_request, serializer.validated_data["code"], now=timezone.now())
            if verified:
                lockout.record_success(**who)
        except limits.RateLimited as err:
            log_otp_event("otp.verify", code_request, result="locked", ip=ip)
            return too_many(err)
        except limits.LimitsUnavailable:
            return unavailable()
        log_otp_event("otp.verify", code_request, result="success" if verified else "failure", ip=ip)
        if verified:
            return Response({"verified": True}, status=status.HTTP_200_OK)
        return Response(VERIFY_FAILED, status=status.HTTP_400_BAD_REQUEST)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus `Cache-Control: no-store` on every error answer."""
    response = drf_exception_handler(exc, context)
    if response is not None:
        response["Cache-Control"] = "no-store"
    return response

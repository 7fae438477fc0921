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
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging.budget_accept import refuse_if_budget_spent
from messaging.models import Channel
from messaging.templating.locales import LOCALE_PATTERN, locale_context, requested_locale
from otp import limits, lockout, metrics, pumping, schema
from otp.canonical import ascii_domain
from otp.lifecycle import CodeRequest, DeliveryNotQueued, has_live_code, issue_code, verify_code
from otp.tenants import resolve_tenant
from otp.tokens import Verified, issue_token
from otpsite.authentication import ApiKeyAuthenticated
from otpsite.idempotency.decorators import idempotent
from otpsite.json_errors import unavailable
from otpsite.logs import log_event
from otpsite.network import client_identity, client_ip
from otpsite.serializers import FreshFieldsSerializer

logger = logging.getLogger("otp.api")

TENANT_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
PHONE_PATTERN = r"^\+[0-9 ().-]{6,31}$"
PHONE_HINT = "Enter the number in international format: + and the country code, e.g. +14155550123."
LOOKS_LIKE_NUMBER = re.compile(r"^[0-9 ().-]{6,}$")
NON_ASCII_MAILBOX = "Use an address with only ASCII characters before the @."
SEND_ACCEPTED = {
    "status": "accepted",
    "detail": "If this address can receive messages, a code is on its way.",
}
VERIFY_FAILED = {"verified": False, "detail": "The code is invalid or has expired."}
END_USER_IP = OpenApiParameter(
    "X-End-User-IP",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="With an API key only: the end user's IP address. Limits and lockouts then count that end "
    "user instead of the key's shared allowance; ignored without a valid key.",
)


class RecipientSerializer(FreshFieldsSerializer):
    """Exactly one of email or phone, a known purpose (default `verification`), and a tenant.

    Only a caller with an API key may name a tenant other than the default.
    """

    email = serializers.EmailField(
        required=False, max_length=254, error_messages={"invalid": "Enter a valid email address."}
    )
    phone = serializers.RegexField(
        PHONE_PATTERN,
        required=False,
        max_length=32,
        help_text="International format: + and the country code, e.g. +14155550123.",
        error_messages={"invalid": PHONE_HINT},
    )
    purpose = serializers.ChoiceField(choices=[], required=False)
    locale = serializers.RegexField(
        LOCALE_PATTERN,
        required=False,
        help_text="Language of the message (en, es, fr, de, pt; others fall back to en). Else Accept-Language.",
    )
    tenant_id = serializers.RegexField(
        TENANT_PATTERN.pattern,
        required=False,
        max_length=64,
        help_text="Only a caller with an API key may name a tenant other than the default.",
        error_messages={"invalid": "Use 1 to 64 letters, digits, '.', '_' or '-'."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        purpose = self.fields.get("purpose")
        if purpose is None:  # a subclass without the field
            return
        purpose.choices = settings.OTP_PURPOSES  # type: ignore[attr-defined]
        purpose.default = settings.OTP_DEFAULT_PURPOSE
        purpose.error_messages["invalid_choice"] = f"Unknown purpose; use one of: {', '.join(settings.OTP_PURPOSES)}."

    def to_internal_value(self, data: Any) -> Any:
        # A number typed without + reads as neither; say how to write it instead of "invalid email".
        email = data.get("email") if isinstance(data, dict) else None
        if isinstance(email, str) and LOOKS_LIKE_NUMBER.match(email):
            raise ValidationError({"email": [PHONE_HINT]})
        if isinstance(email, str) and not email.rpartition("@")[0].isascii():
            # Most mail servers and SDKs cannot carry it (SMTPUTF8): refuse it here, not at a provider.
            raise ValidationError({"email": [NON_ASCII_MAILBOX]})
        return super().to_internal_value(data)

    def validate_email(self, value: str) -> str:
        local, _, domain = value.rpartition("@")
        # An internationalised domain travels as punycode, which every provider can encode.
        return f"{local}@{ascii_domain(domain)}".lower()

    def validate_phone(self, value: str) -> str:
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as err:
            raise serializers.ValidationError(PHONE_HINT) from err
        if not phonenumbers.is_valid_number(number):
            raise serializers.ValidationError("This phone number is not valid.")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("email" in attrs) == ("phone" in attrs):
            raise serializers.ValidationError({"non_field_errors": ["Give exactly one of email or phone."]})
        attrs["tenant_id"] = resolve_tenant(requested=attrs.get("tenant_id"), api_key=self.context.get("api_key"))
        return attrs

    def code_request(self) -> CodeRequest:
        data = self.validated_data
        channel = Channel.EMAIL if "email" in data else Channel.SMS
        return CodeRequest(
            tenant_id=data["tenant_id"],
            recipient=data["email"] if channel == Channel.EMAIL else data["phone"],
            channel=channel,
            purpose=data.get("purpose") or settings.OTP_DEFAULT_PURPOSE,
            locale=requested_locale(data.get("locale"), self.context.get("accept_language", "")),
            test=getattr(self.context.get("api_key"), "kind", "") == "test",
        )


class VerifySerializer(RecipientSerializer):
    code = serializers.RegexField(
        r"^\d{6,10}$", max_length=10, error_messages={"invalid": "Enter the digits you received."}
    )


def enqueue_delivery(otp_id: str) -> None:
    from otp.tasks import deliver_otp

    deliver_otp.delay(otp_id)


def log_otp_event(event: str, code_request: CodeRequest, *, result: str, ip: str, **fields: Any) -> None:
    """One structured line per send or verify; log_event masks the recipient."""
    log_event(
        logger, event, result=result, purpose=code_request.purpose, recipient=code_request.recipient, ip=ip, **fields
    )


def too_many(err: limits.RateLimited) -> Response:
    detail = pumping.REFUSED_DETAIL if err.scope == pumping.SCOPE else "Too many requests. Try again later."
    return Response(
        {"detail": detail, "retry_after": err.retry_after},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(err.retry_after)},
    )


@method_decorator(never_cache, name="dispatch")
class SendCodeView(ApiKeyAuthenticated, APIView):
    """Ask for a code by email or SMS. The answer is the same for every well-formed recipient."""

    @idempotent(anonymous_scope=client_ip, atomic=False)
    @extend_schema(
        request=schema.one_of_recipient(RecipientSerializer, "SendRequest"),
        responses=schema.send_responses(),
        parameters=[schema.RETRY_AFTER, schema.NO_STORE, END_USER_IP],
    )
    def post(self, request: Request) -> Response:
        serializer = RecipientSerializer(
            data=request.data, context={"api_key": request.auth, **locale_context(request)}
        )
        serializer.is_valid(raise_exception=True)
        code_request = serializer.code_request()
        if getattr(request.auth, "kind", "") != "test":  # a test key's sends cost nothing
            refuse_if_budget_spent(code_request.tenant_id)
        ip = client_identity(request, request.auth)
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
            metrics.send_refused(code_request.channel, "destination")
            raise ValidationError({"phone": [str(err)]}) from err
        except limits.RateLimited as err:
            log_otp_event("otp.send", code_request, result="rate_limited", ip=ip, scope=err.scope)
            metrics.send_refused(code_request.channel, err.scope)
            return too_many(err)
        except limits.LimitsUnavailable:
            metrics.send_refused(code_request.channel, "unavailable")
            return unavailable()
        try:
            issue_code(code_request, now=timezone.now(), enqueue=enqueue_delivery)
        except DeliveryNotQueued:
            log_otp_event("otp.send", code_request, result="enqueue_failed", ip=ip, level=logging.WARNING)
            metrics.send_refused(code_request.channel, "unavailable")
            return unavailable()
        log_otp_event("otp.send", code_request, result="accepted", ip=ip, channel=code_request.channel)
        metrics.send_accepted(code_request.channel)
        return Response(SEND_ACCEPTED, status=status.HTTP_202_ACCEPTED)


@method_decorator(never_cache, name="dispatch")
@method_decorator(sensitive_post_parameters("code"), name="dispatch")
class VerifyCodeView(ApiKeyAuthenticated, APIView):
    """Check a code. Wrong, expired, used and unknown all answer alike; a lockout answers 429."""

    @extend_schema(
        request=schema.one_of_recipient(VerifySerializer, "VerifyRequest"),
        responses=schema.verify_responses(),
        parameters=[schema.RETRY_AFTER, schema.NO_STORE, END_USER_IP],
    )
    @sensitive_variables("serializer")
    def post(self, request: Request) -> Response:
        serializer = VerifySerializer(data=request.data, context={"api_key": request.auth})
        serializer.is_valid(raise_exception=True)
        code_request = serializer.code_request()
        ip = client_identity(request, request.auth)
        who = {"tenant_id": code_request.tenant_id, "recipient": code_request.recipient,
               "purpose": code_request.purpose, "client_ip": ip}  # fmt: skip
        try:
            # Admitting a guess counts it as a failure at once (one atomic step), and only when a
            # live code exists: a stranger's guesses at an address with no code lock nobody out.
            live = has_live_code(code_request, now=timezone.now())
            lockout.admit_guess(**who, live_code=live)
            verified = live and verify_code(code_request, serializer.validated_data["code"], now=timezone.now())
            if verified:
                lockout.record_success(**who)
                if code_request.channel == Channel.SMS:
                    pumping.record_verified(
                        code_request.recipient, tenant_id=code_request.tenant_id, client=ip, run=limits.run_script
                    )
        except limits.RateLimited as err:
            log_otp_event("otp.verify", code_request, result="locked", ip=ip)
            metrics.verify_finished("locked")
            return too_many(err)
        except limits.LimitsUnavailable:
            metrics.verify_finished("unavailable")
            return unavailable()
        log_otp_event("otp.verify", code_request, result="success" if verified else "failure", ip=ip)
        metrics.verify_finished("success" if verified else "failure")
        if verified:
            return Response(verified_answer(code_request), status=status.HTTP_200_OK)
        return Response(VERIFY_FAILED, status=status.HTTP_400_BAD_REQUEST)


def verified_answer(code_request: CodeRequest) -> dict[str, Any]:
    """{"verified": true} and a signed token that lets the application's backend trust it."""
    verified = Verified(
        tenant=code_request.tenant_id,
        channel=code_request.channel,
        recipient=code_request.recipient,
        purpose=code_request.purpose,
    )
    token = issue_token(verified, now=timezone.now())
    return {"verified": True, "verification_token": token, "expires_in": settings.OTP_TOKEN_TTL_SECONDS}

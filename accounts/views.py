"""POST /api/v1/accounts/signup: a verified contact and an organisation name become an account."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.decorators import method_decorator
from django.utils.text import slugify
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import AccountContact, Tenant, TenantMember, TenantRole
from accounts.names import refuse_invisible_characters
from accounts.redemption import spend_token
from otp.api import RecipientSerializer
from otp.canonical import canonical_recipient
from otp.schema import DETAIL, FIELD_ERRORS, body_responses, one_of_recipient
from otp.tokens import InvalidToken, decode_token

TOKEN_INVALID = "Your verification has expired or is not valid. Ask for a new code."
TOKEN_MISMATCH = "This verification is for another address. Ask for a new code."
TOKEN_SPENT = "This verification was already used. Ask for a new code."
ALREADY_SIGNED_UP = "An account with this address already exists. Sign in instead."


class SignupSerializer(RecipientSerializer):
    """Organisation name, the contact (exactly one of email or phone) and its verification token."""

    purpose = None  # type: ignore[assignment]
    tenant_id = None  # type: ignore[assignment]
    organisation_name = serializers.CharField(
        max_length=200, error_messages={"blank": "Enter your organisation's name."}
    )
    verification_token = serializers.CharField(
        max_length=4096,
        error_messages={"required": "Verify your address first.", "blank": "Verify your address first."},
    )

    def validate_organisation_name(self, value: str) -> str:
        return refuse_invisible_characters(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        try:
            claims = decode_token(attrs["verification_token"])
        except InvalidToken as err:
            raise serializers.ValidationError({"verification_token": [TOKEN_INVALID]}) from err
        contact = str(attrs.get("email") or attrs.get("phone"))
        if len(contact) > 150:  # the username's length
            raise serializers.ValidationError({"email": ["This address is too long for an account."]})
        expected = (settings.OTP_DEFAULT_TENANT, "signup", contact)
        if (claims["tenant"], claims["purpose"], claims["recipient"]) != expected:
            raise serializers.ValidationError({"verification_token": [TOKEN_MISMATCH]})
        attrs["claims"] = claims
        attrs["contact"] = contact
        return attrs


class AccountCreatedSerializer(serializers.Serializer):
    tenant = serializers.CharField(help_text="The new tenant's slug.")
    organisation_name = serializers.CharField()
    username = serializers.CharField(help_text="The verified email address or phone number.")


class AlreadyExists(Exception):
    pass


@method_decorator(never_cache, name="dispatch")
class SignupView(APIView):
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(
        request=one_of_recipient(SignupSerializer, "SignupRequest"),
        responses={
            201: AccountCreatedSerializer,
            400: OpenApiResponse(FIELD_ERRORS, description="Field errors, or a missing, forged or spent token"),
            409: OpenApiResponse(DETAIL, description="An account with this contact exists"),
            **body_responses(),
        },
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        body = SignupSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            tenant = create_account(data["contact"], data["organisation_name"], data["claims"])
        except AlreadyExists:
            return Response({"detail": ALREADY_SIGNED_UP}, status=status.HTTP_409_CONFLICT)
        if tenant is None:
            return Response({"verification_token": [TOKEN_SPENT]}, status=status.HTTP_400_BAD_REQUEST)
        answer = {"tenant": tenant.slug, "organisation_name": tenant.name, "username": data["contact"]}
        return Response(answer, status=status.HTTP_201_CREATED)


def create_account(contact: str, organisation_name: str, claims: dict[str, Any]) -> Tenant | None:
    """One user and its tenant, spending the token; None if the token was spent already.

    Raises AlreadyExists if the contact, or another spelling of the same mailbox (``+tag``, Gmail's
    dots), has an account; the unique canonical contact decides between two concurrent signups.
    """
    user_model = get_user_model()
    canonical = canonical_recipient(contact)
    if (
        user_model.objects.filter(username=contact).exists()
        or AccountContact.objects.filter(canonical=canonical).exists()
    ):
        raise AlreadyExists
    try:
        with transaction.atomic():
            if not spend_token(claims):
                return None
            user = user_model(username=contact, email=contact if "@" in contact else "")
            user.set_unusable_password()
            user.save()
            AccountContact.objects.create(canonical=canonical, user=user)
            tenant = Tenant.objects.create(slug=unique_slug(organisation_name), name=organisation_name, owner=user)
            TenantMember.objects.create(tenant=tenant, user=user, role=TenantRole.OWNER)
            return tenant
    except IntegrityError as err:
        raise AlreadyExists from err


def unique_slug(name: str) -> str:
    base = slugify(name)[:56] or "org"
    slug, n = base, 1
    while Tenant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug

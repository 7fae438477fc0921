"""Trusting a verification: the single-use redeem endpoint, for a backend with an API key.

A spent token's `jti` is kept by accounts.redemption; otp.tokens reads the token, and otp.jwks
serves the public keys a backend needs to trust tokens offline instead.
"""

from __future__ import annotations

from typing import Any

from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.keys import ApiKeyAuthentication
from accounts.models import ApiKey
from accounts.redemption import spend_token
from otp.schema import DETAIL, body_responses
from otp.tokens import InvalidToken, decode_token

REFUSED: dict[str, Any] = {
    "type": "object",
    "properties": {"redeemed": {"type": "boolean", "enum": [False]}, "detail": {"type": "string"}},
    "required": ["redeemed", "detail"],
}
INVALID = {"redeemed": False, "detail": "The token is invalid or has expired."}


def other_tenant(token_tenant: str, key_tenant: str) -> dict[str, Any]:
    """A token is readable by whoever holds it, so naming its tenant tells the caller nothing new."""
    return {
        "redeemed": False,
        "detail": f"This token was issued for tenant {token_tenant!r}, not for your API key's tenant "
        f"{key_tenant!r}. Ask for and verify codes with your API key so that tokens name your tenant.",
    }


class HasApiKey(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)


class RedeemRequestSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=4096, help_text="The verification_token from a verify.")


class RedeemedSerializer(serializers.Serializer):
    redeemed = serializers.BooleanField(help_text="Always true here.")
    tenant = serializers.CharField()
    channel = serializers.ChoiceField(choices=["email", "sms"])
    recipient = serializers.CharField()
    purpose = serializers.CharField()
    verified_at = serializers.IntegerField(help_text="Unix time of the verification (the token's iat).")


@method_decorator(never_cache, name="dispatch")
class RedeemTokenView(APIView):
    """POST /api/v1/auth/otp/token/redeem: for a backend with an API key; each token redeems once."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]

    @extend_schema(
        request=RedeemRequestSerializer,
        responses={
            200: RedeemedSerializer,
            400: OpenApiResponse({"oneOf": [REFUSED, DETAIL]}, description="Invalid, expired or foreign token"),
            401: OpenApiResponse(DETAIL, description="No API key, or not a valid one"),
            409: OpenApiResponse(REFUSED, description="Already redeemed"),
            **body_responses(),
        },
        tags=["tokens"],
    )
    def post(self, request: Request) -> Response:
        body = RedeemRequestSerializer(data=request.data)
        if not body.is_valid():
            return Response(INVALID, status=status.HTTP_400_BAD_REQUEST)
        try:
            claims = decode_token(body.validated_data["token"])
        except InvalidToken:
            return Response(INVALID, status=status.HTTP_400_BAD_REQUEST)
        assert isinstance(request.auth, ApiKey)
        if claims["tenant"] != request.auth.tenant.slug:
            return Response(
                other_tenant(claims["tenant"], request.auth.tenant.slug), status=status.HTTP_400_BAD_REQUEST
            )
        if not spend_token(claims):
            return Response(
                {"redeemed": False, "detail": "This token was already redeemed."}, status=status.HTTP_409_CONFLICT
            )
        fields = ("tenant", "channel", "recipient", "purpose")
        return Response({"redeemed": True, **{name: claims[name] for name in fields}, "verified_at": claims["iat"]})

"""GET /.well-known/jwks.json: the public keys that let a backend trust a verification token offline."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from otp.tokens import jwks

JWK_SET: dict[str, Any] = {
    "type": "object",
    "properties": {
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "kty": {"type": "string", "enum": ["EC"]},
                    "crv": {"type": "string", "enum": ["P-256"]},
                    "x": {"type": "string"},
                    "y": {"type": "string"},
                    "kid": {"type": "string"},
                    "alg": {"type": "string", "enum": ["ES256"]},
                    "use": {"type": "string", "enum": ["sig"]},
                },
                "required": ["kty", "crv", "x", "y", "kid", "alg", "use"],
            },
        }
    },
    "required": ["keys"],
}


class JwksView(APIView):
    """GET /.well-known/jwks.json: every public key whose tokens may still be valid."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(responses={200: OpenApiResponse(JWK_SET, description="JSON Web Key Set")}, tags=["tokens"])
    def get(self, request: Request) -> Response:
        # Short caching: after a rotation, backends see the new key within minutes (and a
        # JWKS client refetches on an unknown kid anyway).
        return Response(jwks(), headers={"Cache-Control": "public, max-age=300"})

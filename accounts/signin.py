"""Sign-in by code: GET /login/ is the page, POST /login/ turns a `login` verification into a session.

The page (otp/templates/otp/login.html, static/otp/login.js) asks the OTP API for a code with
purpose `login` and verifies it; the verification token it gets back is posted here, with the
contact, to log the account's user in with a Django session. Each token signs in once.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache

from accounts.redemption import spend_token
from otp.api import RecipientSerializer
from otp.tokens import InvalidToken, decode_token

TOKEN_INVALID = "Your verification has expired or is not valid. Ask for a new code."
TOKEN_MISMATCH = "This verification is for another address. Ask for a new code."
TOKEN_SPENT = "This verification was already used. Ask for a new code."
NO_ACCOUNT = "No account uses this address. Sign up instead."


def _contact(body: dict[str, Any]) -> str | dict[str, Any]:
    """The canonical email or E.164 number, or the field errors."""
    contact = RecipientSerializer(data={key: body[key] for key in ("email", "phone") if key in body})
    if not contact.is_valid():
        return dict(contact.errors)
    return str(contact.validated_data.get("email") or contact.validated_data.get("phone"))


def _claims(token: Any, contact: str) -> dict[str, Any] | str:
    """The token's claims if it is a `login` verification of `contact` for the default tenant."""
    if not isinstance(token, str) or not token:
        return TOKEN_INVALID
    try:
        claims = decode_token(token)
    except InvalidToken:
        return TOKEN_INVALID
    if (claims["tenant"], claims["purpose"], claims["recipient"]) != (settings.OTP_DEFAULT_TENANT, "login", contact):
        return TOKEN_MISMATCH
    return claims


def safe_next(request: HttpRequest, target: Any) -> str:
    """Where to go after signing in: `next` if it stays on this site, the landing page otherwise."""
    allowed = isinstance(target, str) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else "/"


@method_decorator(never_cache, name="dispatch")
class SignInView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        context = {
            "next": safe_next(request, request.GET.get("next")),
            "cooldown_seconds": settings.OTP_RESEND_COOLDOWN_SECONDS,
            "ttl_seconds": settings.OTP_TTL_SECONDS,
            "max_attempts": settings.OTP_MAX_ATTEMPTS,
        }
        return render(request, "otp/login.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        """200 {"signed_in": true, "username", "next"}; 400 field errors or a bad token; 404 no account."""
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"detail": "Send a JSON body."}, status=400)
        if not isinstance(body, dict):
            return JsonResponse({"detail": "Send a JSON object."}, status=400)
        contact = _contact(body)
        if isinstance(contact, dict):
            return JsonResponse(contact, status=400)
        claims = _claims(body.get("verification_token"), contact)
        if isinstance(claims, str):
            return JsonResponse({"verification_token": [claims]}, status=400)
        user = get_user_model().objects.filter(username=contact, is_active=True).first()
        if user is None:
            return JsonResponse({"detail": NO_ACCOUNT}, status=404)
        if not spend_token(claims):
            return JsonResponse({"verification_token": [TOKEN_SPENT]}, status=400)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        answer = {"signed_in": True, "username": user.get_username(), "next": safe_next(request, body.get("next"))}
        return JsonResponse(answer)

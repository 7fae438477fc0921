from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path
from django.views.generic import TemplateView


class SignupPage(TemplateView):
    """The signup page; its script (static/otp/signup.js) calls the send, verify and signup APIs."""

    template_name = "otp/signup.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_context_data(**kwargs),
            "cooldown_seconds": settings.OTP_RESEND_COOLDOWN_SECONDS,
            "ttl_seconds": settings.OTP_TTL_SECONDS,
            "max_attempts": settings.OTP_MAX_ATTEMPTS,
            # Where a new account goes next; empty: the page says what happens now.
            "success_url": settings.SIGNUP_SUCCESS_URL,
        }


class LandingPage(TemplateView):
    """GET /: what this service is and where to go (also where the admin's "View site" leads)."""

    template_name = "otp/landing.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        user = self.request.user
        # The admin's address is kept unguessable in production: linked for staff and in development only.
        show_admin = settings.DEBUG or (user.is_authenticated and user.is_staff)
        return {**super().get_context_data(**kwargs), "show_admin": show_admin}


urlpatterns = [
    path("", SignupPage.as_view(), name="signup"),
]

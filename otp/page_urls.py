from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path
from django.views.generic import TemplateView


class SignupPage(TemplateView):
    """The signup page; its script (static/otp/signup.js) calls the send, verify and signup APIs."""

    template_name = "otp/signup.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "cooldown_seconds": settings.OTP_RESEND_COOLDOWN_SECONDS}


urlpatterns = [
    path("", SignupPage.as_view(), name="signup"),
]

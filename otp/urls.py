from __future__ import annotations

from django.urls import path

from otp.api import SendCodeView, VerifyCodeView

urlpatterns = [
    path("send", SendCodeView.as_view(), name="otp-send"),
    path("verify", VerifyCodeView.as_view(), name="otp-verify"),
]

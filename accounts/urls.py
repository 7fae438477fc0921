from __future__ import annotations

from django.urls import path

from accounts.views import SignupView

urlpatterns = [
    path("signup", SignupView.as_view(), name="accounts-signup"),
]

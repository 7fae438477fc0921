from __future__ import annotations

from django.urls import path

from observability.health import LivenessView, MessagingHealthView

urlpatterns = [
    path("health/messaging", MessagingHealthView.as_view(), name="health-messaging"),
    path("health", LivenessView.as_view(), name="health"),
]

from __future__ import annotations

from django.urls import path

from notifications.api import MessageDetailView, MessagesView

urlpatterns = [
    path("messages", MessagesView.as_view(), name="messages"),
    path("messages/<uuid:message_id>", MessageDetailView.as_view(), name="message-detail"),
]

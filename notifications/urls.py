from __future__ import annotations

from django.urls import path

from notifications.api import MessageDetailView, MessagesView
from notifications.callbacks.api import EndpointDetailView, EndpointsView
from notifications.template_api import TemplateDetailView, TemplatePreviewView, TemplatesView

urlpatterns = [
    path("messages", MessagesView.as_view(), name="messages"),
    path("messages/<uuid:message_id>", MessageDetailView.as_view(), name="message-detail"),
    path("templates", TemplatesView.as_view(), name="templates"),
    path("templates/<str:template_id>", TemplateDetailView.as_view(), name="template-detail"),
    path("templates/<str:template_id>/preview", TemplatePreviewView.as_view(), name="template-preview"),
    path("callbacks", EndpointsView.as_view(), name="callbacks"),
    path("callbacks/<str:endpoint_id>", EndpointDetailView.as_view(), name="callback-detail"),
]

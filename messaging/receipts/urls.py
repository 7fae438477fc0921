from __future__ import annotations

from django.urls import path

from messaging.receipts.views import sendgrid_webhook, ses_webhook, twilio_webhook

urlpatterns = [
    path("webhooks/sendgrid", sendgrid_webhook, name="webhook-sendgrid"),
    path("webhooks/twilio", twilio_webhook, name="webhook-twilio"),
    path("webhooks/ses", ses_webhook, name="webhook-ses"),
]

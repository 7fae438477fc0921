"""POST /webhooks/ses: SES events through an SNS HTTPS subscription (messaging.receipts.views for the answers)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.providers.ses.receipts import ses_receipts
from messaging.providers.ses.sns_http import confirm_subscription, verified_sns_message
from messaging.receipts.base import Receipt
from messaging.receipts.views import read_body, read_receipts
from otpsite.logs import log_event

logger = logging.getLogger("messaging.receipts")


@csrf_exempt
@require_POST
def ses_webhook(request: HttpRequest) -> HttpResponse:
    if not settings.SES_RECEIPTS_ENABLED:
        raise Http404  # switched off: no certificate fetched, no subscription confirmed

    def read() -> list[Receipt]:
        message = verified_sns_message(read_body(request), now=timezone.now())
        if message["Type"] == "SubscriptionConfirmation":
            confirm_subscription(message)
            log_event(logger, "receipt.subscription_confirmed", provider="ses", topic=str(message.get("TopicArn")))
            return []
        if message["Type"] != "Notification":
            return []
        return ses_receipts(message)

    return read_receipts("ses", read)


urlpatterns = [path("webhooks/ses", ses_webhook, name="webhook-ses")]

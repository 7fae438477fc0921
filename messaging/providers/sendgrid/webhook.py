"""POST /webhooks/sendgrid: SendGrid's signed Event Webhook (messaging.receipts.views for the answers)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.providers.sendgrid.receipts import SIGNATURE_HEADER, TIMESTAMP_HEADER, sendgrid_receipts, verify_sendgrid
from messaging.receipts.base import Receipt
from messaging.receipts.views import read_body, read_receipts


@csrf_exempt
@require_POST
def sendgrid_webhook(request: HttpRequest) -> HttpResponse:
    def read() -> list[Receipt]:
        body = read_body(request)
        verify_sendgrid(
            body=body,
            signature=request.headers.get(SIGNATURE_HEADER, ""),
            timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
            now=timezone.now(),
        )
        return sendgrid_receipts(body)

    return read_receipts("sendgrid", read)


urlpatterns = [path("webhooks/sendgrid", sendgrid_webhook, name="webhook-sendgrid")]

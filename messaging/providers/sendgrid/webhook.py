"""POST /webhooks/sendgrid: SendGrid's signed Event Webhook (messaging.receipts.views for the answers)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.providers.sendgrid.receipts import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    first_message_id,
    sendgrid_receipts,
    verify_sendgrid,
)
from messaging.receipts.base import Receipt
from messaging.receipts.views import read_body, read_receipts
from messaging.tenancy.receipts import signed_with, signing_secret

KEY_SETTING = "SENDGRID_WEBHOOK_PUBLIC_KEY"


@csrf_exempt
@require_POST
def sendgrid_webhook(request: HttpRequest) -> HttpResponse:
    def read() -> list[Receipt]:
        body = read_body(request)
        # One account's webhook posts the batch: the key of the account its first message was sent
        # with checks it (a tenant's own, or ours); only its events about that account's messages count.
        key = signing_secret("sendgrid", first_message_id(body), KEY_SETTING)
        verify_sendgrid(
            body=body,
            signature=request.headers.get(SIGNATURE_HEADER, ""),
            timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
            now=timezone.now(),
            key=key,
        )
        return signed_with("sendgrid", sendgrid_receipts(body), setting=KEY_SETTING, secret=key)

    return read_receipts("sendgrid", read)


urlpatterns = [path("webhooks/sendgrid", sendgrid_webhook, name="webhook-sendgrid")]

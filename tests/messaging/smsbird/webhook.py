"""POST /webhooks/smsbird: SmsBird's signed status reports (messaging.receipts.views for the answers)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.receipts.base import Receipt
from messaging.receipts.views import read_body, read_receipts
from tests.messaging.smsbird.receipts import SIGNATURE_HEADER, TIMESTAMP_HEADER, smsbird_receipts, verify_smsbird


@csrf_exempt
@require_POST
def smsbird_webhook(request: HttpRequest) -> HttpResponse:
    def read() -> list[Receipt]:
        body = read_body(request)
        signature, timestamp = request.headers.get(SIGNATURE_HEADER, ""), request.headers.get(TIMESTAMP_HEADER, "")
        verify_smsbird(body=body, signature=signature, timestamp=timestamp, now=timezone.now())
        return smsbird_receipts(body)

    return read_receipts("smsbird", read)


urlpatterns = [path("webhooks/smsbird", smsbird_webhook, name="webhook-smsbird")]

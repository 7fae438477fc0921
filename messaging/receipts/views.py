"""POST /webhooks/{sendgrid,twilio,ses}: signature first, then receipts; 403 changes nothing.

Plain Django views (no DRF parsing or content negotiation): each request is one signature check
and one short transaction per receipt. No session, no CSRF token, no authentication but the
provider's signature.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.receipts.base import MalformedReceipt, Receipt, ReceiptRefused, ReceiptUnavailable
from messaging.receipts.pending import apply_or_park
from messaging.receipts.sendgrid import SIGNATURE_HEADER, TIMESTAMP_HEADER, sendgrid_receipts, verify_sendgrid
from messaging.receipts.ses import ses_receipts
from messaging.receipts.sns_http import confirm_subscription, verified_sns_message
from messaging.receipts.twilio import twilio_receipts, verify_twilio
from otpsite.logs import log_event

logger = logging.getLogger("messaging.receipts")

# SendGrid batches events and SNS messages reach 256 KB: more than the 64 KB API bodies may carry.
WEBHOOK_MAX_BODY_BYTES = 1024 * 1024


class BodyTooLarge(Exception):
    pass


def read_body(request: HttpRequest) -> bytes:
    """The raw body, up to WEBHOOK_MAX_BODY_BYTES (read from the stream, past DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    body = request.read(WEBHOOK_MAX_BODY_BYTES + 1)
    if len(body) > WEBHOOK_MAX_BODY_BYTES:
        raise BodyTooLarge
    return body


def _answer(provider: str, read: Callable[[], list[Receipt]]) -> HttpResponse:
    try:
        receipts = read()
    except BodyTooLarge:
        return HttpResponse(status=413)
    except ReceiptRefused as err:
        log_event(logger, "receipt.refused", level=logging.WARNING, provider=provider, reason=str(err))
        return HttpResponse(status=403)
    except ReceiptUnavailable as err:
        log_event(logger, "receipt.unavailable", level=logging.WARNING, provider=provider, reason=str(err))
        return HttpResponse(status=503, headers={"Retry-After": "10"})
    except MalformedReceipt as err:
        log_event(logger, "receipt.malformed", level=logging.WARNING, provider=provider, reason=str(err))
        return HttpResponse(str(err), status=400, content_type="text/plain")
    for receipt in receipts:
        apply_or_park(receipt)
    return HttpResponse(status=200)


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

    return _answer("sendgrid", read)


@csrf_exempt
@require_POST
def twilio_webhook(request: HttpRequest) -> HttpResponse:
    def read() -> list[Receipt]:
        # Twilio signs the URL it called: behind a proxy that is the public one, not ours.
        base = settings.MESSAGING_WEBHOOK_BASE_URL
        url = f"{base}{request.get_full_path()}" if base else request.build_absolute_uri()
        form = {key: request.POST.get(key, "") for key in request.POST}
        verify_twilio(url=url, form=form, signature=request.headers.get("X-Twilio-Signature", ""))
        return twilio_receipts(form)

    return _answer("twilio", read)


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

    return _answer("ses", read)

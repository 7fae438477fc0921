"""What every receipt webhook shares: the body limit, and the answer for each way a callback fails.

Each provider's webhook lives in its folder (messaging/providers/<name>/webhook.py): a plain Django
view (no DRF parsing or content negotiation) that reads the callback with `read_receipts`:
signature first, then receipts; 403 changes nothing. Each request is one signature check and one
short transaction per receipt. No session, no CSRF token, no authentication but the provider's
signature. The URLs come from the registry (messaging/receipts/urls.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from messaging.receipts.base import MalformedReceipt, Receipt, ReceiptRefused, ReceiptUnavailable
from messaging.receipts.pending import apply_or_park
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


def read_receipts(provider: str, read: Callable[[], list[Receipt]]) -> HttpResponse:
    """Run `read` (check the signature, then parse) and apply what it returns; answer the provider."""
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

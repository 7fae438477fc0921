"""POST /webhooks/twilio: Twilio's signed status callbacks (messaging.receipts.views for the answers)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.providers.twilio.receipts import WEBHOOK_PATH, message_sid, twilio_receipts, verify_twilio
from messaging.receipts.base import Receipt
from messaging.receipts.views import read_receipts
from messaging.tenancy.receipts import signing_secret


@csrf_exempt
@require_POST
def twilio_webhook(request: HttpRequest) -> HttpResponse:
    def read() -> list[Receipt]:
        # Twilio signs the URL it called: behind a proxy that is the public one, not ours.
        base = settings.MESSAGING_WEBHOOK_BASE_URL
        url = f"{base}{request.get_full_path()}" if base else request.build_absolute_uri()
        form = {key: request.POST.get(key, "") for key in request.POST}
        # Signed with the auth token of the account the message was sent with (a tenant's own, or ours).
        token = signing_secret("twilio", message_sid(form), "TWILIO_AUTH_TOKEN")
        verify_twilio(url=url, form=form, signature=request.headers.get("X-Twilio-Signature", ""), token=token)
        return twilio_receipts(form)

    return read_receipts("twilio", read)


urlpatterns = [path(WEBHOOK_PATH.lstrip("/"), twilio_webhook, name="webhook-twilio")]

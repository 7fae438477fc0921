"""The bench's baselines: a bare DRF view, a no-op Celery task and a bare provider call.

The view validates a tiny body, inserts one row and enqueues one no-op task: the least a send
endpoint can do. It is reachable only under bench/_settings.py (ROOT_URLCONF), never in the
service. `bench.provider_call` makes the HTTP call a delivery makes, through the same provider
client and connection pool, and nothing else (no database, no breaker, no code): the least a
delivery can do (bench/latency.py). Workers load this module with `--include=bench._baseline`.
"""

from __future__ import annotations

from django.urls import path
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging.models import Channel, CommunicationLog, MessageStatus
from messaging.providers.base import EmailMessage, SmsMessage
from messaging.registry import provider_class
from otpsite.celery import app
from web.urls import urlpatterns as service_urlpatterns

BASELINE_PATH = "bench/baseline"


@app.task(name="bench.noop")
def noop() -> None:
    return None


@app.task(name="bench.provider_call")
def provider_call(provider: str, to: str) -> str:
    """One provider call with a message shaped like an OTP's; raises (and so is counted) if it fails."""
    cls = provider_class(provider)
    if cls.channel == Channel.SMS:
        message: EmailMessage | SmsMessage = SmsMessage(to=to, body="123456 is your code. Never share it.")
    else:
        message = EmailMessage(
            to=to, subject="Your code", text="Your code is 123456", from_email="no-reply@example.com"
        )
    return cls().send(message).provider_message_id


class TinySerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)


class BaselineView(APIView):
    def post(self, request: Request) -> Response:
        serializer = TinySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        CommunicationLog.objects.create(
            recipient=serializer.validated_data["email"],
            channel=Channel.EMAIL,
            purpose="bench",
            status=MessageStatus.QUEUED,
        )
        noop.delay()
        return Response({"status": "accepted"}, status=status.HTTP_202_ACCEPTED)


urlpatterns = [*service_urlpatterns, path(BASELINE_PATH, BaselineView.as_view())]

"""The bench's baseline: a bare DRF view and a no-op Celery task, served next to the real URLs.

The view validates a tiny body, inserts one row and enqueues one no-op task: the least a send
endpoint can do. It is reachable only under bench/_settings.py (ROOT_URLCONF), never in the
service. Workers load this module with `--include=bench._baseline` to run the no-op task.
"""

from __future__ import annotations

from django.urls import path
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging.models import Channel, CommunicationLog, MessageStatus
from otpsite.urls import urlpatterns as service_urlpatterns
from workers.celery import app

BASELINE_PATH = "bench/baseline"


@app.task(name="bench.noop")
def noop() -> None:
    return None


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

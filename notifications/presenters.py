"""A tenant message as the API shows it: status, provider, attempts, receipts, cost with currency."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse

from messaging.models import CommunicationLog
from messaging.pricing import CURRENCY
from notifications.models import Message


def self_link(message: Message) -> str:
    return reverse("message-detail", kwargs={"message_id": message.log.message_id})


def accepted(message: Message) -> dict[str, Any]:
    return {"id": str(message.log.message_id), "status": "queued", "links": {"self": self_link(message)}}


def _logs(message: Message) -> list[CommunicationLog]:
    return [log for log in (message.log, message.resend_log) if log is not None]


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def cost(message: Message) -> dict[str, str] | None:
    costs = [log.cost for log in _logs(message) if log.cost is not None]
    if not costs:
        return None
    return {"amount": f"{sum(costs, Decimal('0')).normalize():f}", "currency": CURRENCY}


def summary(message: Message) -> dict[str, Any]:
    current = message.current_log
    return {
        "id": str(message.log.message_id),
        "channel": message.channel,
        "to": message.recipient,
        "status": current.status,
        "reference": message.reference or None,
        "template": {"name": message.template, "version": message.template_version} if message.template else None,
        "locale": message.locale or None,
        "provider": current.provider_used or None,
        "segments": message.segments,
        "encoding": message.encoding or None,
        "cost": cost(message),
        "test": message.test,
        "metadata": message.metadata,
        "created_at": _time(message.created_at),
        "sent_at": _time(current.sent_at),
        "delivered_at": _time(current.delivered_at),
        "links": {"self": self_link(message)},
    }


def detail(message: Message) -> dict[str, Any]:
    attempts, receipts = [], []
    for log in _logs(message):
        attempts += [
            {"time": _time(a.created_at), "provider": a.provider, "outcome": a.outcome,
             "error_code": a.error_code or None, "reason": a.reason or None}
            for a in log.attempts.all()
        ]  # fmt: skip
        receipts += [
            {"time": _time(r.occurred_at or r.received_at), "provider": r.provider, "event": r.event,
             "code": r.code or None}
            for r in log.receipts.all()
        ]  # fmt: skip
    return {**summary(message), "attempts": attempts, "receipts": receipts}

"""Signed receipts that arrive before their message id is stored wait here, bounded and expiring.

A fast provider can report delivery before the worker that sent the message has written the
provider's message id (GOV.UK Notify retries such receipts for 5 minutes). Such a receipt is kept
in Redis for MESSAGING_PENDING_RECEIPT_TTL_SECONDS, at most MESSAGING_PENDING_RECEIPTS_MAX per
provider (beyond that, or without Redis, it is dropped as before), and beat applies it once the id
appears. Only callers that verified the receipt's signature (or read it from the provider's own
API) may call apply_or_park: unsigned input never reaches this module.

Redis, per provider: a sorted set of event keys scored by their expiry (ms) and a hash of
event key -> the receipt as JSON; both keys expire with their newest entry.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone

from messaging import registry
from messaging.models import CommunicationLog
from messaging.receipts.base import Receipt, apply_receipt
from otpsite.logs import log_event
from otpsite.redis import get_redis, slotted_key

logger = logging.getLogger("messaging.receipts")

PURGE_BATCH = 500

# KEYS: the set, the hash. ARGV: now ms, expiry ms, event key, cap, receipt JSON, ttl ms.
# Returns 1 parked, 2 already parked, 0 full.
_PARK = """
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 500)
if #old > 0 then redis.call('ZREM', KEYS[1], unpack(old)); redis.call('HDEL', KEYS[2], unpack(old)) end
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 2 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return 1
"""


def _client() -> Any:
    """The synchronous Redis client (redis-py's stubs also allow async answers)."""
    return get_redis()


def _keys(provider: str) -> tuple[str, str]:
    # One Redis Cluster slot per provider: the parking script touches both keys.
    return slotted_key(f"pending-receipts:{provider}"), slotted_key(f"pending-receipts:{provider}", "data")


def apply_or_park(receipt: Receipt, *, now: datetime | None = None) -> str:
    """apply_receipt, and park a verified receipt whose message id is not stored yet: + "parked"."""
    now = now or timezone.now()
    result = apply_receipt(receipt, now=now)
    if result != "unknown":
        return result
    parked = park(receipt, now=now)
    log_event(logger, "receipt.unknown_message", provider=receipt.provider, event_key=receipt.event_key,
              parked=parked)  # fmt: skip
    return "parked" if parked else "unknown"


def park(receipt: Receipt, *, now: datetime) -> bool:
    """Keep `receipt` until its message id appears or it expires; False when full or Redis is down."""
    if not receipt.provider_message_id or settings.MESSAGING_PENDING_RECEIPTS_MAX <= 0:
        return False
    now_ms = int(now.timestamp() * 1000)
    ttl_ms = settings.MESSAGING_PENDING_RECEIPT_TTL_SECONDS * 1000
    fields = {**asdict(receipt), "occurred_at": receipt.occurred_at.isoformat() if receipt.occurred_at else None}
    try:
        result = _client().eval(_PARK, 2, *_keys(receipt.provider), now_ms, now_ms + ttl_ms, receipt.event_key,
                                  settings.MESSAGING_PENDING_RECEIPTS_MAX, json.dumps(fields), ttl_ms)  # fmt: skip
    except redis.RedisError:
        return False
    return int(result) != 0


def pending_count(provider: str, *, now: datetime) -> int:
    """How many unexpired receipts of `provider` wait (0 without Redis)."""
    try:
        return int(_client().zcount(_keys(provider)[0], int(now.timestamp() * 1000) + 1, "+inf"))
    except redis.RedisError:
        return 0


def anything_parked(*, now: datetime) -> bool:
    """Whether a receipt waits for its message id (beat asks before sending the sweep; Redis down: True)."""
    try:
        return any(_client().exists(_keys(provider)[0]) for provider in registry.receipt_senders())
    except redis.RedisError:
        return True


def apply_pending(*, now: datetime | None = None) -> int:
    """Beat: apply every waiting receipt whose message id is now stored. Returns how many were applied."""
    now = now or timezone.now()
    applied = 0
    for provider in registry.receipt_senders():
        try:
            applied += _apply_pending_of(provider, now=now)
        except redis.RedisError as err:
            log_event(logger, "receipt.pending_unreadable", level=logging.WARNING, error=type(err).__name__)
            return applied
    return applied


def _apply_pending_of(provider: str, *, now: datetime) -> int:
    zset, data = _keys(provider)
    client = _client()
    now_ms = int(now.timestamp() * 1000)
    expired = client.zrangebyscore(zset, "-inf", now_ms, start=0, num=PURGE_BATCH)
    if expired:
        client.zrem(zset, *expired)
        client.hdel(data, *expired)
    live = client.zrangebyscore(zset, now_ms + 1, "+inf")
    if not live:
        return 0
    waiting = [_receipt(text) for text in client.hmget(data, live) if text]
    ids = {r.provider_message_id for r in waiting}
    stored = set(
        CommunicationLog.objects.filter(provider_used=provider, provider_message_id__in=ids).values_list(
            "provider_message_id", flat=True
        )
    )
    ready = [r for r in waiting if r.provider_message_id in stored]
    for receipt in sorted(ready, key=lambda r: r.occurred_at or now):
        apply_receipt(receipt, now=now)
    if ready:
        client.zrem(zset, *(r.event_key for r in ready))
        client.hdel(data, *(r.event_key for r in ready))
    return len(ready)


def _receipt(text: str) -> Receipt:
    fields = json.loads(text)
    when = fields.pop("occurred_at")
    return Receipt(**fields, occurred_at=datetime.fromisoformat(when) if when else None)

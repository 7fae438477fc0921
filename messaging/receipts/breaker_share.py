"""How much failure receipts may weigh on a provider's circuit breaker.

A failure send opens a breaker after BREAKER_FAILURE_THRESHOLD (5) faults in a row, each a real call.
Receipts arrive in bursts and from outside; each provider-blamed one counts only while fewer than
MESSAGING_RECEIPT_BREAKER_FAILURES_PER_WINDOW (1) have counted in the current fixed window of
MESSAGING_RECEIPT_BREAKER_WINDOW_SECONDS (60). Receipts alone then need five windows, so more than
three full windows (just over 3 minutes) of provider-blamed failures with no accepted send in
between (a success resets the count), to open a breaker: never faster than five failing sends,
and no burst of receipts, forged or real, opens one. Without Redis none counts.
"""

from __future__ import annotations

from datetime import datetime

import redis
from django.conf import settings

from otpsite.redis import get_redis, redis_key


def receipt_may_count_against_breaker(provider: str, *, now: datetime) -> bool:
    """Take one of `provider`'s receipt-failure allowances for this window; False when none is left."""
    limit = settings.MESSAGING_RECEIPT_BREAKER_FAILURES_PER_WINDOW
    window = max(1, settings.MESSAGING_RECEIPT_BREAKER_WINDOW_SECONDS)
    if limit <= 0:
        return False
    key = redis_key("receipt-breaker", provider, str(int(now.timestamp()) // window))
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, window + 1)
        count, _ = pipe.execute()
    except redis.RedisError:
        return False
    return int(count) <= limit

"""Throttled admin login: a burst of wrong passwords cannot guess its way in.

Every attempt is counted before the password is checked (one atomic Redis step per key): at most
ADMIN_LOGIN_LIMIT_PER_USER attempts per username and ADMIN_LOGIN_LIMIT_PER_IP per client IP in
ADMIN_LOGIN_WINDOW_SECONDS. A successful login forgets the username's count. Past a limit even the
right password is refused until the window ends. Redis unreachable: the login is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from typing import Any

import redis
from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm

from messaging.masking import log_event
from otp.network import client_ip
from otpsite.redis import get_redis, redis_key

logger = logging.getLogger("otpsite.admin_login")

# KEYS: counters; ARGV[1] window ms, then one limit per key. Counts the attempt on every key and
# returns the index (1-based) of the first key over its limit, 0 if none.
_ATTEMPT_SCRIPT = """
local over = 0
for i = 1, #KEYS do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
  if n > tonumber(ARGV[i + 1]) and over == 0 then over = i end
end
return over
"""


class ThrottledAdminLoginForm(AdminAuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = (self.cleaned_data.get("username") or "").strip().lower()
        ip = client_ip(self.request) if self.request is not None else "0.0.0.0"
        user_key = redis_key("admin_login", "user", hashlib.sha256(username.encode()).hexdigest()[:32])
        keys = [user_key, redis_key("admin_login", "ip", ip)]
        limits = [settings.ADMIN_LOGIN_LIMIT_PER_USER, settings.ADMIN_LOGIN_LIMIT_PER_IP]
        try:
            over = get_redis().eval(
                _ATTEMPT_SCRIPT, len(keys), *keys, settings.ADMIN_LOGIN_WINDOW_SECONDS * 1000, *limits
            )
        except redis.RedisError as err:
            raise forms.ValidationError("Login is temporarily unavailable. Try again shortly.") from err
        if over:
            log_event(logger, "admin.login", level=logging.WARNING, result="throttled", ip=ip)
            raise forms.ValidationError("Too many login attempts. Try again later.", code="throttled")
        cleaned = super().clean()
        with contextlib.suppress(redis.RedisError):  # else the count simply expires with its window
            get_redis().delete(user_key)
        return cleaned

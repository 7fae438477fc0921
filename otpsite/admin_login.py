"""Throttled admin login: a burst of wrong passwords cannot guess its way in, nor lock the owner out.

Every attempt is counted before the password is checked (one atomic Redis step): at most
ADMIN_LOGIN_LIMIT_PER_USER attempts per (username, client IP) and ADMIN_LOGIN_LIMIT_PER_IP per
client IP in ADMIN_LOGIN_WINDOW_SECONDS. Past ADMIN_LOGIN_USER_CEILING attempts at one username
from all addresses, each address gets only its first attempt in the window: guessing from many
addresses slows to one try per address, while the owner, from an address that has not tried, still
gets in. Past a limit even the right password is refused until the window ends. A successful login
forgets its own counts. Redis unreachable: the login is refused.
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

from otpsite.logs import log_event
from otpsite.network import client_ip
from otpsite.redis import get_redis, slotted_key

logger = logging.getLogger("otpsite.admin_login")

# KEYS[1] (username, IP), KEYS[2] IP, KEYS[3] username from all IPs; ARGV[1] window ms, then one
# limit per key. Counts the attempt on every key and returns the index (1-based) of the key that
# refuses it, 0 if none. The username's ceiling refuses only an address that already tried.
_ATTEMPT_SCRIPT = """
local counts = {}
for i = 1, #KEYS do
  counts[i] = redis.call('INCR', KEYS[i])
  if counts[i] == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
if counts[1] > tonumber(ARGV[2]) then return 1 end
if counts[2] > tonumber(ARGV[3]) then return 2 end
if counts[3] > tonumber(ARGV[4]) and counts[1] > 1 then return 3 end
return 0
"""


class ThrottledAdminLoginForm(AdminAuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = (self.cleaned_data.get("username") or "").strip().lower()
        ip = client_ip(self.request) if self.request is not None else "0.0.0.0"
        user = hashlib.sha256(username.encode()).hexdigest()[:32]
        # One Redis Cluster slot: the script counts the user, the address and both together.
        user_ip_key = slotted_key("admin_login", "user_ip", user, ip)
        keys = [user_ip_key, slotted_key("admin_login", "ip", ip), slotted_key("admin_login", "user", user)]
        limits = [settings.ADMIN_LOGIN_LIMIT_PER_USER, settings.ADMIN_LOGIN_LIMIT_PER_IP,
                  settings.ADMIN_LOGIN_USER_CEILING]  # fmt: skip
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
            get_redis().delete(user_ip_key)
        return cleaned

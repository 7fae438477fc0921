"""Start-up check: the verification signing keys can be read (or made), so verify cannot 500 on them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def signing_keys_available(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from otp.tokens import load_keys

    path = Path(settings.OTP_SIGNING_KEY_FILE)
    try:
        if settings.OTP_SIGNING_KEY_PEM or path.exists():
            load_keys()
        elif not os.access(_existing_parent(path), os.W_OK):
            raise PermissionError(f"cannot create {path}")
    except Exception as err:
        name = "OTP_SIGNING_KEY_PEM" if settings.OTP_SIGNING_KEY_PEM else "OTP_SIGNING_KEY_FILE"
        return [Error(f"Verification signing keys are unusable ({type(err).__name__}); check {name}.", id="otp.E101")]
    return []


def _existing_parent(path: Path) -> Path:
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    return parent

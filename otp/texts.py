"""The code's message from the templates: the tenant's own `otp` template, else the built-in one,
in the locale the send asked for (falling back to `en`), rendered under translation.override.

A tenant template that does not carry ((code)), or needs values the service does not give, is
passed over for the built-in one, so a code is never sent without its code.
"""

from __future__ import annotations

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from messaging.templating import store
from messaging.templating.models import OTP_TEMPLATE
from messaging.templating.rendering import MissingPlaceholders, placeholders
from otp.models import OneTimeCode


def locale_of(otp: OneTimeCode) -> str:
    log = getattr(otp, "log", None)
    metadata = log.metadata if log is not None else {}
    return str(metadata.get("locale") or settings.MESSAGES_DEFAULT_LOCALE)


@sensitive_variables("code", "values")
def rendered_texts(otp: OneTimeCode, code: str) -> dict[str, str] | None:
    """The parts (subject, text, html or body) for `otp` carrying `code`; None when no template fits."""
    locale = locale_of(otp)
    minutes = max(1, settings.OTP_TTL_SECONDS // 60)
    values = {"code": code, "service": settings.OTP_SERVICE_NAME, "minutes": minutes}
    for tenant in dict.fromkeys((otp.tenant_id, "")):
        template = store.current(tenant=tenant, name=OTP_TEMPLATE, channel=otp.channel, locale=locale)
        if template is None:
            break  # the lookup above took the built-in rows too: there is nothing for the next tenant
        main = template.body if otp.channel == "sms" else template.text
        if "code" not in placeholders([main]):
            continue
        try:
            return store.render_in_locale(template, values, locale=locale).parts
        except MissingPlaceholders:
            continue
    return None

"""Provider names -> classes, and the channel chains from settings."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from messaging.models import Channel
from messaging.providers.base import Provider

# Imported on first use, so a missing SDK only matters to the chain that names it.
PROVIDERS: dict[str, str] = {
    "ses": "messaging.providers.ses.SESProvider",
    "sendgrid": "messaging.providers.sendgrid.SendGridProvider",
    "smtp": "messaging.providers.smtp.SMTPProvider",
    "sns": "messaging.providers.sns.SNSProvider",
    "twilio": "messaging.providers.twilio.TwilioProvider",
    "console": "messaging.providers.console.ConsoleSMSProvider",
}

CHAIN_SETTINGS: dict[Channel, str] = {
    Channel.EMAIL: "MESSAGING_EMAIL_PROVIDERS",
    Channel.SMS: "MESSAGING_SMS_PROVIDERS",
}

PRIORITY_NAMES = ("PRIMARY", "SECONDARY", "TERTIARY")


def provider_class(name: str) -> type[Provider]:
    return import_string(PROVIDERS[name])  # type: ignore[no-any-return]


def chain(channel: Channel) -> list[type[Provider]]:
    """The channel's providers in priority order, as settings name them."""
    return [provider_class(name) for name in getattr(settings, CHAIN_SETTINGS[channel])]


def priority_name(index: int) -> str:
    return PRIORITY_NAMES[index] if index < len(PRIORITY_NAMES) else f"FALLBACK_{index + 1}"


def validate_chains() -> None:
    """Raise ImproperlyConfigured naming the variable if a chain names an unknown provider."""
    for channel, variable in CHAIN_SETTINGS.items():
        for name in getattr(settings, variable):
            if name not in PROVIDERS:
                raise ImproperlyConfigured(f"{variable} names unknown provider {name!r}; known: {sorted(PROVIDERS)}")
            cls = provider_class(name)
            if cls.channel != channel:
                raise ImproperlyConfigured(f"{variable} names {name!r}, which is a {cls.channel} provider")

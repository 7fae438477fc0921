"""The only table of provider names: every provider the service knows, and the channel chains.

Each provider is one package under messaging/providers/<name>/ whose ``__init__.py`` declares
``PROVIDER = ProviderEntry(...)``; settings.MESSAGING_PROVIDER_PACKAGES lists the packages. Every
other part asks this module: the failover loop (chain), health (label, receipts), the receipt
webhooks (webhook URLs), parked receipts and breakers (names), pricing (default prices).
Adding a provider is one folder and one line in that setting (ARCHITECTURE.md, "Adding a provider").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from importlib import import_module
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from messaging.models import Channel
from messaging.providers.base import Provider

CHAIN_SETTINGS: dict[Channel, str] = {
    Channel.EMAIL: "MESSAGING_EMAIL_PROVIDERS",
    Channel.SMS: "MESSAGING_SMS_PROVIDERS",
}

PRIORITY_NAMES = ("PRIMARY", "SECONDARY", "TERTIARY")


def _never() -> bool:
    return False


@dataclass(frozen=True)
class ProviderEntry:
    """What the service knows of one provider, declared in its package's ``__init__.py``.

    The package's ``__init__`` stays cheap: classes and views are named by dotted path and imported
    on first use, so a missing SDK only matters to the chain that names it.
    """

    #: The provider's one name: in MESSAGING_*_PROVIDERS, provider_used, metric labels, breaker keys.
    name: str
    #: Dotted path of its Provider class.
    sender: str
    #: How /health/messaging's active_providers names it: "SMSService (<label>)".
    label: str
    #: Default price entry (per_message, free_per_month, daily_quota, monthly_quota); the operator's
    #: settings.MESSAGING_PRICES (MESSAGING_PRICES_JSON) overrides it field by field.
    price: Mapping[str, Decimal | int | None] = field(default_factory=lambda: MappingProxyType({}))
    #: Whether it is set up here to report delivery (so silence from it means something). A
    #: provider that declares it sends receipts: its early ones may be parked (receipts.pending).
    expects_receipts: Callable[[], bool] = _never
    #: Dotted path of a module whose ``urlpatterns`` hold its receipt webhook(s); "" for none.
    webhooks: str = ""
    #: Prints messages (codes) where a developer reads them: refused in a chain unless DEBUG.
    development_only: bool = False
    #: The settings a tenant's own credential for it may hold (messaging.tenancy), in form order;
    #: none: tenants cannot bring their own account. `secret_fields` among them are never shown back.
    credential_fields: tuple[str, ...] = ()
    secret_fields: tuple[str, ...] = ()


@lru_cache(maxsize=8)
def _entries(packages: tuple[str, ...]) -> Mapping[str, ProviderEntry]:
    entries: dict[str, ProviderEntry] = {}
    for package in packages:
        entry = getattr(import_module(package), "PROVIDER", None)
        if not isinstance(entry, ProviderEntry):
            raise ImproperlyConfigured(f"MESSAGING_PROVIDER_PACKAGES: {package} has no PROVIDER = ProviderEntry(...)")
        if entry.name in entries:
            raise ImproperlyConfigured(f"MESSAGING_PROVIDER_PACKAGES: two packages name the provider {entry.name!r}")
        entries[entry.name] = entry
    return MappingProxyType(entries)


def entries() -> Mapping[str, ProviderEntry]:
    """Every registered provider by name, in the order of settings.MESSAGING_PROVIDER_PACKAGES."""
    return _entries(tuple(settings.MESSAGING_PROVIDER_PACKAGES))


def names() -> list[str]:
    return list(entries())


def entry(name: str) -> ProviderEntry | None:
    return entries().get(name)


def provider_class(name: str) -> type[Provider]:
    return import_string(entries()[name].sender)  # type: ignore[no-any-return]


def chain_names(channel: Channel | str) -> list[str]:
    """The channel's provider names in priority order, as settings name them."""
    return [str(name) for name in getattr(settings, CHAIN_SETTINGS[Channel(channel)])]


def chain(channel: Channel) -> list[type[Provider]]:
    """The channel's providers in priority order, as settings name them."""
    return [provider_class(name) for name in chain_names(channel)]


def priority_name(index: int) -> str:
    return PRIORITY_NAMES[index] if index < len(PRIORITY_NAMES) else f"FALLBACK_{index + 1}"


def label(name: str) -> str | None:
    found = entry(name)
    return found.label if found else None


def default_price(name: str) -> Mapping[str, Any]:
    found = entry(name)
    return found.price if found else {}


def expects_receipts(name: str) -> bool:
    found = entry(name)
    return bool(found and found.expects_receipts())


def receipt_senders() -> list[str]:
    """Names of the providers that can send receipts (whose early receipts may be parked)."""
    return [name for name, found in entries().items() if found.expects_receipts is not _never]


def webhook_modules() -> list[str]:
    return [found.webhooks for found in entries().values() if found.webhooks]


def validate_chains() -> None:
    """Raise ImproperlyConfigured naming the variable if a chain names an unknown provider, a
    provider of the other channel, or (without DEBUG) a development-only one."""
    known = entries()
    for channel, variable in CHAIN_SETTINGS.items():
        for name in chain_names(channel):
            if name not in known:
                raise ImproperlyConfigured(f"{variable} names unknown provider {name!r}; known: {sorted(known)}")
            if known[name].development_only and not settings.DEBUG:
                raise ImproperlyConfigured(f"{variable} names {name!r}, which prints codes; it needs DEBUG=1.")
            cls = provider_class(name)
            if cls.channel != channel:
                raise ImproperlyConfigured(f"{variable} names {name!r}, which is a {cls.channel} provider")

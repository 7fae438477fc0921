"""The one contract every provider keeps.

A provider turns a message into one call to its service and either returns a SendResult or
raises ProviderError. It does not log, retry, time itself or touch the database: the failover
loop in messaging.service does all of that, in one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from messaging.models import Channel


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str = "application/octet-stream"


@dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str = ""
    from_email: str = ""
    from_name: str = ""
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    # Short labels the provider carries alongside the message (SES tags, SendGrid categories).
    tags: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        # The body holds the code: never let it reach a traceback or a log through repr().
        return f"EmailMessage(subject={self.subject!r}, cc={len(self.cc)}, bcc={len(self.bcc)})"


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    tags: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"SmsMessage(length={len(self.body)})"


Message = EmailMessage | SmsMessage


@sensitive_variables("parts")  # a code's text is in them
def message_from_parts(*, channel: str, to: str, parts: Mapping[str, str], tags: dict[str, str]) -> Message:
    """The message for `channel` from rendered parts (`body` for SMS; `subject`, `text`, `html` for
    email), from the configured sender."""
    if channel == Channel.SMS:
        return SmsMessage(to=to, body=parts["body"], tags=tags)
    return EmailMessage(
        to=to,
        subject=parts["subject"],
        text=parts.get("text", ""),
        html=parts.get("html", ""),
        from_email=settings.OTP_FROM_EMAIL,
        from_name=settings.OTP_FROM_NAME,
        tags=tags,
    )


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class ProviderError(Exception):
    """A provider did not take the message.

    recipient_fault: the recipient is at fault (invalid address or number, opted out); the chain
        stops and the breaker does not count it.
    retry_later: nobody is at fault, the service asks to be tried again later (SMTP greylisting);
        retry_after is its delay in seconds when it named one. The breaker does not count it.
    code, status_code, body: what the provider answered, kept for the delivery attempt.
    """

    def __init__(
        self,
        message: str,
        *,
        recipient_fault: bool = False,
        retry_later: bool = False,
        retry_after: float | None = None,
        code: str = "",
        status_code: int | None = None,
        body: str = "",
    ) -> None:
        super().__init__(message)
        self.recipient_fault = recipient_fault
        self.retry_later = retry_later and not recipient_fault
        self.retry_after = retry_after
        self.code = code
        self.status_code = status_code
        self.body = body[:2000]

    @property
    def error_code(self) -> str:
        return self.code or (str(self.status_code) if self.status_code is not None else "")


def encoding_error(err: Exception, recipients: Iterable[str]) -> ProviderError:
    """A UnicodeError (or a server without SMTPUTF8) during a send, as a ProviderError.

    It is the recipient's problem only when a recipient is not plain ASCII: an address or number
    the SDK or protocol cannot encode. Otherwise (a garbled answer, our own sender name) it is the
    provider's, and the chain goes on.
    """
    if all(recipient.isascii() for recipient in recipients):
        return ProviderError(f"encoding failed: {type(err).__name__}: {err}", code="Encoding")
    return ProviderError(f"recipient cannot be encoded: {type(err).__name__}", recipient_fault=True, code="Encoding")


@dataclass(frozen=True, repr=False, eq=False)
class Credential:
    """A tenant's own account at one provider, opened from its encrypted row (messaging.tenancy).

    `values` maps setting names (TWILIO_AUTH_TOKEN, SMTP_HOST, ...) to the tenant's values; a
    provider reads them in place of the platform's settings. Its repr names no value.
    """

    id: int
    version: int
    tenant: str
    provider: str
    values: Mapping[str, str]
    #: The settings this credential stands in for (its provider's credential_fields): for these a
    #: provider reads the tenant's value, "" when the tenant left one empty, never the platform's.
    fields: frozenset[str] = frozenset()
    #: The names among `values` that are secrets: hidden from every error text.
    secret_names: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"Credential(id={self.id}, tenant={self.tenant!r}, provider={self.provider!r}, version={self.version})"

    def secrets(self) -> list[str]:
        return [self.values[name] for name in self.secret_names if self.values.get(name)]


class Provider(ABC):
    """A channel's way out through one service: the platform's account, or a tenant's `credential`."""

    #: Registry key, as named in MESSAGING_EMAIL_PROVIDERS / MESSAGING_SMS_PROVIDERS.
    name: ClassVar[str]
    #: Name shown in health and admin.
    display_name: ClassVar[str]
    channel: ClassVar[Channel]

    def __init__(self, credential: Credential | None = None) -> None:
        self.credential = credential

    @classmethod
    @abstractmethod
    def is_configured(cls) -> bool:
        """Whether this provider has what it needs (credentials, host) to be called."""

    def setting(self, name: str) -> Any:
        """The tenant credential's value for setting `name` when it holds one, else the platform's.

        A tenant's secrets never mix with the platform's: a credential field left empty stays empty.
        """
        if self.credential is not None and (name in self.credential.fields or name in self.credential.values):
            return self.credential.values.get(name, "")
        return getattr(settings, name)

    def configured(self) -> bool:
        """is_configured() for the platform's account; for a tenant's, whether its credential is complete."""
        return type(self).is_configured() if self.credential is None else self.credential_complete()

    def sender_of(self, message: EmailMessage) -> tuple[str, str]:
        """(address, name) to send from: the tenant credential's when it names one, else the message's
        or the platform's (OTP_FROM_EMAIL, OTP_FROM_NAME)."""
        own = self.credential.values.get("OTP_FROM_EMAIL", "") if self.credential is not None else ""
        address = own or message.from_email or settings.OTP_FROM_EMAIL
        name = self.credential.values.get("OTP_FROM_NAME", "") if own and self.credential is not None else ""
        return address, name or message.from_name or settings.OTP_FROM_NAME

    def credential_complete(self) -> bool:
        """Whether the tenant credential holds what a call needs (providers with credentials override it)."""
        return True

    @abstractmethod
    def send(self, message: Message) -> SendResult:
        """Hand the message to the service within its connect and read timeouts.

        Returns the provider's message id. Raises ProviderError on any failure, chained
        from the SDK's exception.
        """

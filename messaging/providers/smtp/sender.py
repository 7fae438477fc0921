"""Email over plain SMTP (smtplib), the last resort of the email chain and the local sink."""

from __future__ import annotations

import re
import smtplib
from dataclasses import replace
from email.utils import make_msgid
from typing import Any

from django.conf import settings

from messaging.models import Channel
from messaging.providers.base import EmailMessage, Message, Provider, ProviderError, SendResult, encoding_error
from messaging.providers.mime import build_mime

# Whose problem a refusal at RCPT is, by reply code (RFC 5321 4.2.3). 450 and 451 are "try again
# later": greylisting's answers (or a busy mailbox), nobody's fault. 421 (closing) and 452 (storage)
# are the server's own trouble. Any other refusal names the recipient (550 no such user, ...).
RECIPIENT_FAULT: dict[str, Any] = {"recipient_fault": True}
RCPT_REFUSALS: dict[int, dict[str, Any]] = {
    421: {},
    450: {"retry_later": True},
    451: {"retry_later": True},
    452: {},
}
# "... try again in 300 seconds", "greylisted for 5 minutes": the delay a greylisting server names.
DELAY_IN_REPLY = re.compile(r"(\d{1,5})\s*(s|secs?|seconds?|mins?|minutes?)\b", re.IGNORECASE)


def as_flag(value: bool | str) -> bool:
    """A setting's bool, or a tenant credential's text ("1", "true", "yes", "on")."""
    return value if isinstance(value, bool) else value.strip().lower() in ("1", "true", "yes", "on")


def as_text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def delay_named_in(reply: str) -> float | None:
    """Seconds a refusal asks the sender to wait before trying again, if it names a delay."""
    match = DELAY_IN_REPLY.search(reply)
    if match is None:
        return None
    return float(match.group(1)) * (60 if match.group(2).lower().startswith("m") else 1)


def rcpt_refusal(code: int, reply: str) -> ProviderError:
    blame = RCPT_REFUSALS.get(code, RECIPIENT_FAULT)
    retry_after = delay_named_in(reply) if blame.get("retry_later") else None
    return ProviderError(f"recipient refused: {code} {reply}", status_code=code, retry_after=retry_after, **blame)


class SMTPProvider(Provider):
    name = "smtp"
    display_name = "SMTPProvider"
    channel = Channel.EMAIL

    @classmethod
    def is_configured(cls) -> bool:
        return bool(settings.SMTP_HOST)

    def credential_complete(self) -> bool:
        return bool(self.setting("SMTP_HOST"))

    def send(self, message: Message) -> SendResult:
        assert isinstance(message, EmailMessage)
        from_email, from_name = self.sender_of(message)
        if self.credential is not None:
            message = replace(message, from_email=from_email, from_name=from_name)
        message_id = make_msgid(domain=message.from_email.rpartition("@")[2] or "localhost")
        mime = build_mime(message, message_id=message_id)
        recipients = [message.to, *message.cc, *message.bcc]
        timeout = settings.PROVIDER_CONNECT_TIMEOUT + settings.PROVIDER_READ_TIMEOUT
        host, port = self.setting("SMTP_HOST"), int(self.setting("SMTP_PORT") or settings.SMTP_PORT)
        try:
            with smtplib.SMTP(host, port, timeout=timeout) as client:
                if as_flag(self.setting("SMTP_USE_TLS")):
                    client.starttls()
                if self.setting("SMTP_USER"):
                    client.login(self.setting("SMTP_USER"), self.setting("SMTP_PASSWORD"))
                client.send_message(mime, from_addr=message.from_email, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as err:
            code, reply = next(iter(err.recipients.values()))
            raise rcpt_refusal(code, as_text(reply)) from err
        except (smtplib.SMTPNotSupportedError, UnicodeError) as err:
            # A server without SMTPUTF8 cannot take an internationalised address: the address's problem.
            raise encoding_error(err, recipients) from err
        except smtplib.SMTPResponseException as err:
            raise ProviderError(f"SMTP {err.smtp_code}: {as_text(err.smtp_error)}", status_code=err.smtp_code) from err
        except (TimeoutError, smtplib.SMTPException, OSError) as err:
            raise ProviderError(f"SMTP connection failed: {type(err).__name__}: {err}") from err
        return SendResult(provider_message_id=message_id.strip("<>"))

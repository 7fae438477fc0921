"""Email through SendGrid's v3 Mail Send API, with the official `sendgrid` SDK."""

from __future__ import annotations

import base64
import json
from http.client import HTTPException

import urllib3
from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Attachment, Bcc, Category, Cc, Mail, ReplyTo

from messaging.models import Channel
from messaging.providers.base import EmailMessage, Message, Provider, ProviderError, SendResult, encoding_error
from messaging.providers.pools import PerCredential, http_pool_size, one_per_process
from messaging.providers.sendgrid.http import PooledClient, pooled_client

# A 400 whose error names one of these fields blames the recipient's address, not our request.
SENDGRID_RECIPIENT_FIELDS = ("personalizations.0.to",)


def build_mail(message: EmailMessage, *, sender: tuple[str, str] | None = None) -> Mail:
    mail = Mail(
        from_email=sender
        or (message.from_email or settings.OTP_FROM_EMAIL, message.from_name or settings.OTP_FROM_NAME),
        to_emails=message.to,
        subject=message.subject,
        plain_text_content=message.text,
        html_content=message.html or None,
    )
    for address in message.cc:
        mail.add_cc(Cc(address))
    for address in message.bcc:
        mail.add_bcc(Bcc(address))
    if message.reply_to:
        mail.reply_to_list = [ReplyTo(address) for address in message.reply_to]
    for attachment in message.attachments:
        encoded = base64.b64encode(attachment.content).decode("ascii")
        mail.add_attachment(Attachment(encoded, attachment.filename, attachment.mimetype, "attachment"))
    for name, value in list(message.tags.items())[:10]:
        mail.add_category(Category(f"{name}:{value}"[:255]))
    return mail


def blames_recipient(status: int, body: str) -> bool:
    try:
        errors = json.loads(body).get("errors", []) if status == 400 else []
    except (ValueError, AttributeError):
        return False
    return any(str(error.get("field", "")).startswith(SENDGRID_RECIPIENT_FIELDS) for error in errors)


def sendgrid_error(err: HTTPError) -> ProviderError:
    status = int(err.status_code)
    body = err.body.decode(errors="replace") if isinstance(err.body, bytes) else str(err.body)
    return ProviderError(
        f"SendGrid {status} {err.reason}",
        recipient_fault=blames_recipient(status, body),
        status_code=status,
        body=body,
    )


@sensitive_variables("api_key", "sdk", "headers")
def build_sendgrid_client(api_key: str, host: str, connect: float, read: float, pool: int) -> PooledClient:
    """The SDK's client on one kept-alive connection pool."""
    sdk = SendGridAPIClient(api_key=api_key, host=host)
    # Content-Type set up front: the SDK would otherwise add it to the shared headers on first use,
    # while another thread may be reading them.
    headers = {**sdk._default_headers, "Content-Type": "application/json"}
    return pooled_client(host=host, headers=headers, connect=connect, read=read, pool=pool)


# One per process and setting; tenants' own accounts get one per credential (PerCredential).
sendgrid_client = one_per_process(build_sendgrid_client)
tenant_sendgrid_clients: PerCredential[PooledClient] = PerCredential()


class SendGridProvider(Provider):
    name = "sendgrid"
    display_name = "SendGridProvider"
    channel = Channel.EMAIL

    @classmethod
    def is_configured(cls) -> bool:
        return bool(settings.SENDGRID_API_KEY and settings.SENDGRID_API_HOST)

    def credential_complete(self) -> bool:
        return bool(self.setting("SENDGRID_API_KEY") and settings.SENDGRID_API_HOST)

    @sensitive_variables("api_key")
    def client(self) -> PooledClient:
        shape = (
            settings.SENDGRID_API_HOST,
            float(settings.PROVIDER_CONNECT_TIMEOUT),
            float(settings.PROVIDER_READ_TIMEOUT),
            http_pool_size(),
        )
        api_key = self.setting("SENDGRID_API_KEY")
        if self.credential is None:
            return sendgrid_client(api_key, *shape)
        return tenant_sendgrid_clients.get(self.credential, shape, lambda: build_sendgrid_client(api_key, *shape))

    def send(self, message: Message) -> SendResult:
        assert isinstance(message, EmailMessage)
        client = self.client()
        mail = build_mail(message, sender=self.sender_of(message))
        try:
            response = client.mail.send.post(request_body=mail.get())
        except HTTPError as err:
            raise sendgrid_error(err) from err
        except UnicodeError as err:
            raise encoding_error(err, [message.to, *message.cc, *message.bcc]) from err
        except (
            OSError,
            HTTPException,
            urllib3.exceptions.HTTPError,
        ) as err:  # timeouts, refused or dropped connections
            raise ProviderError(f"SendGrid unreachable: {type(err).__name__}: {err}", code="Unreachable") from err
        return SendResult(provider_message_id=str(response.headers.get("X-Message-Id", "")))

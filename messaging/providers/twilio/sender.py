"""SMS through Twilio's Messages API, with the official `twilio` SDK."""

from __future__ import annotations

import json

from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter
from requests.exceptions import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from messaging.models import Channel
from messaging.providers.base import Message, Provider, ProviderError, SendResult, SmsMessage, encoding_error
from messaging.providers.pools import PerCredential, http_pool_size, one_per_process, read_environment_once
from messaging.providers.twilio.receipts import status_callback_url

# Twilio error codes that blame the recipient: the chain stops and the breaker does not count them.
TWILIO_RECIPIENT_CODES: dict[int, str] = {
    21211: "invalid 'To' phone number",
    21265: "'To' number cannot be a short code",
    21266: "'To' and 'From' cannot be the same number",
    21401: "invalid phone number",
    21407: "this phone number type does not support SMS",
    21217: "phone number does not appear to be valid",
    21610: "recipient has opted out (STOP)",
    21612: "'To' number cannot be reached by SMS",
    21614: "'To' number is not a mobile number",
}


class TimedHttpClient(TwilioHttpClient):
    """TwilioHttpClient with separate connect and read timeouts (requests takes the pair) and a
    session pool that keeps one connection alive per call the worker can have in flight (the SDK
    mounts 6, for https only). The SDK's request() keeps its last answer on the client, but assigns
    and returns it with no thread switch between (CPython), so each call returns its own answer:
    tests/messaging/test_provider_pools.py checks it under many threads."""

    def __init__(self, *, connect: float, read: float, pool: int) -> None:
        super().__init__(timeout=read)
        self.timeout = (connect, read)  # type: ignore[assignment]
        assert self.session is not None
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, HTTPAdapter(pool_connections=1, pool_maxsize=pool, max_retries=0))


@sensitive_variables("sid", "token")
def build_twilio_client(sid: str, token: str, base_url: str, connect: float, read: float, pool: int) -> Client:
    http = TimedHttpClient(connect=connect, read=read, pool=pool)
    assert http.session is not None
    read_environment_once(http.session, base_url)
    client = Client(sid, token, http_client=http)
    client.api.base_url = base_url  # the SDK's per-domain override; the stand-in takes its place
    return client


# One client (and connection pool) per process and setting, built once under a lock; tenants' own
# accounts get one per credential (PerCredential).
twilio_client = one_per_process(build_twilio_client)
tenant_twilio_clients: PerCredential[Client] = PerCredential()


def twilio_error(err: TwilioRestException | TwilioServiceException) -> ProviderError:
    code = int(err.code or 0)
    status = int(err.status)
    text = getattr(err, "msg", "") or getattr(err, "detail", "") or getattr(err, "title", "")
    return ProviderError(
        f"Twilio {code or status}: {text}",
        recipient_fault=code in TWILIO_RECIPIENT_CODES,
        code=str(code) if code else "",
        status_code=status,
        body=json.dumps({"code": code, "status": status, "message": text}),
    )


class TwilioProvider(Provider):
    name = "twilio"
    display_name = "TwilioProvider"
    channel = Channel.SMS

    @classmethod
    def is_configured(cls) -> bool:
        has_sender = settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID
        return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and has_sender)

    def credential_complete(self) -> bool:
        has_sender = self.setting("TWILIO_FROM_NUMBER") or self.setting("TWILIO_MESSAGING_SERVICE_SID")
        return bool(self.setting("TWILIO_ACCOUNT_SID") and self.setting("TWILIO_AUTH_TOKEN") and has_sender)

    @sensitive_variables("sid", "token")
    def client(self) -> Client:
        shape = (
            settings.TWILIO_API_BASE_URL,
            float(settings.PROVIDER_CONNECT_TIMEOUT),
            float(settings.PROVIDER_READ_TIMEOUT),
            http_pool_size(),
        )
        sid, token = self.setting("TWILIO_ACCOUNT_SID"), self.setting("TWILIO_AUTH_TOKEN")
        if self.credential is None:
            return twilio_client(sid, token, *shape)
        return tenant_twilio_clients.get(self.credential, shape, lambda: build_twilio_client(sid, token, *shape))

    def send(self, message: Message) -> SendResult:
        assert isinstance(message, SmsMessage)
        client = self.client()
        # A messaging service picks its own sender from its pool; otherwise the one number.
        service_sid = self.setting("TWILIO_MESSAGING_SERVICE_SID")
        sender = (
            {"messaging_service_sid": service_sid} if service_sid else {"from_": self.setting("TWILIO_FROM_NUMBER")}
        )
        # Delivery receipts come back to /webhooks/twilio once the public base URL is known.
        callback = status_callback_url()
        if callback:
            sender["status_callback"] = callback
        try:
            created = client.messages.create(to=message.to, body=message.body, **sender)
        except (TwilioRestException, TwilioServiceException) as err:
            raise twilio_error(err) from err
        except UnicodeError as err:
            raise encoding_error(err, [message.to]) from err
        except (RequestException, TwilioException) as err:  # timeouts, refused or dropped connections
            raise ProviderError(f"Twilio unreachable: {type(err).__name__}: {err}", code="Unreachable") from err
        return SendResult(provider_message_id=str(created.sid))

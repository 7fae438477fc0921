"""SMS through SmsBird's REST API: POST {SMSBIRD_API_URL}/messages, errors translated by a table."""

from __future__ import annotations

import requests
from django.conf import settings

from messaging.models import Channel
from messaging.providers.base import Message, Provider, ProviderError, SendResult, SmsMessage, encoding_error

# SmsBird error codes that blame the recipient: the chain stops and the breaker does not count them.
# Any other refusal (bad key, no balance, 5xx, 429) is the provider's: the next provider is tried.
SMSBIRD_RECIPIENT_CODES: dict[int, str] = {
    21: "recipient is not a valid phone number",
    25: "recipient has opted out",
}


class SmsBirdProvider(Provider):
    name = "smsbird"
    display_name = "SmsBirdProvider"
    channel = Channel.SMS

    @classmethod
    def is_configured(cls) -> bool:
        return bool(settings.SMSBIRD_ACCESS_KEY)

    def send(self, message: Message) -> SendResult:
        assert isinstance(message, SmsMessage)
        try:
            answer = requests.post(
                f"{settings.SMSBIRD_API_URL}/messages",
                json={"recipients": [message.to], "body": message.body},
                headers={"Authorization": f"AccessKey {settings.SMSBIRD_ACCESS_KEY}"},
                timeout=(settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_READ_TIMEOUT),
            )
        except UnicodeError as err:
            raise encoding_error(err, [message.to]) from err
        except requests.RequestException as err:  # timeouts, refused or dropped connections
            raise ProviderError(f"SmsBird unreachable: {type(err).__name__}", code="Unreachable") from err
        if answer.status_code >= 400:
            raise smsbird_error(answer)
        return SendResult(provider_message_id=str(answer.json()["id"]))


def smsbird_error(answer: requests.Response) -> ProviderError:
    try:
        code = int(answer.json()["errors"][0]["code"])
    except (ValueError, KeyError, IndexError, TypeError):
        code = 0
    return ProviderError(
        f"SmsBird {answer.status_code}: {SMSBIRD_RECIPIENT_CODES.get(code, answer.reason)}",
        recipient_fault=code in SMSBIRD_RECIPIENT_CODES,
        code=str(code) if code else "",
        status_code=answer.status_code,
        body=answer.text,
    )

"""moto's server on 127.0.0.1 as the stand-in for SES and SNS.

What moto recorded is read back over HTTP from its model-state endpoint (/moto-api/data.json):
SES keeps every message it accepted (ses.Message, or ses.RawMessage for raw MIME) and SNS every
SMS it published (sns.SMS).
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


def start_moto_server() -> tuple[ThreadedMotoServer, str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


@dataclass
class AwsStandIn:
    url: str
    region: str = REGION

    def reset(self) -> None:
        """Forget every identity, message and SMS (moto's state lives in this process)."""
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=5).read()

    def verify_sender(self, address: str) -> None:
        """Verify an SES identity (an address or a domain), as the SES console would."""
        self._client("sesv2").create_email_identity(EmailIdentity=address)

    def sent_emails(self) -> list[dict[str, Any]]:
        """Messages SES accepted: source, destinations and subject/body (Message) or raw_data (RawMessage)."""
        models = self._model_state().get("ses", {})
        return [*models.get("Message", []), *models.get("RawMessage", [])]

    def sent_sms(self) -> list[dict[str, Any]]:
        """SMS SNS published: message_id, phone_number and message."""
        return self._model_state().get("sns", {}).get("SMS", [])

    def _model_state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def _client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

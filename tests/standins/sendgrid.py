"""A stand-in for SendGrid's v3 Mail Send API: POST /v3/mail/send answers 202 with X-Message-Id."""

from __future__ import annotations

import uuid
from typing import Any

from tests.standins.http_standin import Answer, HttpStandIn, ReceivedRequest


class SendGridStandIn(HttpStandIn):
    """Once told its `api_keys`, it refuses a send whose bearer key is not one of them with 401."""

    def __init__(self) -> None:
        super().__init__()
        self.api_keys: set[str] = set()

    def answer_ok(self, request: ReceivedRequest) -> Answer:
        if request.path != "/v3/mail/send":
            return Answer(404, {"errors": [{"message": "not found", "field": None}]})
        if self.api_keys and bearer_key(request) not in self.api_keys:
            refusal = "The provided authorization grant is invalid, expired, or revoked"
            return Answer(401, {"errors": [{"message": refusal, "field": None, "help": None}]})
        return Answer(202, None, (("X-Message-Id", f"sg-{uuid.uuid4().hex}"),))

    def fail_with_errors(self, status: int, *errors: dict[str, Any]) -> None:
        """Answer like SendGrid does when it refuses: {"errors": [{"message", "field", "help"}]}."""
        self.fail_with(status, {"errors": list(errors)})

    @property
    def mails(self) -> list[dict[str, Any]]:
        """The JSON bodies of the mail sends received, in order."""
        return [request.json() for request in self.requests if request.path == "/v3/mail/send"]


def bearer_key(request: ReceivedRequest) -> str:
    kind, _, key = request.headers.get("Authorization", "").partition(" ")
    return key if kind == "Bearer" else ""

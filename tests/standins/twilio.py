"""A stand-in for Twilio's Messages API: POST /2010-04-01/Accounts/{sid}/Messages.json answers 201."""

from __future__ import annotations

import base64
import re
import uuid

from tests.standins.http_standin import Answer, HttpStandIn, ReceivedRequest

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages\.json$")


class TwilioStandIn(HttpStandIn):
    """Once told its `accounts` (SID -> auth token), it checks each call's HTTP basic auth against the
    account in the URL, as Twilio does, and refuses any other with 401 (code 20003)."""

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, str] = {}

    def answer_ok(self, request: ReceivedRequest) -> Answer:
        match = MESSAGES_PATH.match(request.path)
        if not match:
            return Answer(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
        if self.accounts and basic_auth(request) != (match["sid"], self.accounts.get(match["sid"])):
            return Answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        form = request.form()
        return Answer(
            201,
            {
                "sid": f"SM{uuid.uuid4().hex}",
                "account_sid": match["sid"],
                "to": form.get("To"),
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": form.get("Body"),
                "status": "queued",
                "num_segments": "1",
            },
        )

    def fail_with_code(self, code: int, message: str, *, status: int = 400) -> None:
        """Answer like Twilio's REST API does when it refuses a message."""
        more_info = f"https://www.twilio.com/docs/errors/{code}"
        self.fail_with(status, {"code": code, "message": message, "more_info": more_info, "status": status})

    @property
    def messages(self) -> list[dict[str, str]]:
        """The form bodies of the message creations received, in order."""
        return [request.form() for request in self.requests if MESSAGES_PATH.match(request.path)]


def basic_auth(request: ReceivedRequest) -> tuple[str, str] | None:
    """(user, password) of the request's HTTP basic auth, if it has one."""
    kind, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if kind != "Basic":
        return None
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    return user, password


def account_of(request: ReceivedRequest) -> str:
    """The account SID whose Messages URL the request called."""
    match = MESSAGES_PATH.match(request.path)
    return match["sid"] if match else ""

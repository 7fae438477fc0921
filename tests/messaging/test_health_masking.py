"""Provider error text is for staff only, and always masked.

End to end: a real worker's SMTP calls are refused with a reply naming the recipient; the breaker
opens. Anonymous health shows the state and the error code; staff see the text with the recipient
masked; neither the breaker state nor the worker's log lines hold the address.
"""

from __future__ import annotations

import pytest

from messaging.breaker import OPEN, breaker_for, sanitise_error
from tests.helpers import SEND_URL, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

VICTIM = "victim.person@corp.example"
REFUSAL = f"421 4.7.1 <{VICTIM}> service busy, try later"


def test_provider_errors_reach_anonymous_health_as_codes_and_staff_masked(
    client, smtp_sink, settings, start_worker, admin_user
):
    worker = start_worker()
    smtp_sink.reject_with = REFUSAL
    for n in range(settings.BREAKER_FAILURE_THRESHOLD):
        body = {"email": f"victim.person.{n}@corp.example", "purpose": "login"}
        response = client.post(SEND_URL, body, content_type="application/json", REMOTE_ADDR=f"192.0.2.{n}")
        assert response.status_code == 202
    wait_for(lambda: breaker_for("smtp").snapshot().state == OPEN, what="the SMTP breaker to open")

    anonymous = client.get("/health/messaging")
    smtp = anonymous.json()["email_providers"][2]
    assert (smtp["name"], smtp["circuit_breaker"], smtp["last_error"]) == ("SMTPProvider", "open", "421")
    assert "victim" not in anonymous.content.decode()

    client.force_login(admin_user)
    staff = client.get("/health/messaging").json()["email_providers"][2]["last_error"]
    assert "v***@corp.example" in staff and "4.7.1" in staff
    assert "victim.person" not in staff

    assert "victim.person" not in breaker_for("smtp").snapshot().last_error
    output = wait_for(lambda: "breaker.state_change" in worker.output() and worker.output(), what="the log line")
    assert "v***@corp.example" in output
    assert "victim.person" not in output


def test_error_text_loses_recipients_account_ids_and_credentials():
    text = sanitise_error(
        "Twilio 21211: The 'To' number +447700900123 is not valid; account AC0123456789abcdef0123456789abcdef; "
        "mailbox <jane.doe@example.com> full; https://user:hunter2@relay.internal/"
    )
    assert "+447700900123" not in text and "+44*******123" in text
    assert "0123456789abcdef0123456789abcdef" not in text
    assert "jane.doe" not in text and "j***@example.com" in text
    assert "hunter2" not in text

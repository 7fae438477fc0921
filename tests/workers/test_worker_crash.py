"""A worker killed in the middle of a send: the message is delivered later, exactly once."""

from __future__ import annotations

import pytest

from messaging.models import CommunicationLog, MessageStatus
from tests.helpers import SEND_URL, VERIFY_URL, code_in, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

# Short enough for a test, in the same proportions as production: time limit < lease < visibility.
CRASH_ENV = {"CELERY_TASK_TIME_LIMIT": "3", "OTP_CLAIM_LEASE_SECONDS": "4", "CELERY_VISIBILITY_TIMEOUT": "5"}


def test_a_worker_killed_mid_send_leaves_the_message_to_another_worker_which_sends_it_once(
    client, smtp_sink, start_worker
):
    smtp_sink.hold_data = True
    first = start_worker(**CRASH_ENV)
    response = client.post(
        SEND_URL, {"email": "crash@example.com", "purpose": "signup"}, content_type="application/json"
    )
    assert response.status_code == 202
    assert smtp_sink.data_started.wait(timeout=30), "the first worker never reached the SMTP DATA step"
    assert CommunicationLog.objects.get().status == MessageStatus.SENDING

    first.kill()
    smtp_sink.hold_data = False
    start_worker(**CRASH_ENV)

    [message] = smtp_sink.wait_for(1, timeout=60)
    log = wait_for(lambda: CommunicationLog.objects.filter(status=MessageStatus.SENT).first(), what="redelivery")
    code = code_in(message.get_body(("plain",)).get_content())
    verified = client.post(
        VERIFY_URL, {"email": "crash@example.com", "purpose": "signup", "code": code}, content_type="application/json"
    )
    assert verified.status_code == 200
    assert log.provider_used == "smtp"
    assert len(smtp_sink.messages) == 1

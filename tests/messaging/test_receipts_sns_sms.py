"""SNS SMS receipts: delivery-status entries read from CloudWatch Logs (moto's server) on beat."""

from __future__ import annotations

import json
import time

import pytest

from messaging.models import Blame, CommunicationLog, MessageStatus
from messaging.providers.sns.receipts import read_delivery_logs
from messaging.service import UnifiedMessagingService

pytestmark = pytest.mark.django_db

GROUP = "sns/us-east-1/123456789012/DirectPublishToPhoneNumber"
FAILURE_GROUP = GROUP + "/Failure"


@pytest.fixture
def delivery_logs(settings, aws):
    settings.SNS_SMS_DELIVERY_LOG_GROUPS = [GROUP, FAILURE_GROUP]
    logs = aws._client("logs")
    for group in (GROUP, FAILURE_GROUP):
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="stream")
    return logs


@pytest.fixture
def sent_by_sns(settings, aws) -> CommunicationLog:
    settings.MESSAGING_SMS_PROVIDERS = ["sns"]
    result = UnifiedMessagingService().send_sms("+14155550123", "Your code is 123456")
    log = CommunicationLog.objects.get(message_id=result["message_id"])
    assert (log.status, log.provider_used) == (MessageStatus.SENT, "sns")
    return log


def write_status(logs, group: str, message_id: str, status: str, response: str) -> None:
    """One entry as SNS writes it for an SMS it published (destination masked here, as in AWS's docs)."""
    entry = {
        "notification": {"messageId": message_id, "timestamp": "2026-11-28 10:00:00.000"},
        "delivery": {"destination": "+1XXX5550123", "smsType": "Transactional", "providerResponse": response},
        "status": status,
    }
    logs.put_log_events(logGroupName=group, logStreamName="stream",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(entry)}])  # fmt: skip


def test_a_success_entry_marks_the_sms_delivered_once_however_often_the_logs_are_read(delivery_logs, sent_by_sns):
    write_status(delivery_logs, GROUP, sent_by_sns.provider_message_id, "SUCCESS",
                 "Message has been accepted by phone carrier")  # fmt: skip

    assert read_delivery_logs() == 1
    read_delivery_logs()

    sent_by_sns.refresh_from_db()
    assert sent_by_sns.status == MessageStatus.DELIVERED and sent_by_sns.delivered_at is not None
    assert sent_by_sns.receipts.count() == 1


def test_a_failure_entry_blaming_the_carrier_path_marks_it_failed_against_sns(delivery_logs, sent_by_sns):
    write_status(delivery_logs, FAILURE_GROUP, sent_by_sns.provider_message_id, "FAILURE",
                 "Unknown error attempting to reach phone")  # fmt: skip

    read_delivery_logs()

    sent_by_sns.refresh_from_db()
    receipt = sent_by_sns.receipts.get()
    assert sent_by_sns.status == MessageStatus.FAILED
    assert (receipt.blame, receipt.reason) == (Blame.PROVIDER, "Unknown error attempting to reach phone")


def test_an_opted_out_number_blames_the_recipient(delivery_logs, sent_by_sns):
    write_status(delivery_logs, FAILURE_GROUP, sent_by_sns.provider_message_id, "FAILURE",
                 "Phone number is opted out")  # fmt: skip

    read_delivery_logs()

    assert sent_by_sns.receipts.get().blame == Blame.RECIPIENT


def test_entries_about_messages_we_did_not_send_change_nothing(delivery_logs, sent_by_sns):
    write_status(delivery_logs, GROUP, "00000000-not-ours", "SUCCESS", "accepted")

    assert read_delivery_logs() == 1
    sent_by_sns.refresh_from_db()
    assert sent_by_sns.status == MessageStatus.SENT


def test_a_missing_log_group_is_skipped_without_failing_the_beat_task(settings, aws, sent_by_sns):
    settings.SNS_SMS_DELIVERY_LOG_GROUPS = ["sns/us-east-1/123456789012/NoSuchGroup"]
    assert read_delivery_logs() == 0

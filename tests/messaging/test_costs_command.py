"""manage.py messaging_costs: usage from the logs, and --scenario pricing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from messaging.models import CommunicationLog, MessageStatus


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("messaging_costs", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def default_chains(settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["ses", "sendgrid", "smtp"]
    settings.MESSAGING_SMS_PROVIDERS = ["sns", "twilio", "console"]


@pytest.mark.django_db
def test_the_scenario_prices_sms_at_122_55_with_sns_first_and_150_on_twilio_alone(default_chains):
    lines = run("--scenario", "20000", "20000", "--sms-chain", "twilio")
    assert lines[0] == "Scenario: 20,000 emails and 20,000 SMS in one 30-day month"
    assert "email chain ses,sendgrid,smtp (configured): ses 20,000 $0.00; total $0.00" in lines
    assert "sms chain sns,twilio,console (configured): sns 20,000 $122.55; total $122.55" in lines
    assert "configured chains total $122.55" in lines
    assert "sms chain twilio (command line): twilio 20,000 $150.00; total $150.00" in lines


@pytest.mark.django_db
def test_the_scenario_prices_an_email_chain_given_on_the_command_line(default_chains):
    lines = run("--scenario", "20000", "0", "--email-chain", "smtp,sendgrid")
    assert "email chain smtp,sendgrid (command line): smtp 15,000 $0.00, sendgrid 5,000 $0.13; total $0.13" in lines


@pytest.mark.django_db
def test_a_chain_naming_a_provider_of_the_other_channel_is_refused(default_chains):
    with pytest.raises(CommandError, match="'twilio' is not a email provider"):
        run("--scenario", "1", "1", "--email-chain", "twilio")


def log_row(provider: str, channel: str, cost: str, sent_at: datetime) -> CommunicationLog:
    return CommunicationLog(
        recipient="x",
        channel=channel,
        status=MessageStatus.SENT,
        provider_used=provider,
        cost=Decimal(cost),
        sent_at=sent_at,
    )


@pytest.mark.django_db
def test_usage_is_reported_per_month_channel_and_provider_from_the_logs():
    CommunicationLog.objects.bulk_create(
        [
            log_row("sns", "sms", "0.00645", datetime(2025, 9, 30, 23, 59, tzinfo=UTC)),
            log_row("sns", "sms", "0.00645", datetime(2025, 10, 1, 0, 1, tzinfo=UTC)),
            log_row("twilio", "sms", "0.0075", datetime(2025, 10, 2, tzinfo=UTC)),
            *[log_row("twilio", "sms", "0.0075", datetime(2025, 10, 3, tzinfo=UTC)) for _ in range(1000)],
            log_row("ses", "email", "0", datetime(2025, 10, 4, tzinfo=UTC)),
            CommunicationLog(recipient="x", channel="sms", status=MessageStatus.FAILED),  # never sent: not counted
        ]
    )
    rows = [line.split() for line in run()[1:]]
    assert rows == [
        ["2025-09", "sms", "sns", "1", "$0.01"],
        ["2025-10", "email", "ses", "1", "$0.00"],
        ["2025-10", "sms", "sns", "1", "$0.01"],
        ["2025-10", "sms", "twilio", "1,001", "$7.51"],
    ]
    assert [line.split()[0] for line in run("--month", "2025-09")[1:]] == ["2025-09"]

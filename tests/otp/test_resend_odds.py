"""A receipt-driven resend is a paid send that counts against its budget, and its second code does
not give a guesser better odds (otp/resend.py)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from otp.limits import RateLimited, check_send
from otp.models import OneTimeCode
from otp.resend import resend_through_next_provider
from tests.helpers import code_in
from tests.messaging.test_receipts_failover import REQUEST, sent_code, sms_chain, verify  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def test_after_a_resend_a_guesser_gets_two_guesses_at_two_codes_instead_of_five_at_one(settings, sms_chain, sent_code):  # noqa: F811
    assert settings.OTP_MAX_ATTEMPTS == 5
    otp, first_code = sent_code
    resend_through_next_provider(otp.log_id, reason="no receipt in time", now=timezone.now())
    second_code = code_in(sms_chain[1].sent_sms()[0]["message"])
    wrong = next(c for c in ("000000", "111111", "222222") if c not in (first_code, second_code))

    assert [verify(wrong) for _ in range(2)] == [False, False]
    # Odds: 2 guesses x 2 codes = 4 in a million, under the 5 one code alone gave. Both are dead now.
    assert verify(first_code) is False and verify(second_code) is False


def test_a_resend_keeps_the_owners_guesses_when_none_were_spent(sms_chain, sent_code):  # noqa: F811
    otp, first_code = sent_code
    resend_through_next_provider(otp.log_id, reason="no receipt in time", now=timezone.now())
    assert verify("000000" if first_code != "000000" else "111111") is False
    assert verify(first_code) is True


def test_a_code_with_one_guess_left_is_not_resent(settings, sms_chain, sent_code):  # noqa: F811
    otp, _ = sent_code
    OneTimeCode.objects.filter(pk=otp.pk).update(attempts=settings.OTP_MAX_ATTEMPTS - 1)
    assert resend_through_next_provider(otp.log_id, reason="x", now=timezone.now()) == (
        "already resent, used, expired or out of guesses"
    )
    assert sms_chain[1].sent_sms() == []


def test_a_resend_counts_against_the_tenants_sms_budget(settings, sms_chain, sent_code):  # noqa: F811
    settings.SMS_TENANT_HOURLY_BUDGET = 1
    otp, _ = sent_code
    resend_through_next_provider(otp.log_id, reason="no receipt in time", now=timezone.now())
    assert len(sms_chain[1].sent_sms()) == 1
    with pytest.raises(RateLimited) as refused:  # the resend spent the tenant's one paid SMS
        check_send(channel="sms", recipient="+12025550100", tenant_id=REQUEST.tenant_id, client_ip="198.51.100.1")
    assert refused.value.scope == "sms_budget"


def test_no_resend_is_paid_for_once_the_budget_is_spent(settings, sms_chain, sent_code):  # noqa: F811
    settings.SMS_TENANT_HOURLY_BUDGET = 1
    check_send(channel="sms", recipient="+12025550100", tenant_id=REQUEST.tenant_id, client_ip="198.51.100.1")
    otp, first_code = sent_code
    assert resend_through_next_provider(otp.log_id, reason="x", now=timezone.now()) == "SMS budget spent"
    assert sms_chain[1].sent_sms() == []
    assert verify(first_code) is True  # the first code is untouched

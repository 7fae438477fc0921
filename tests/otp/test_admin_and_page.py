"""Operators see every message and its attempts, read-only; codes show no code material."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from messaging.models import AttemptOutcome, CommunicationLog, DeliveryAttempt, MessageStatus
from otp.codes import hash_code
from otp.lifecycle import CodeRequest, issue_code
from otp.models import OneTimeCode

pytestmark = pytest.mark.django_db

REQUEST = CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="login")


@pytest.fixture
def delivered_code():
    request = CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="signup")
    otp = issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)
    OneTimeCode.objects.filter(pk=otp.pk).update(code_hash=hash_code("123456", otp_id=str(otp.pk)))
    CommunicationLog.objects.filter(pk=otp.log_id).update(
        status=MessageStatus.SENT, provider_used="smtp", provider_message_id="abc@local", sent_at=timezone.now()
    )
    DeliveryAttempt.objects.create(
        log_id=otp.log_id,
        provider="ses",
        outcome=AttemptOutcome.PROVIDER_FAULT,
        error="MessageRejected: Email address is not verified",
        error_code="MessageRejected",
    )
    DeliveryAttempt.objects.create(log_id=otp.log_id, provider="smtp", outcome=AttemptOutcome.SENT)
    return OneTimeCode.objects.get(pk=otp.pk)


def test_the_admin_requires_login(client, delivered_code):
    response = client.get(reverse("admin:messaging_communicationlog_changelist"))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_staff_browse_logs_with_filters_search_and_attempts_inline(admin_client, delivered_code):
    changelist = admin_client.get(
        reverse("admin:messaging_communicationlog_changelist"), {"q": "jane@example.com", "status": "sent"}
    )
    detail = admin_client.get(reverse("admin:messaging_communicationlog_change", args=[delivered_code.log_id]))

    assert changelist.status_code == 200
    assert "jane@example.com" in changelist.content.decode()
    for filter_name in ("channel", "status", "provider_used", "purpose", "created_at"):
        assert f"?{filter_name}" in changelist.content.decode() or f"{filter_name}__" in changelist.content.decode()
    page = detail.content.decode()
    assert detail.status_code == 200
    assert "MessageRejected: Email address is not verified" in page
    assert "abc@local" in page


def test_logs_cannot_be_added_changed_or_deleted_in_the_admin(admin_client, delivered_code):
    log_id = delivered_code.log_id

    assert admin_client.get(reverse("admin:messaging_communicationlog_add")).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:messaging_communicationlog_delete", args=[log_id]), {"post": "yes"}
        ).status_code
        == 403
    )
    admin_client.post(reverse("admin:messaging_communicationlog_change", args=[log_id]), {"status": "failed"})
    assert CommunicationLog.objects.get(pk=log_id).status == MessageStatus.SENT


def test_the_code_admin_shows_no_code_material(admin_client, delivered_code):
    page = admin_client.get(reverse("admin:otp_onetimecode_change", args=[delivered_code.pk])).content.decode()

    assert "jane@example.com" in page
    assert delivered_code.code_hash not in page
    assert "code_hash" not in page
    assert "123456" not in page


def test_the_signup_page_asks_for_a_recipient_and_calls_send_then_verify(client):
    response = client.get("/signup/")

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="send-form"' in page and 'id="verify-form"' in page
    assert "/api/v1/auth/otp/send" in page and "/api/v1/auth/otp/verify" in page


def test_the_openapi_schema_describes_both_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    assert {"/api/v1/auth/otp/send", "/api/v1/auth/otp/verify"} <= set(schema["paths"])


def test_env_example_documents_every_variable_settings_reads():
    import re
    from pathlib import Path

    root = Path(settings.BASE_DIR)
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"', (root / "otpsite" / "settings.py").read_text()))
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", (root / ".env.example").read_text(), re.MULTILINE))

    assert read - documented == set()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("admin_name", ["messaging_communicationlog", "otp_onetimecode"])
def test_staff_meet_read_only_logs_and_codes_no_save_button_and_a_full_post_changes_nothing(admin_client, admin_name):
    otp = issue_code(REQUEST, now=timezone.now(), enqueue=lambda otp_id: None)
    obj_id = otp.log_id if admin_name.startswith("messaging") else otp.pk
    url = reverse(f"admin:{admin_name}_change", args=[obj_id])
    page = admin_client.get(url)
    form = {
        "recipient": "mallory@example.com",
        "status": "sent",
        "channel": "email",
        "purpose": "login",
        "tenant_id": "acme",
        "attempts": "0",
        "metadata": "{}",
        "expires_at_0": "2099-01-01",
        "expires_at_1": "00:00:00",
        "created_at_0": "2020-01-01",
        "created_at_1": "00:00:00",
        "attempts-TOTAL_FORMS": "0",
        "attempts-INITIAL_FORMS": "0",
        "_save": "Save",
    }

    posted = admin_client.post(url, form)

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert posted.status_code == 403
    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert (log.recipient, log.status) == ("jane@example.com", MessageStatus.QUEUED)
    assert OneTimeCode.objects.get(pk=otp.pk).recipient == "jane@example.com"

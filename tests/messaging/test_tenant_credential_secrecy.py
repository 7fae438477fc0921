"""A tenant's credentials are sealed at rest, write-only in admin, and in no log, page or error text;
rotation re-encrypts them under a new key."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.core.management.base import CommandError

from messaging.models import Channel, CommunicationLog, DeliveryAttempt
from messaging.tenancy.models import ProviderCredential, TenantChain
from tests.conftest import ROOT
from tests.messaging.test_tenant_providers import send_email, send_sms
from tests.otp.test_end_to_end import redis_keys_containing, tables_containing
from tests.otpsite.test_security_settings import BASE_ENV

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

ADD_URL = "/admin/messaging/providercredential/add/"
LIST_URL = "/admin/messaging/providercredential/"


def change_url(row: ProviderCredential) -> str:
    return f"/admin/messaging/providercredential/{row.pk}/change/"


def add_through_admin(admin_client, **values: str) -> ProviderCredential:
    response = admin_client.post(ADD_URL, values)
    assert response.status_code == 302, response.content.decode()[:2000]
    return ProviderCredential.objects.get(tenant=values["tenant"], provider=values["provider"])


def test_no_credential_in_plaintext_in_the_database_logs_admin_pages_or_error_texts(
    admin_client, login_sink, caplog, settings, twilio_standin
):
    caplog.set_level(logging.DEBUG)
    password = f"smtp-{secrets.token_hex(12)}"
    token = f"twilio-{secrets.token_hex(12)}"
    # The server refuses the login and quotes it back ("535 bad login user:password").
    login_sink.logins = {"globex": "another-password"}
    smtp = add_through_admin(admin_client, tenant="globex", provider="smtp", SMTP_HOST=login_sink.host,
                             SMTP_PORT=str(login_sink.port), SMTP_USER="globex", SMTP_PASSWORD=password)  # fmt: skip
    twilio = add_through_admin(admin_client, tenant="globex", provider="twilio", TWILIO_ACCOUNT_SID="AC" + "c3" * 16,
                               TWILIO_AUTH_TOKEN=token, TWILIO_FROM_NUMBER="+15005550303")  # fmt: skip
    TenantChain.objects.create(tenant="globex", channel=Channel.EMAIL, providers="smtp")

    log = send_email("globex")
    # A send that succeeds on the tenant's own account too (its breaker, its quota counters in Redis).
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    settings.MESSAGING_PRICES = {**settings.MESSAGING_PRICES, "twilio": {"per_message": 0, "daily_quota": 100}}
    twilio_standin.accounts = {"AC" + "c3" * 16: token}
    assert send_sms("globex").provider_used == "twilio"

    [attempt] = DeliveryAttempt.objects.filter(log=log)
    assert attempt.provider == "smtp" and "535" in attempt.error and "[redacted]" in attempt.error
    log.refresh_from_db()
    pages = "".join(admin_client.get(url).content.decode() for url in (LIST_URL, change_url(smtp), change_url(twilio)))
    assert f"…{password[-4:]}" in pages and f"…{token[-4:]}" in pages  # the last 4 characters, nothing more
    for secret in (password, token):
        assert secret not in attempt.error and secret not in log.error_message
        assert secret not in pages
        assert tables_containing(secret) == []
        assert redis_keys_containing(secret, in_names=True) == []
        assert secret not in caplog.text
    assert smtp.values()["SMTP_PASSWORD"] == password  # and yet it is there, sealed


def test_a_blank_secret_in_the_admin_form_keeps_the_stored_one_and_other_fields_change(admin_client):
    row = add_through_admin(admin_client, tenant="acme", provider="sendgrid", SENDGRID_API_KEY="SG.first-key-1234",
                            OTP_FROM_EMAIL="a@acme.example")  # fmt: skip

    response = admin_client.post(change_url(row), {"tenant": "acme", "provider": "sendgrid",
                                                   "OTP_FROM_EMAIL": "b@acme.example"})  # fmt: skip

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.values()["SENDGRID_API_KEY"] == "SG.first-key-1234"
    assert row.values()["OTP_FROM_EMAIL"] == "b@acme.example" and row.version == 2


def test_the_admin_form_refuses_a_setting_of_another_provider_with_a_field_error(admin_client):
    response = admin_client.post(ADD_URL, {"tenant": "acme", "provider": "sendgrid", "TWILIO_AUTH_TOKEN": "x" * 12})

    assert response.status_code == 200
    assert "Not a setting of this provider." in response.content.decode()
    assert not ProviderCredential.objects.exists()


def sealed_with(keys: list[str], settings, **values: str) -> ProviderCredential:
    settings.CREDENTIALS_ENCRYPTION_KEYS = keys
    row = ProviderCredential(tenant="acme", provider="twilio")
    row.set_values(values)
    row.save()
    return row


def test_rotation_re_encrypts_under_the_first_key_and_the_old_key_reads_until_then(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    row = sealed_with([old], settings, TWILIO_AUTH_TOKEN="token-before-rotation")
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new, old]
    assert row.values()["TWILIO_AUTH_TOKEN"] == "token-before-rotation"  # the old key still opens it

    call_command("rotate_credentials")

    row.refresh_from_db()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new]
    assert row.values()["TWILIO_AUTH_TOKEN"] == "token-before-rotation" and row.version == 1
    settings.CREDENTIALS_ENCRYPTION_KEYS = [old]
    with pytest.raises(InvalidToken):
        row.values()


def test_rotation_names_a_row_no_key_opens_and_rotates_the_rest(settings):
    lost, kept = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    orphan = sealed_with([lost], settings, TWILIO_AUTH_TOKEN="orphaned-token")
    settings.CREDENTIALS_ENCRYPTION_KEYS = [kept]

    with pytest.raises(CommandError, match=f"acme/twilio \\(id {orphan.pk}\\)") as refused:
        call_command("rotate_credentials")

    assert "orphaned-token" not in str(refused.value)


def test_a_credential_no_key_opens_is_skipped_not_sent_with_the_platforms(settings, twilio_standin):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    sealed_with([Fernet.generate_key().decode()], settings, TWILIO_AUTH_TOKEN="lost-token")
    settings.CREDENTIALS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    from messaging.service import UnifiedMessagingService

    result = UnifiedMessagingService().send_sms("+14155550123", "hello", {"tenant_id": "acme"})

    assert result["success"] is False and twilio_standin.requests == []
    log = CommunicationLog.objects.get(message_id=result["message_id"])
    assert list(log.attempts.values_list("outcome", flat=True)) == ["skipped_not_configured"]


def manage_check(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **BASE_ENV, **overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_refuse_the_development_key_and_a_malformed_one():
    from otpsite.secretbox import development_key
    from otpsite.settings import _DEV_SECRET

    dev = manage_check(CREDENTIALS_ENCRYPTION_KEYS=development_key(_DEV_SECRET))
    malformed = manage_check(CREDENTIALS_ENCRYPTION_KEYS=f"{Fernet.generate_key().decode()},not-a-key")

    assert dev.returncode != 0 and "CREDENTIALS_ENCRYPTION_KEYS holds the development key" in dev.stderr
    assert malformed.returncode != 0 and "CREDENTIALS_ENCRYPTION_KEYS: key 2 is not a Fernet key" in malformed.stderr
    assert "not-a-key" not in malformed.stderr

"""tenant_id is no longer a free knob: anonymous callers act for the default tenant only."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.keys import create_api_key
from accounts.models import ApiKey, Tenant
from otp.models import OneTimeCode
from tests.helpers import SEND_URL

pytestmark = pytest.mark.django_db


def send(client, body, **extra):
    return client.post(SEND_URL, body, content_type="application/json", **extra)


def test_the_default_tenant_exists_after_migrating(settings):
    assert Tenant.objects.filter(slug=settings.OTP_DEFAULT_TENANT).exists()


def test_rotating_tenant_id_anonymously_buys_no_fresh_tenant_limit(client, settings):
    settings.OTP_SEND_LIMIT_PER_TENANT = 2
    settings.OTP_SEND_LIMIT_PER_IP = 1000
    Tenant.objects.create(slug="acme", name="Acme")  # a real tenant does not help either
    for n in range(2):
        assert send(client, {"email": f"user{n}@example.com"}).status_code == 202

    rotated = [
        send(client, {"email": f"other{n}@example.com", "tenant_id": tenant})
        for n, tenant in enumerate(["t1", "t2", "acme", "default"])
    ]

    assert [r.status_code for r in rotated] == [400, 400, 400, 429]
    assert rotated[0].json() == {
        "tenant_id": ["Only a caller with an API key can choose a tenant; leave tenant_id out."]
    }
    assert rotated[3].json()["detail"].startswith("Too many requests")
    assert set(OneTimeCode.objects.values_list("tenant_id", flat=True)) == {"default"}


def test_an_api_key_acts_for_its_own_tenant_only(client):
    acme = Tenant.objects.create(slug="acme", name="Acme")
    Tenant.objects.create(slug="globex", name="Globex")
    _, key = create_api_key(acme)

    implicit = send(client, {"email": "a@example.com"}, HTTP_AUTHORIZATION=f"Api-Key {key}")
    explicit = send(client, {"email": "b@example.com", "tenant_id": "acme"}, HTTP_AUTHORIZATION=f"Bearer {key}")
    other = send(client, {"email": "c@example.com", "tenant_id": "globex"}, HTTP_AUTHORIZATION=f"Api-Key {key}")

    assert (implicit.status_code, explicit.status_code, other.status_code) == (202, 202, 400)
    assert other.json() == {"tenant_id": ["This API key belongs to another tenant."]}
    assert sorted(OneTimeCode.objects.values_list("recipient", "tenant_id")) == [
        ("a@example.com", "acme"),
        ("b@example.com", "acme"),
    ]


def test_a_wrong_or_revoked_key_gets_401_not_the_default_tenant(client):
    from django.utils import timezone

    acme = Tenant.objects.create(slug="acme", name="Acme")
    revoked_key, revoked = create_api_key(acme)
    ApiKey.objects.filter(pk=revoked_key.pk).update(revoked_at=timezone.now())
    _, live = create_api_key(acme)
    forged = live[:-3] + ("abc" if not live.endswith("abc") else "xyz")  # right prefix, wrong secret

    answers = [
        send(client, {"email": "a@example.com"}, HTTP_AUTHORIZATION=f"Api-Key {key}")
        for key in (revoked, forged, "otpk_nothing")
    ]

    assert [a.status_code for a in answers] == [401, 401, 401]
    assert answers[0].json() == {"detail": "The API key is not valid."}
    assert answers[0]["WWW-Authenticate"] == "Api-Key"
    assert send(client, {"email": "a@example.com"}, HTTP_AUTHORIZATION=f"Api-Key {live}").status_code == 202
    assert OneTimeCode.objects.get().tenant_id == "acme"


def test_create_api_key_prints_the_key_once_and_stores_only_its_hash(capsys):
    call_command("create_api_key", "acme", "--create-tenant", "Acme Inc", "--name", "backend")

    key = capsys.readouterr().out.strip()
    stored = ApiKey.objects.get()
    assert key.startswith(f"otpk_{stored.prefix}_") and len(key) > 40
    assert key not in (stored.key_hash, stored.prefix) and stored.tenant.name == "Acme Inc"
    assert not ApiKey.objects.filter(key_hash__contains=key[-20:]).exists()


def test_start_up_check_names_the_setting_when_signing_keys_are_unusable(settings, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.OTP_SIGNING_KEY_FILE = str(tmp_path / "keys.json")
    (tmp_path / "keys.json").write_text("not json")

    with pytest.raises(SystemCheckError, match="OTP_SIGNING_KEY_FILE"):
        call_command("check")
    settings.OTP_SIGNING_KEY_FILE = str(tmp_path / "fresh" / "keys.json")
    call_command("check")


def test_the_admin_lists_tenants_and_key_prefixes_but_never_a_key(admin_client):
    api_key, key = create_api_key(Tenant.objects.create(slug="acme", name="Acme"))

    page = admin_client.get(f"/admin/accounts/tenant/{api_key.tenant_id}/change/").content.decode()

    assert api_key.prefix in page
    assert key not in page and api_key.key_hash not in page

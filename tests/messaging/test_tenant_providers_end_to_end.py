"""Codes asked for with two tenants' API keys reach a real worker, which sends each through its own
tenant's Twilio account (the stand-in checks each call's SID and token)."""

from __future__ import annotations

import pytest

from accounts.keys import create_api_key
from accounts.models import Tenant
from messaging.models import CommunicationLog, MessageStatus
from tests.helpers import SEND_URL, VERIFY_URL, code_in, wait_for
from tests.messaging.test_tenant_providers import (
    ACME_FROM,
    ACME_SID,
    ACME_TOKEN,
    GLOBEX_FROM,
    GLOBEX_SID,
    GLOBEX_TOKEN,
    own_credential,
)
from tests.standins.fixtures import TWILIO_FROM, TWILIO_SID
from tests.standins.twilio import account_of, basic_auth

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

PHONES = {"acme": "+14155550101", "globex": "+14155550202", "default": "+14155550303"}


def test_each_tenants_code_leaves_through_its_own_account_from_a_real_worker(
    client, settings, twilio_standin, start_worker
):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    twilio_standin.accounts = {TWILIO_SID: settings.TWILIO_AUTH_TOKEN, ACME_SID: ACME_TOKEN, GLOBEX_SID: GLOBEX_TOKEN}
    keys = {}
    for slug, sid, token, sender in (("acme", ACME_SID, ACME_TOKEN, ACME_FROM),
                                     ("globex", GLOBEX_SID, GLOBEX_TOKEN, GLOBEX_FROM)):  # fmt: skip
        _, keys[slug] = create_api_key(Tenant.objects.create(slug=slug, name=slug.title()))
        own_credential(slug, "twilio", TWILIO_ACCOUNT_SID=sid, TWILIO_AUTH_TOKEN=token, TWILIO_FROM_NUMBER=sender)
    start_worker(
        TEST_WORKER_STANDIN_CREDENTIALS="1",
        MESSAGING_SMS_PROVIDERS="twilio",
        TWILIO_ACCOUNT_SID=TWILIO_SID,
        TWILIO_AUTH_TOKEN=settings.TWILIO_AUTH_TOKEN,
        TWILIO_FROM_NUMBER=TWILIO_FROM,
        TWILIO_API_BASE_URL=twilio_standin.url,
    )

    for slug, phone in PHONES.items():
        auth = {"HTTP_AUTHORIZATION": f"Api-Key {keys[slug]}"} if slug in keys else {}
        response = client.post(SEND_URL, {"phone": phone, "purpose": "login"}, content_type="application/json", **auth)
        assert response.status_code == 202

    wait_for(lambda: CommunicationLog.objects.filter(status=MessageStatus.SENT).count() == 3, what="three sends")
    calls = {r.form()["To"]: (account_of(r), basic_auth(r), r.form()["From"]) for r in twilio_standin.requests}
    assert calls == {
        PHONES["acme"]: (ACME_SID, (ACME_SID, ACME_TOKEN), ACME_FROM),
        PHONES["globex"]: (GLOBEX_SID, (GLOBEX_SID, GLOBEX_TOKEN), GLOBEX_FROM),
        PHONES["default"]: (TWILIO_SID, (TWILIO_SID, settings.TWILIO_AUTH_TOKEN), TWILIO_FROM),
    }
    # And the code acme's user got verifies for acme.
    body = next(r.form()["Body"] for r in twilio_standin.requests if r.form()["To"] == PHONES["acme"])
    verify = {"phone": PHONES["acme"], "purpose": "login", "code": code_in(body)}
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {keys['acme']}"}
    assert client.post(VERIFY_URL, verify, content_type="application/json", **auth).status_code == 200

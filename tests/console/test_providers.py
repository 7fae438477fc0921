"""A tenant's staff manage their own provider credentials and chains in the console and read their
budget: what they set is what their next message uses; a secret never comes back."""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.models import TenantMember, TenantRole
from messaging import budgets
from messaging.budget_models import TenantBudget, TenantSpend
from messaging.models import MessageStatus
from messaging.tenancy.models import ProviderCredential, TenantChain
from tests.console.conftest import TenantRows
from tests.messaging.test_tenant_providers import send_sms
from tests.standins.fixtures import TWILIO_SID
from tests.standins.twilio import account_of, basic_auth

pytestmark = pytest.mark.django_db

CREDENTIALS = "/console/messaging/providercredential/"
CHAINS = "/console/messaging/tenantchain/"
BUDGET = "/console/messaging/tenantbudget/"
ACME_SID, ACME_FROM = "AC" + "d4" * 16, "+15005550404"


def twilio_form(token: str, **extra: str) -> dict[str, str]:
    return {"provider": "twilio", "TWILIO_ACCOUNT_SID": ACME_SID, "TWILIO_AUTH_TOKEN": token,
            "TWILIO_FROM_NUMBER": ACME_FROM, **extra}  # fmt: skip


def member_of(rows: TenantRows, role: str) -> Client:
    user = get_user_model().objects.create_user(f"{role}@{rows.tenant.slug}.example")
    TenantMember.objects.create(tenant=rows.tenant, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


def test_a_twilio_credential_set_in_the_console_carries_the_tenants_next_message(
    acme, globex, settings, twilio_standin
):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    token = f"acme-token-{secrets.token_hex(8)}"
    twilio_standin.accounts = {TWILIO_SID: "test-auth-token", ACME_SID: token}

    # No tenant to choose, and one posted is ignored: the credential is the member's tenant's.
    assert 'name="tenant"' not in acme.client().get(f"{CREDENTIALS}add/").content.decode()
    response = acme.client().post(f"{CREDENTIALS}add/", {**twilio_form(token), "tenant": "globex"})

    assert response.status_code == 302, response.content.decode()[:2000]
    assert ProviderCredential.objects.get(provider="twilio").tenant == "acme"
    mine, theirs = send_sms("acme"), send_sms("globex")
    assert (mine.status, theirs.status) == (MessageStatus.SENT, MessageStatus.SENT)
    calls = [(account_of(r), basic_auth(r), r.form()["From"]) for r in twilio_standin.requests]
    assert calls[0] == (ACME_SID, (ACME_SID, token), ACME_FROM)
    assert calls[1][0] == TWILIO_SID  # globex has no Twilio account of its own: the platform's


def test_no_console_page_or_log_shows_a_secret(acme, caplog):
    caplog.set_level(logging.DEBUG)
    token, client = f"acme-token-{secrets.token_hex(8)}", acme.client()
    client.post(f"{CREDENTIALS}add/", twilio_form(token))
    row = ProviderCredential.objects.get(tenant="acme", provider="twilio")
    change = f"{CREDENTIALS}{row.pk}/change/"
    new_token = f"acme-new-{secrets.token_hex(8)}"

    refused = client.post(change, twilio_form(new_token, SMTP_PORT="25"))  # a field of another provider
    kept = client.post(change, twilio_form(""))  # a blank secret keeps the stored one

    assert refused.status_code == 200 and "Not a setting of this provider." in refused.content.decode()
    assert kept.status_code == 302
    assert ProviderCredential.objects.get(pk=row.pk).values()["TWILIO_AUTH_TOKEN"] == token
    listed, shown, history = (client.get(path) for path in (CREDENTIALS, change, f"{CREDENTIALS}{row.pk}/history/"))
    for page in (refused, listed, shown, history):
        html = page.content.decode()
        assert token not in html and new_token not in html
    assert f"…{token[-4:]}" in listed.content.decode() and f"…{token[-4:]}" in shown.content.decode()
    assert ACME_FROM in client.get(change).content.decode()  # a value that is not secret shows
    assert token not in caplog.text and new_token not in caplog.text


def test_a_viewer_reads_credentials_and_chains_but_changes_nothing(acme):
    viewer = member_of(acme, TenantRole.VIEWER)
    change = f"{CREDENTIALS}{acme.credential.pk}/change/"

    assert viewer.get(CREDENTIALS).status_code == 200 and viewer.get(change).status_code == 200
    assert "SG.acme-key-0000" not in viewer.get(change).content.decode()
    assert viewer.get(f"{CREDENTIALS}add/").status_code == 403
    assert viewer.post(change, {"provider": "sendgrid", "SENDGRID_API_KEY": "SG.viewer"}).status_code == 403
    assert viewer.post(f"{CREDENTIALS}{acme.credential.pk}/delete/", {"post": "yes"}).status_code == 403
    assert viewer.post(f"{CHAINS}{acme.chain.pk}/change/", {"channel": "email", "providers": "smtp"}).status_code == 403
    assert ProviderCredential.objects.get(pk=acme.credential.pk).values()["SENDGRID_API_KEY"] == "SG.acme-key-0000"
    assert TenantChain.objects.get(pk=acme.chain.pk).providers == "sendgrid,smtp"


def test_an_admin_sets_a_chain_and_deletes_a_credential(acme, globex):
    admin = member_of(acme, TenantRole.ADMIN)

    refused = admin.post(f"{CHAINS}add/", {"channel": "sms", "providers": "twilio,nope"})
    added = admin.post(f"{CHAINS}add/", {"channel": "sms", "providers": "twilio", "tenant": "globex"})
    deleted = admin.post(f"{CREDENTIALS}{acme.credential.pk}/delete/", {"post": "yes"})

    assert refused.status_code == 200 and "Unknown provider &#x27;nope&#x27;" in refused.content.decode()
    assert added.status_code == 302 and deleted.status_code == 302
    assert TenantChain.objects.get(channel="sms").tenant == "acme"
    assert not ProviderCredential.objects.filter(pk=acme.credential.pk).exists()


def test_a_second_credential_or_chain_of_the_same_kind_is_a_form_error(acme, globex):
    client = acme.client()

    credential = client.post(f"{CREDENTIALS}add/", {"provider": "sendgrid", "SENDGRID_API_KEY": "SG.again"})
    chain = client.post(f"{CHAINS}add/", {"channel": "email", "providers": "smtp"})

    for page in (credential, chain):
        assert page.status_code == 200 and "already exists" in page.content.decode()
    assert ProviderCredential.objects.filter(tenant="acme").count() == 1
    assert TenantChain.objects.filter(tenant="acme").count() == 1


def spend(tenant: str, usd: str) -> None:
    TenantSpend.objects.create(tenant=tenant, month=budgets.month_of(timezone.now()), spent_usd=Decimal(usd))


def test_the_budget_shows_the_cap_and_this_months_spend_which_members_cannot_change(acme, globex):
    spend("acme", "12.5")
    spend("globex", "70")
    client = member_of(acme, TenantRole.ADMIN)

    page = client.get(BUDGET).content.decode()
    changed = client.post(f"{BUDGET}{acme.budget.pk}/change/", {"monthly_cap_usd": "5000", "at_cap": "refuse"})

    assert "50.00" in page and "12.50" in page and "25%" in page
    assert "set by the platform's staff" in page
    assert "globex" not in page and "70.00" not in page
    assert changed.status_code == 403
    assert TenantBudget.objects.get(pk=acme.budget.pk).monthly_cap_usd == Decimal("50.00")


@pytest.mark.parametrize(
    ("spent", "banner"),
    [
        ("39", None),
        ("41", "Tenant acme has spent 41.00 of its 50.00 USD monthly cap (82%)."),
        ("50", "Tenant acme has spent 50.00 of its 50.00 USD monthly cap (100%); its new sends are refused."),
    ],
)
def test_the_80_percent_banner_shows_on_the_index_and_the_message_list(spent, banner, acme, globex):
    spend("acme", spent)
    spend("globex", "74")  # globex is past 80 % too: acme's staff never read of it
    client = acme.client()

    for path in ("/console/", "/console/messaging/communicationlog/", BUDGET):
        page = client.get(path).content.decode()
        assert "globex" not in page
        assert (banner in page) if banner else ("has spent" not in page)

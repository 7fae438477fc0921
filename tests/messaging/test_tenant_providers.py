"""Each tenant its own chain and credentials: against stand-ins that check the credentials.

The Twilio stand-in checks each call's account SID and auth token (HTTP basic auth), SendGrid's its
bearer key, the SMTP server its login; each refuses any other, as the real services do.
"""

from __future__ import annotations

import json
import secrets
import time
from io import StringIO

import pytest
from django.core.management import call_command

from messaging.breaker import CLOSED, OPEN, breaker_for, tenant_breaker_name
from messaging.models import AttemptOutcome, Channel, CommunicationLog, DeliveryAttempt, MessageStatus
from messaging.service import UnifiedMessagingService
from messaging.tenancy.models import ProviderCredential, TenantChain
from tests.standins.aws import AwsStandIn
from tests.standins.fixtures import TWILIO_SID
from tests.standins.receipts import SendGridSigner, sendgrid_event, twilio_callback
from tests.standins.twilio import account_of, basic_auth

pytestmark = [
    pytest.mark.django_db,
    # The SMTP stand-in takes AUTH over plain text on 127.0.0.1, as the test needs.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

ACME_SID, GLOBEX_SID = "AC" + "a1" * 16, "AC" + "b2" * 16
ACME_TOKEN, GLOBEX_TOKEN = f"acme-token-{secrets.token_hex(8)}", f"globex-token-{secrets.token_hex(8)}"
ACME_FROM, GLOBEX_FROM = "+15005550101", "+15005550202"
ACME_SENDGRID_KEY = f"SG.acme-{secrets.token_hex(12)}"
GLOBEX_SMTP_PASSWORD = f"globex-smtp-{secrets.token_hex(8)}"
PUBLIC_BASE = "https://otp.example.com"


def own_credential(tenant: str, provider: str, **values: str) -> ProviderCredential:
    row = ProviderCredential(tenant=tenant, provider=provider)
    row.set_values(values)
    row.save()
    return row


def own_chain(tenant: str, channel: str, providers: str) -> None:
    chain = TenantChain(tenant=tenant, channel=channel, providers=providers)
    chain.full_clean()
    chain.save()


def send_sms(tenant: str | None, text: str = "Your code is 123456") -> CommunicationLog:
    metadata = {"tenant_id": tenant} if tenant else {}
    result = UnifiedMessagingService().send_sms("+14155550123", text, metadata)
    return CommunicationLog.objects.get(message_id=result["message_id"])


def send_email(tenant: str) -> CommunicationLog:
    metadata = {"tenant_id": tenant} if tenant else {}
    result = UnifiedMessagingService().send_email("jane@example.com", "Your code", "<p>123456</p>", "123456", metadata)
    return CommunicationLog.objects.get(message_id=result["message_id"])


@pytest.fixture
def tenants(settings, twilio_standin, sendgrid_standin, login_sink):
    """acme: Twilio and SendGrid accounts of its own, email through SendGrid only; globex: its own
    Twilio account and SMTP server, email through SMTP only. The platform keeps the fixtures'."""
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    twilio_standin.accounts = {TWILIO_SID: "test-auth-token", ACME_SID: ACME_TOKEN, GLOBEX_SID: GLOBEX_TOKEN}
    sendgrid_standin.api_keys = {"SG.test-key", ACME_SENDGRID_KEY}
    login_sink.logins = {"globex": GLOBEX_SMTP_PASSWORD}
    acme_twilio = own_credential(
        "acme", "twilio", TWILIO_ACCOUNT_SID=ACME_SID, TWILIO_AUTH_TOKEN=ACME_TOKEN, TWILIO_FROM_NUMBER=ACME_FROM
    )
    own_credential("acme", "sendgrid", SENDGRID_API_KEY=ACME_SENDGRID_KEY, OTP_FROM_EMAIL="codes@acme.example")
    own_chain("acme", Channel.EMAIL, "sendgrid")
    own_credential("globex", "twilio", TWILIO_ACCOUNT_SID=GLOBEX_SID, TWILIO_AUTH_TOKEN=GLOBEX_TOKEN,
                   TWILIO_FROM_NUMBER=GLOBEX_FROM)  # fmt: skip
    own_credential("globex", "smtp", SMTP_HOST=login_sink.host, SMTP_PORT=str(login_sink.port), SMTP_USER="globex",
                   SMTP_PASSWORD=GLOBEX_SMTP_PASSWORD, OTP_FROM_EMAIL="codes@globex.example")  # fmt: skip
    own_chain("globex", Channel.EMAIL, "smtp")
    return acme_twilio


def test_each_tenants_sms_goes_through_its_own_twilio_account(tenants, twilio_standin):
    logs = [send_sms("acme"), send_sms("globex"), send_sms(None)]

    assert [(log.status, log.provider_used) for log in logs] == [(MessageStatus.SENT, "twilio")] * 3
    calls = [(account_of(r), basic_auth(r), r.form()["From"]) for r in twilio_standin.requests]
    assert calls == [
        (ACME_SID, (ACME_SID, ACME_TOKEN), ACME_FROM),
        (GLOBEX_SID, (GLOBEX_SID, GLOBEX_TOKEN), GLOBEX_FROM),
        (TWILIO_SID, (TWILIO_SID, "test-auth-token"), "+15005550006"),
    ]


def test_each_tenants_email_walks_its_own_chain_with_its_own_credentials(tenants, sendgrid_standin, login_sink):
    acme, globex = send_email("acme"), send_email("globex")

    assert (acme.status, acme.provider_used) == (MessageStatus.SENT, "sendgrid")
    assert (globex.status, globex.provider_used) == (MessageStatus.SENT, "smtp")
    [request] = sendgrid_standin.requests
    assert request.headers["Authorization"] == f"Bearer {ACME_SENDGRID_KEY}"
    assert request.json()["from"]["email"] == "codes@acme.example"
    [message] = login_sink.wait_for(1)
    assert login_sink.logged_in == ["globex"] and message["From"].addresses[0].addr_spec == "codes@globex.example"
    # Neither tenant's chain names SES (the platform's first): no attempt went there.
    assert set(DeliveryAttempt.objects.values_list("provider", flat=True)) == {"sendgrid", "smtp"}


def test_a_tenant_without_a_chain_walks_the_platforms(tenants, settings):
    settings.MESSAGING_SMS_PROVIDERS = ["sns", "twilio"]  # SNS has no credentials here: skipped

    log = send_sms("globex")

    assert list(log.attempts.values_list("provider", "outcome")) == [
        ("sns", AttemptOutcome.SKIPPED_NOT_CONFIGURED),
        ("twilio", AttemptOutcome.SENT),
    ]


def test_a_receipt_signed_with_tenant_a_token_is_refused_for_tenant_b_message(client, settings, tenants):
    settings.MESSAGING_WEBHOOK_BASE_URL = PUBLIC_BASE
    globex = send_sms("globex")
    form = {"AccountSid": GLOBEX_SID, "MessageSid": globex.provider_message_id, "MessageStatus": "delivered"}

    def post(token: str) -> int:
        headers = twilio_callback(PUBLIC_BASE + "/webhooks/twilio", form, auth_token=token)
        return client.post("/webhooks/twilio", form, headers=headers).status_code

    assert post(ACME_TOKEN) == 403
    assert post("test-auth-token") == 403  # the platform's own token does not speak for globex either
    globex.refresh_from_db()
    assert globex.status == MessageStatus.SENT
    assert post(GLOBEX_TOKEN) == 200
    globex.refresh_from_db()
    assert globex.status == MessageStatus.DELIVERED


def test_tenant_a_failing_five_times_opens_only_its_own_breaker(tenants, twilio_standin):
    acme_twilio = tenants
    twilio_standin.accounts[ACME_SID] = "a-token-twilio-no-longer-takes"  # acme's stored token is now wrong

    failed = [send_sms("acme") for _ in range(5)]

    assert {log.status for log in failed} == {MessageStatus.FAILED}
    acme_breaker = tenant_breaker_name("twilio", tenant="acme", credential_id=acme_twilio.pk)
    assert breaker_for(acme_breaker).snapshot().state == OPEN
    assert breaker_for("twilio").snapshot().state == CLOSED
    called = len(twilio_standin.requests)
    assert send_sms("globex").status == MessageStatus.SENT  # same provider, its own account
    assert send_sms(None).status == MessageStatus.SENT  # and the platform's
    skipped = send_sms("acme")
    assert list(skipped.attempts.values_list("outcome", flat=True)) == [AttemptOutcome.SKIPPED_BREAKER_OPEN]
    assert [account_of(r) for r in twilio_standin.requests[called:]] == [GLOBEX_SID, TWILIO_SID]
    # Operators see it apart from the platform's, and can close it.
    listed = StringIO()
    call_command("messaging_breakers", "--tenants", stdout=listed)
    lines = listed.getvalue().splitlines()
    assert [line.split()[:2] for line in lines if line.startswith("twilio")] == [["twilio", CLOSED],
                                                                                [acme_breaker, OPEN]]  # fmt: skip
    call_command("messaging_breakers", "--reset", acme_breaker, stdout=StringIO())
    assert breaker_for(acme_breaker).snapshot().state == CLOSED


def test_a_chain_naming_an_unknown_provider_or_one_of_the_other_channel_is_refused():
    from django.core.exceptions import ValidationError

    for providers, error in (("twilio,nope", "Unknown provider 'nope'"), ("sendgrid", "does not send sms"),
                             ("console", "Unknown provider 'console'"), (" , ", "at least one")):  # fmt: skip
        with pytest.raises(ValidationError, match=error):
            TenantChain(tenant="acme", channel=Channel.SMS, providers=providers).full_clean()


def test_a_tenants_ses_account_sends_from_its_own_region_and_identity(aws, settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["ses"]
    aws.verify_sender(settings.OTP_FROM_EMAIL)  # the platform's identity, in the platform's region
    AwsStandIn(url=aws.url, region="eu-west-1").verify_sender("codes@acme.example")  # acme's, in its own only
    own_credential("acme", "ses", AWS_ACCESS_KEY_ID="AKIAACMEEXAMPLE00001", AWS_SECRET_ACCESS_KEY="acme-aws-secret",
                   AWS_REGION="eu-west-1", OTP_FROM_EMAIL="codes@acme.example", OTP_FROM_NAME="Acme")  # fmt: skip

    acme, platform = send_email("acme"), send_email("")

    # SES refuses a sender not verified in the region it is called in: each went to its own.
    assert (acme.status, platform.status) == (MessageStatus.SENT, MessageStatus.SENT)
    sources = sorted(str(sent["source"]) for sent in aws.sent_emails())
    assert sources[0].endswith("<codes@acme.example>") and settings.OTP_FROM_EMAIL in sources[1]


def test_a_sendgrid_batch_speaks_only_for_the_messages_of_the_account_whose_key_signed_it(
    client, settings, sendgrid_standin, sendgrid_signer
):
    settings.MESSAGING_EMAIL_PROVIDERS = ["sendgrid"]
    acme_signer = SendGridSigner()
    own_credential(
        "acme", "sendgrid", SENDGRID_API_KEY=ACME_SENDGRID_KEY, SENDGRID_WEBHOOK_PUBLIC_KEY=acme_signer.public_key
    )
    acme, platform = send_email("acme"), send_email("")

    def post(signer: SendGridSigner, *logs: CommunicationLog) -> int:
        body = json.dumps([sendgrid_event(log.provider_message_id, "delivered") for log in logs]).encode()
        headers = signer.headers(body, timestamp=int(time.time()))
        return client.post("/webhooks/sendgrid", body, content_type="application/json", headers=headers).status_code

    assert post(sendgrid_signer, acme) == 403  # the platform's key does not speak for acme's message
    assert post(acme_signer, platform) == 403  # nor acme's for the platform's
    assert post(acme_signer, acme, platform) == 200  # acme's batch: only acme's event counts
    acme.refresh_from_db()
    platform.refresh_from_db()
    assert (acme.status, platform.status) == (MessageStatus.DELIVERED, MessageStatus.SENT)


def test_a_tenants_sdk_client_is_kept_per_credential_and_rebuilt_when_its_keys_change(tenants, twilio_standin):
    from messaging.providers.twilio.sender import tenant_twilio_clients

    tenant_twilio_clients.cache_clear()
    for tenant in ("acme", "acme", "globex"):
        assert send_sms(tenant).status == MessageStatus.SENT
    acme_twilio = tenants
    first = tenant_twilio_clients.built[("twilio", acme_twilio.pk)][2]
    assert len(tenant_twilio_clients.built) == 2  # one per credential: acme's second send reused its own
    new_token = f"acme-token-{secrets.token_hex(8)}"
    twilio_standin.accounts[ACME_SID] = new_token
    acme_twilio.set_values({**acme_twilio.values(), "TWILIO_AUTH_TOKEN": new_token})
    acme_twilio.save()

    assert send_sms("acme").status == MessageStatus.SENT
    assert tenant_twilio_clients.built[("twilio", acme_twilio.pk)][2] is not first
    assert basic_auth(twilio_standin.requests[-1]) == (ACME_SID, new_token)


def test_a_tenants_own_account_has_its_own_quota_apart_from_the_platforms(settings, smtp_sink, login_sink):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    settings.MESSAGING_PRICES = {"smtp": {"daily_quota": 1}}
    login_sink.logins = {"globex": GLOBEX_SMTP_PASSWORD}
    own_credential("globex", "smtp", SMTP_HOST=login_sink.host, SMTP_PORT=str(login_sink.port), SMTP_USER="globex",
                   SMTP_PASSWORD=GLOBEX_SMTP_PASSWORD)  # fmt: skip

    platform, platform_again = send_email(""), send_email("")
    globex, globex_again = send_email("globex"), send_email("globex")

    outcomes = [list(log.attempts.values_list("outcome", flat=True)) for log in (platform_again, globex, globex_again)]
    assert platform.status == MessageStatus.SENT
    assert outcomes == [[AttemptOutcome.SKIPPED_QUOTA], [AttemptOutcome.SENT], [AttemptOutcome.SKIPPED_QUOTA]]
    assert len(smtp_sink.messages) == 1 and login_sink.logged_in == ["globex"]


def test_a_resend_goes_on_along_the_tenants_own_chain(settings):
    from otp.resend import providers_after

    settings.MESSAGING_EMAIL_PROVIDERS = ["ses", "sendgrid", "smtp"]
    own_chain("acme", Channel.EMAIL, "smtp,sendgrid")

    assert [cls.name for cls in providers_after("email", "smtp", tenant="acme")] == ["sendgrid"]
    assert [cls.name for cls in providers_after("email", "smtp")] == []

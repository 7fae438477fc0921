"""What /webhooks/ses fetches, and when: AWS's exact URL forms, a bounded number of fetches at once,
a total timeout (name resolution included), failures remembered; unreadable bodies get 400.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from messaging.models import CommunicationLog, DeliveryReceipt, MessageStatus
from messaging.providers.ses import sns_fetch
from messaging.providers.ses.sns_http import certificate_url
from messaging.receipts.base import ReceiptRefused
from messaging.service import UnifiedMessagingService
from tests.standins.receipts import CERT_PATH, TOPIC_ARN, SnsStandIn, ses_event

pytestmark = pytest.mark.django_db

URL = "/webhooks/ses"
AWS_PATTERN = r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"
AWS_CERT = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"


@pytest.fixture
def sent_by_ses(settings, aws) -> CommunicationLog:
    settings.MESSAGING_EMAIL_PROVIDERS = ["ses"]
    aws.verify_sender(settings.OTP_FROM_EMAIL)
    result = UnifiedMessagingService().send_email("alice@example.org", "Your code", "<p>code</p>", "code")
    return CommunicationLog.objects.get(message_id=result["message_id"])


def post(client, body: bytes, kind: str = "Notification"):
    return client.post(URL, body, content_type="text/plain", headers={"x-amz-sns-message-type": kind})


def delivery(standin: SnsStandIn, log: CommunicationLog) -> dict:
    return standin.ses_notification(ses_event("Delivery", log.provider_message_id))


def untouched(log: CommunicationLog) -> None:
    log.refresh_from_db()
    assert log.status == MessageStatus.SENT and DeliveryReceipt.objects.count() == 0


# --- URL forms -------------------------------------------------------------------------------


def test_only_the_exact_aws_certificate_url_form_is_allowed(settings):
    settings.SNS_CERT_HOST_PATTERN = AWS_PATTERN
    assert certificate_url(AWS_CERT) == AWS_CERT
    assert certificate_url(AWS_CERT.replace("us-east-1.amazonaws.com", "cn-north-1.amazonaws.com.cn"))
    refused = [
        AWS_CERT + "?x=1",
        AWS_CERT + "#x",
        AWS_CERT.replace("https://", "https://user@"),
        AWS_CERT.replace("https://", "https://user:pw@"),
        AWS_CERT.replace(".com/", ".com:443/"),
        AWS_CERT.replace("https://", "http://"),
        AWS_CERT.replace("SimpleNotificationService-", "Other-"),
        AWS_CERT.replace(".pem", ".pem/x.pem"),
        AWS_CERT.replace("9c6465fa", "9C6465FA"),
        AWS_CERT.replace("amazonaws.com", "amazonaws.com.evil.example"),
        "https://sns.us-east-1.amazonaws.com/../SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem",
    ]
    for url in refused:
        with pytest.raises(ReceiptRefused):
            certificate_url(url)


def test_an_operators_pattern_without_anchors_must_still_match_the_whole_host(settings):
    settings.SNS_CERT_HOST_PATTERN = r"sns\.[a-z0-9-]+\.amazonaws\.com"
    assert certificate_url(AWS_CERT) == AWS_CERT
    for host in ("sns.us-east-1.amazonaws.com.evil.example", "evil.example.sns.us-east-1.amazonaws.com"):
        with pytest.raises(ReceiptRefused, match="host not allowed"):
            certificate_url(AWS_CERT.replace("sns.us-east-1.amazonaws.com", host))


def test_certificate_urls_with_a_query_string_are_never_fetched(client, sns_standin, sent_by_ses):
    for n in range(3):
        body = sns_standin.sign(delivery(sns_standin, sent_by_ses), cert_url=f"{sns_standin.cert_url}?n={n}")
        assert post(client, body).status_code == 403
    assert sns_standin.requests == []
    untouched(sent_by_ses)


def test_a_certificate_host_not_allowed_is_refused_by_the_host_rule_not_by_tls(
    client, settings, sns_standin, sent_by_ses, caplog
):
    """localhost is in the stand-in's TLS certificate: only the host rule can refuse it."""
    localhost = sns_standin.cert_url.replace("127.0.0.1", "localhost")
    elsewhere = sns_standin.sign(delivery(sns_standin, sent_by_ses), cert_url=localhost)
    with caplog.at_level(logging.WARNING, logger="messaging.receipts"):
        assert post(client, elsewhere).status_code == 403
    assert sns_standin.requests == []
    assert 'reason="host not allowed"' in caplog.text
    untouched(sent_by_ses)

    settings.SNS_CERT_HOST_PATTERN = r"(127\.0\.0\.1|localhost):\d+"  # the same URL, allowed: TLS is fine
    assert post(client, elsewhere).status_code == 200
    assert sns_standin.fetched("cert") == [CERT_PATH]


# --- Subscriptions ---------------------------------------------------------------------------


def confirmation(standin: SnsStandIn, subscribe_url: str, token: str = "tok-1") -> dict:
    return {**standin.ses_notification({}), "Type": "SubscriptionConfirmation", "Token": token,
            "SubscribeURL": subscribe_url, "Message": "You have chosen to subscribe"}  # fmt: skip


def test_a_confirmation_changed_after_signing_gets_403_and_its_subscribe_url_is_not_visited(client, sns_standin):
    good = f"{sns_standin.url}/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token=tok-1"
    signed = json.loads(sns_standin.sign(confirmation(sns_standin, good)))
    forged = {**signed, "Token": "tok-2", "SubscribeURL": good.replace("tok-1", "tok-2")}

    response = post(client, json.dumps(forged).encode(), "SubscriptionConfirmation")

    assert response.status_code == 403
    assert sns_standin.fetched("confirm") == []  # only the certificate, to check the signature


@pytest.mark.parametrize(
    "query",
    [
        f"Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token=tok-1&Extra=1",
        "Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:999999999999:other&Token=tok-1",
        f"Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token=another",
        f"Action=Unsubscribe&TopicArn={TOPIC_ARN}&Token=tok-1",
    ],
)
def test_a_subscribe_url_that_does_not_confirm_exactly_this_topic_and_token_fetches_nothing(client, sns_standin, query):
    body = sns_standin.sign(confirmation(sns_standin, f"{sns_standin.url}/?{query}"))
    assert post(client, body, "SubscriptionConfirmation").status_code == 403
    assert sns_standin.requests == []


def test_a_subscribe_url_on_another_path_fetches_nothing(client, sns_standin):
    url = f"{sns_standin.url}/x/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token=tok-1"
    assert post(client, sns_standin.sign(confirmation(sns_standin, url)), "SubscriptionConfirmation").status_code == 403
    assert sns_standin.requests == []


# --- Fetching --------------------------------------------------------------------------------


def test_a_certificate_that_could_not_be_fetched_is_not_fetched_again_for_a_while(
    client, settings, sns_standin, sent_by_ses
):
    missing = sns_standin.url + "/SimpleNotificationService-0000000000000000.pem"  # a 404 at the stand-in
    body = sns_standin.sign(delivery(sns_standin, sent_by_ses), cert_url=missing)

    answers = [post(client, body).status_code for _ in range(3)]

    assert answers == [503, 503, 503]  # unavailable now: SNS may retry later
    assert sns_standin.requests == ["/SimpleNotificationService-0000000000000000.pem"]
    settings.SNS_CERT_FAILURE_CACHE_SECONDS = 0
    post(client, body)
    assert len(sns_standin.requests) == 2  # remembered failures are what held it back
    untouched(sent_by_ses)


def test_beyond_the_concurrent_fetch_bound_a_caller_is_refused_at_once(client, settings, sns_standin, sent_by_ses):
    settings.SNS_CERT_MAX_CONCURRENT_FETCHES = 2
    slots = sns_fetch._semaphore()
    held = [slots.acquire(blocking=False) for _ in range(2)]  # two fetches in flight elsewhere
    try:
        started = time.monotonic()
        response = post(client, sns_standin.sign(delivery(sns_standin, sent_by_ses)))
        elapsed = time.monotonic() - started
    finally:
        for _ in [h for h in held if h]:
            slots.release()
    assert held == [True, True]
    assert response.status_code == 503 and response["Retry-After"]
    assert elapsed < 1.0 and sns_standin.requests == []
    assert post(client, sns_standin.sign(delivery(sns_standin, sent_by_ses))).status_code == 200  # slots free again


@pytest.fixture
def silent_tls_url() -> Iterator[str]:
    """An https URL on 127.0.0.1 whose server accepts the connection and never says a byte."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"https://127.0.0.1:{sock.getsockname()[1]}{CERT_PATH}"


def test_a_host_that_never_answers_costs_the_caller_the_timeout_and_no_more(settings, silent_tls_url):
    settings.SNS_CERT_FETCH_TIMEOUT_SECONDS = 0.5
    started = time.monotonic()
    with pytest.raises(sns_fetch.FetchFailed):
        sns_fetch.fetch(silent_tls_url)
    assert time.monotonic() - started < 1.5


def test_the_timeout_includes_name_resolution(settings, monkeypatch):
    """A resolver that hangs (made to hang here: no DNS server of ours runs) still costs only the timeout."""
    settings.SNS_CERT_FETCH_TIMEOUT_SECONDS = 0.5
    release = threading.Event()
    real = socket.getaddrinfo

    def hanging_resolver(*args, **kwargs):
        release.wait(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging_resolver)
    started = time.monotonic()
    try:
        with pytest.raises(sns_fetch.FetchFailed, match="timed out"):
            sns_fetch.fetch("https://sns.us-east-1.example.invalid" + CERT_PATH)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert elapsed < 1.5


# --- Unreadable bodies -----------------------------------------------------------------------


def test_a_tab_in_the_certificate_url_gets_400_and_nothing_is_fetched(client, sns_standin, sent_by_ses):
    with_tab = sns_standin.url + "/Simple\tNotificationService-00000000.pem"
    body = sns_standin.sign(delivery(sns_standin, sent_by_ses), cert_url=with_tab)
    assert post(client, body).status_code == 400
    assert sns_standin.requests == []


def test_a_signature_that_is_a_list_gets_400(client, sns_standin, sent_by_ses):
    signed = json.loads(sns_standin.sign(delivery(sns_standin, sent_by_ses)))
    signed["Signature"] = [signed["Signature"]]
    assert post(client, json.dumps(signed).encode()).status_code == 400
    untouched(sent_by_ses)


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"Type": {"a": ' * 20_000 + b"1" + b"}" * 20_000],
    ids=["arrays", "objects"],
)
def test_a_deeply_nested_body_gets_400(client, sns_standin, body):
    assert len(body) >= 200_000
    assert post(client, body).status_code == 400
    assert sns_standin.requests == []


@pytest.mark.parametrize("change", [{"Subject": 7}, {"Message": {"a": 1}}, {"Timestamp": None}, {"Type": "Other"}])
def test_a_field_that_is_not_a_string_or_an_unknown_type_gets_400(client, sns_standin, sent_by_ses, change):
    signed = json.loads(sns_standin.sign(delivery(sns_standin, sent_by_ses)))
    assert post(client, json.dumps({**signed, **change}).encode()).status_code == 400
    untouched(sent_by_ses)

"""Messages from an SNS HTTPS subscription: signature versions 1 (SHA1) and 2 (SHA256).

Checked in this order, cheapest refusal first: the body is a JSON object whose fields are
strings (400 otherwise); its TopicArn is listed in SES_SNS_TOPIC_ARNS (an empty list accepts
none); SigningCertURL has AWS's exact form, https://sns.<region>.amazonaws.com/
SimpleNotificationService-<hex>.pem with no port, query, fragment or user (the authority must
match SNS_CERT_HOST_PATTERN, the test seam); only then is the certificate fetched (sns_fetch:
bounded, cached) and the signature and timestamp checked. A SubscriptionConfirmation passes the
same checks before its SubscribeURL (https://<same authority rule>/?Action=ConfirmSubscription&
TopicArn=<its topic>&Token=<its token>, nothing else) is visited.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings

from messaging.providers.ses.sns_fetch import FetchBusy, FetchFailed, fetch, forget_failures
from messaging.receipts.base import MalformedReceipt, ReceiptRefused, ReceiptUnavailable, refuse_if_stale

HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
# The fields each message type signs, in the order SNS signs them.
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
ENVELOPE_FIELDS = ("Type", "SignatureVersion", "Signature", "SigningCertURL")
# Printable ASCII without spaces: a URL with a tab, a newline or a space in it is malformed.
_URL = re.compile(r"https://(?P<authority>[^/?#@\\\s]+)(?P<rest>[!-~]*)")
_CERT_PATH = re.compile(r"/SimpleNotificationService-[0-9a-f]{8,64}\.pem")


def verified_sns_message(body: bytes, *, now: datetime) -> dict[str, Any]:
    """The SNS message in `body` once its topic, certificate, signature and timestamp check out.

    Raises MalformedReceipt (400) for a body that is no SNS message, ReceiptRefused (403) for
    anything unproven, ReceiptUnavailable (503) when the certificate cannot be fetched now.
    """
    message = parse_sns_message(body)
    topics = settings.SES_SNS_TOPIC_ARNS
    if message["TopicArn"] not in topics:
        raise ReceiptRefused("topic not allowed")
    if message["Type"] != "Notification":
        subscribe_url(message)  # refused before anything is fetched
    key = signing_key(message["SigningCertURL"])
    try:
        signature = base64.b64decode(message["Signature"], validate=True)
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), HASHES[message["SignatureVersion"]]())
    except (InvalidSignature, ValueError, binascii.Error) as err:
        raise ReceiptRefused("bad signature") from err
    try:
        sent_at = datetime.fromisoformat(message["Timestamp"].replace("Z", "+00:00"))
    except ValueError as err:
        raise MalformedReceipt("bad Timestamp") from err
    refuse_if_stale(sent_at, now=now)
    return message


def parse_sns_message(body: bytes) -> dict[str, Any]:
    """The JSON object in `body`, with every envelope and signed field a string: MalformedReceipt otherwise."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise MalformedReceipt("body is not JSON") from err
    if not isinstance(message, dict) or message.get("Type") not in SIGNED_FIELDS:
        raise MalformedReceipt("not an SNS message")
    if not message.get("Signature") or not message.get("SigningCertURL"):
        raise ReceiptRefused("missing signature")
    names = (set(ENVELOPE_FIELDS) | set(SIGNED_FIELDS[message["Type"]])) - {"Subject"}
    wrong = sorted(name for name in names if not isinstance(message.get(name), str))
    if wrong or not isinstance(message.get("Subject", ""), str):
        raise MalformedReceipt(f"fields missing or not strings: {', '.join(wrong) or 'Subject'}")
    if message["SignatureVersion"] not in HASHES:
        raise MalformedReceipt("unknown SignatureVersion")
    return message


def string_to_sign(message: dict[str, Any]) -> bytes:
    lines = []
    for name in SIGNED_FIELDS[message["Type"]]:
        if name in message:
            lines += [name, str(message[name])]
    return ("\n".join(lines) + "\n").encode()


def _split(url: str) -> tuple[str, str]:
    """(authority, path-and-query) of an https URL on an allowed authority; 400 or 403 otherwise."""
    match = _URL.fullmatch(url)
    if match is None:
        if any(not ("!" <= c <= "~") for c in url):
            raise MalformedReceipt("URL holds whitespace or control characters")
        raise ReceiptRefused("URL not allowed")
    if not re.fullmatch(settings.SNS_CERT_HOST_PATTERN, match["authority"]):
        raise ReceiptRefused("host not allowed")
    return match["authority"], match["rest"]


def certificate_url(url: str) -> str:
    """`url` if it has the exact form of an SNS signing certificate URL; refused otherwise."""
    _, rest = _split(url)
    if not _CERT_PATH.fullmatch(rest):
        raise ReceiptRefused("certificate URL not allowed")
    return url


def subscribe_url(message: dict[str, Any]) -> str:
    """The confirmation's SubscribeURL if it confirms exactly this topic and token; refused otherwise."""
    _, rest = _split(message["SubscribeURL"])
    path, _, query = rest.partition("?")
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=True, max_num_fields=3)
    except ValueError as err:
        raise ReceiptRefused("SubscribeURL not allowed") from err
    expected = {"Action": ["ConfirmSubscription"], "TopicArn": [message["TopicArn"]], "Token": [message["Token"]]}
    if path != "/" or "#" in query or params != expected:
        raise ReceiptRefused("SubscribeURL not allowed")
    return message["SubscribeURL"]


def signing_key(url: str) -> rsa.RSAPublicKey:
    return _cached_key(certificate_url(url), settings.SNS_CERT_CA_BUNDLE, settings.SNS_CERT_HOST_PATTERN)


@lru_cache(maxsize=32)
def _cached_key(url: str, ca_bundle: str, pattern: str) -> rsa.RSAPublicKey:
    # Failures raise and so are not cached here (sns_fetch remembers them briefly); the settings
    # are in the key so a change refetches.
    try:
        certificate = x509.load_pem_x509_certificate(fetch(url))
    except FetchBusy as err:
        raise ReceiptUnavailable("certificate fetches busy") from err
    except FetchFailed as err:
        raise ReceiptUnavailable(f"certificate unavailable: {err}") from err
    except ValueError as err:
        raise ReceiptRefused("certificate unreadable") from err
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ReceiptRefused("certificate key is not RSA")
    return key


def forget_certificates() -> None:
    """Drop cached certificates and remembered failures (tests; a changed CA bundle does it anyway)."""
    _cached_key.cache_clear()
    forget_failures()


def confirm_subscription(message: dict[str, Any]) -> None:
    """Confirm a verified SubscriptionConfirmation by visiting its SubscribeURL."""
    url = subscribe_url(message)
    try:
        fetch(url)
    except FetchFailed as err:
        raise ReceiptUnavailable(f"could not confirm: {err}") from err

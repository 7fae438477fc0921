"""Messages from an SNS HTTPS subscription: signature versions 1 (SHA1) and 2 (SHA256).

The signing certificate is fetched from SigningCertURL only over https and only from a host that
matches SNS_CERT_HOST_PATTERN, then cached per URL. SubscriptionConfirmation is confirmed by a
GET of SubscribeURL, under the same host rule.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.request
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings

from messaging.receipts.base import MalformedReceipt, ReceiptRefused, refuse_if_stale

FETCH_TIMEOUT_SECONDS = 3.0
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
# The fields each message type signs, in the order SNS signs them.
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def verified_sns_message(body: bytes, *, now: datetime) -> dict[str, Any]:
    """The SNS message in `body` once its signature, certificate host and timestamp check out.

    Raises ReceiptRefused (403) for anything unproven, MalformedReceipt for a body that is no SNS message.
    """
    try:
        message = json.loads(body)
    except ValueError as err:
        raise ReceiptRefused("not an SNS message") from err
    if not isinstance(message, dict) or message.get("Type") not in SIGNED_FIELDS:
        raise ReceiptRefused("not an SNS message")
    version = str(message.get("SignatureVersion", ""))
    if version not in HASHES or not message.get("Signature"):
        raise ReceiptRefused("missing signature")
    key = signing_key(str(message.get("SigningCertURL", "")))
    try:
        signature = base64.b64decode(message["Signature"])
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), HASHES[version]())
    except (InvalidSignature, ValueError) as err:
        raise ReceiptRefused("bad signature") from err
    try:
        sent_at = datetime.fromisoformat(str(message["Timestamp"]).replace("Z", "+00:00"))
    except (KeyError, ValueError) as err:
        raise MalformedReceipt("no Timestamp") from err
    refuse_if_stale(sent_at, now=now)
    topics = settings.SES_SNS_TOPIC_ARNS
    if topics and message.get("TopicArn") not in topics:
        raise ReceiptRefused("topic not allowed")
    return message


def string_to_sign(message: dict[str, Any]) -> bytes:
    lines = []
    for name in SIGNED_FIELDS[message["Type"]]:
        if name in message:
            lines += [name, str(message[name])]
    return ("\n".join(lines) + "\n").encode()


def allowed_url(url: str) -> str:
    """`url` if it is https on a host SNS_CERT_HOST_PATTERN allows; ReceiptRefused otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise ReceiptRefused("certificate URL not allowed")
    if not re.fullmatch(settings.SNS_CERT_HOST_PATTERN, parts.hostname):
        raise ReceiptRefused("certificate host not allowed")
    return url


def fetch(url: str) -> bytes:
    """GET an allowed https URL, trusting SNS_CERT_CA_BUNDLE (or the system store), within a timeout."""
    context = ssl.create_default_context(cafile=settings.SNS_CERT_CA_BUNDLE or None)
    # No redirect may lead off the allowed hosts: urllib's default handler would follow one.
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect())
    with opener.open(allowed_url(url), timeout=FETCH_TIMEOUT_SECONDS) as response:
        return response.read(64 * 1024)  # type: ignore[no-any-return]


def signing_key(url: str) -> rsa.RSAPublicKey:
    allowed_url(url)
    if not urlsplit(url).path.endswith(".pem"):
        raise ReceiptRefused("certificate URL not allowed")
    return _cached_key(url, settings.SNS_CERT_CA_BUNDLE, settings.SNS_CERT_HOST_PATTERN)


@lru_cache(maxsize=32)
def _cached_key(url: str, ca_bundle: str, pattern: str) -> rsa.RSAPublicKey:
    # Failures raise and so are not cached; the settings are in the key so a change refetches.
    try:
        certificate = x509.load_pem_x509_certificate(fetch(url))
    except (OSError, ValueError) as err:
        raise ReceiptRefused(f"certificate unavailable: {type(err).__name__}") from err
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ReceiptRefused("certificate key is not RSA")
    return key


def confirm_subscription(message: dict[str, Any]) -> None:
    """Confirm a verified SubscriptionConfirmation by visiting its SubscribeURL."""
    try:
        fetch(str(message.get("SubscribeURL", "")))
    except OSError as err:
        raise MalformedReceipt(f"could not confirm: {type(err).__name__}") from err


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None

"""Stand-ins that send real signed delivery receipts, with keys and certificates made in the test.

- SendGrid: an ECDSA P-256 key pair; the public half is SENDGRID_WEBHOOK_PUBLIC_KEY.
- Twilio: X-Twilio-Signature computed with the auth token by the SDK's own RequestValidator.
- SNS: an RSA signing certificate served over HTTPS on 127.0.0.1 by a server whose TLS
  certificate comes from a test CA (SNS_CERT_CA_BUNDLE) and is valid for 127.0.0.1 and localhost
  (so a refused host is refused by the service's rule, never by TLS); the server also answers
  SubscribeURL. Its signer builds the string to sign from AWS's documentation, not from the
  service's code.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
import threading
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from twilio.request_validator import RequestValidator

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ses-events"
# The path of a real SNS signing certificate URL (https://sns.<region>.amazonaws.com/...).
CERT_PATH = "/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"


# --- SendGrid ------------------------------------------------------------------------------


class SendGridSigner:
    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        #: What SendGrid's settings page shows: base64 of the DER public key.
        self.public_key = base64.b64encode(der).decode()

    def headers(self, body: bytes, *, timestamp: int) -> dict[str, str]:
        signature = self._key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": str(timestamp),
        }


def sendgrid_event(sg_id: str, event: str, **fields: Any) -> dict[str, Any]:
    return {
        "email": "alice@example.org",
        "timestamp": int(dt.datetime.now(dt.UTC).timestamp()),
        "event": event,
        "sg_event_id": uuid.uuid4().hex,
        "sg_message_id": f"{sg_id}.filterdrecv-5bd7c4d57-abcde-1-0",
        **fields,
    }


# --- Twilio --------------------------------------------------------------------------------


def twilio_callback(url: str, form: dict[str, str], *, auth_token: str) -> dict[str, str]:
    """The X-Twilio-Signature header Twilio would send with `form` to `url`."""
    return {"X-Twilio-Signature": RequestValidator(auth_token).compute_signature(url, form)}


def post_twilio_callback(url: str, form: dict[str, str], *, auth_token: str) -> int:
    """POST a status callback over HTTP as Twilio does; returns the HTTP status."""
    body = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    for name, value in twilio_callback(url, form, auth_token=auth_token).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


# --- SNS -----------------------------------------------------------------------------------


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(subject: str, key: Any, *, issuer: str, issuer_key: Any, ca: bool = False,
                 ip: str = "") -> x509.Certificate:  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        names = [x509.IPAddress(ipaddress.ip_address(ip)), x509.DNSName("localhost")]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


class SnsStandIn:
    """An HTTPS server on 127.0.0.1 serving the SNS signing certificate, and a signer using its key."""

    def __init__(self, directory: Path) -> None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("Test CA", ca_key, issuer="Test CA", issuer_key=ca_key, ca=True)
        tls_key = ec.generate_private_key(ec.SECP256R1())
        tls = _certificate("127.0.0.1", tls_key, issuer="Test CA", issuer_key=ca_key, ip="127.0.0.1")
        self._signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        signing = _certificate("sns.amazonaws.com", self._signing_key, issuer="Test CA", issuer_key=ca_key)
        self.ca_bundle = directory / "ca.pem"
        self.ca_bundle.write_bytes(_pem(ca))
        (directory / "tls.pem").write_bytes(
            _pem(tls)
            + tls_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.certificate_pem = _pem(signing)
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(directory / "tls.pem")
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def cert_url(self) -> str:
        return f"{self.url}{CERT_PATH}"

    def fetched(self, kind: str) -> list[str]:
        """Paths of the requests this server answered: "cert" (.pem) or "confirm" (SubscribeURL)."""
        return [p for p in self.requests if p.endswith(".pem") == (kind == "cert")]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sign(self, message: dict[str, Any], *, version: str = "1", cert_url: str | None = None) -> bytes:
        """The message as SNS posts it: SignatureVersion, SigningCertURL and Signature added."""
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signed = {**message, "SignatureVersion": version, "SigningCertURL": cert_url or self.cert_url}
        signature = self._signing_key.sign(documented_string_to_sign(signed), padding.PKCS1v15(), algorithm)
        return json.dumps({**signed, "Signature": base64.b64encode(signature).decode()}).encode()

    def ses_notification(self, ses_event: dict[str, Any], *, timestamp: dt.datetime | None = None) -> dict[str, Any]:
        moment = timestamp or dt.datetime.now(dt.UTC)
        return {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": TOPIC_ARN,
            "Message": json.dumps(ses_event),
            "Timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                standin.requests.append(self.path)
                body = standin.certificate_pem if self.path.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"
                # Like AWS: only the certificate it published exists.
                found = self.path == CERT_PATH or not self.path.endswith(".pem")
                self.send_response(200 if found else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def documented_string_to_sign(message: dict[str, Any]) -> bytes:
    """What SNS signs, as AWS documents it ("Verifying the signatures of Amazon SNS messages"):
    each field's name, a newline, its value, a newline, in this order and only these fields.

    Notification: Message, MessageId, Subject (only if present), Timestamp, TopicArn, Type.
    SubscriptionConfirmation and UnsubscribeConfirmation: Message, MessageId, SubscribeURL,
    Timestamp, Token, TopicArn, Type. Written here on purpose, not imported from the service.
    """
    if message["Type"] == "Notification":
        text = f"Message\n{message['Message']}\nMessageId\n{message['MessageId']}\n"
        if "Subject" in message:
            text += f"Subject\n{message['Subject']}\n"
        text += f"Timestamp\n{message['Timestamp']}\nTopicArn\n{message['TopicArn']}\nType\n{message['Type']}\n"
    else:
        text = (
            f"Message\n{message['Message']}\nMessageId\n{message['MessageId']}\n"
            f"SubscribeURL\n{message['SubscribeURL']}\nTimestamp\n{message['Timestamp']}\n"
            f"Token\n{message['Token']}\nTopicArn\n{message['TopicArn']}\nType\n{message['Type']}\n"
        )
    return text.encode()


def ses_event(kind: str, ses_message_id: str, **detail: Any) -> dict[str, Any]:
    """An SES event-publishing record of `kind` (Delivery, Bounce, ...) about one message."""
    key = kind[:1].lower() + kind[1:]
    return {"eventType": kind, "mail": {"messageId": ses_message_id}, key: detail}

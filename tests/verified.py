"""A code whose value the test knows, issued the way the API issues one (no worker needed)."""

from __future__ import annotations

from django.utils import timezone

from otp.codes import hash_code
from otp.lifecycle import CodeRequest, issue_code
from otp.models import OneTimeCode

KNOWN_CODE = "123456"


def issue_known_code(*, recipient: str, purpose: str, tenant_id: str = "default", channel: str = "email") -> str:
    """Issue a code as the send endpoint does, then store the hash the worker would have stored."""
    request = CodeRequest(tenant_id=tenant_id, recipient=recipient, channel=channel, purpose=purpose)
    otp = issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)
    OneTimeCode.objects.filter(pk=otp.pk).update(code_hash=hash_code(KNOWN_CODE, otp_id=str(otp.pk)))
    return KNOWN_CODE


def verification_token(client, *, purpose: str = "signup", email: str = "jane@example.com", **headers) -> str:
    """Verify a known code through the API and return the token it answers with."""
    code = issue_known_code(
        recipient=email, purpose=purpose, **({"tenant_id": headers.pop("tenant_id")} if "tenant_id" in headers else {})
    )
    response = client.post(
        "/api/v1/auth/otp/verify",
        {"email": email, "purpose": purpose, "code": code},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200, response.content
    return response.json()["verification_token"]

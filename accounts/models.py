"""Tenants, their API keys, and the verification tokens already spent."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Tenant(models.Model):
    """An organisation using the service. Codes, limits and tokens are scoped by its slug."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    # The user who signed the tenant up; empty for tenants made by an operator (and the default one).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="tenants"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tenants"

    def __str__(self) -> str:
        return self.slug


class ApiKeyKind(models.TextChoices):
    # Sends through the configured providers, and costs money.
    LIVE = "live", "Live"
    # Runs the whole path (records, status, callbacks) against a sink: no provider is called, nothing costs.
    TEST = "test", "Test"


class ApiKey(models.Model):
    """A secret a tenant's backend sends as `Authorization: Api-Key <key>` (or `Bearer <key>`).

    Only the SHA-256 of the key is stored (the key is 32 random bytes, so a fast hash is enough);
    the prefix identifies it in lists and logs.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, editable=False)
    kind = models.CharField(max_length=8, choices=ApiKeyKind.choices, default=ApiKeyKind.LIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_keys"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.tenant.slug})"


class RedeemedToken(models.Model):
    """A verification token's `jti`, once redeemed or used for a signup: it cannot be used again.

    Rows can be deleted once `expires_at` has passed (the token is refused for its age anyway).
    """

    jti = models.CharField(max_length=64, primary_key=True)
    tenant_slug = models.CharField(max_length=64)
    purpose = models.CharField(max_length=64)
    redeemed_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "redeemed_tokens"


class AccountContact(models.Model):
    """The canonical form of an account's contact (otp.canonical): one account per mailbox or number.

    ``frank+1@example.com``, ``F.rank@gmail.com`` and ``frank@googlemail.com`` each reach one mailbox,
    so they share this unique key and a second signup for any of them gets 409.
    """

    canonical = models.CharField(max_length=320, unique=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_contact")

    class Meta:
        db_table = "account_contacts"


class TenantRole(models.TextChoices):
    # Signed the tenant up: everything a member may do in the console.
    OWNER = "owner", "Owner"
    # Makes and revokes API keys, edits templates and webhook endpoints.
    ADMIN = "admin", "Admin"
    # Reads messages, costs, keys, templates and endpoints; changes nothing.
    VIEWER = "viewer", "Viewer"


class TenantMember(models.Model):
    """A user of a tenant's staff: they sign in to the tenant console (/console/) and see only its rows.

    One tenant per user, so the console never has to ask which tenant a page is about.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="members")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_membership")
    role = models.CharField(max_length=8, choices=TenantRole.choices, default=TenantRole.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tenant_members"

    def __str__(self) -> str:
        return f"{self.user} ({self.role} of {self.tenant.slug})"

    @property
    def may_write(self) -> bool:
        return self.role in (TenantRole.OWNER, TenantRole.ADMIN)

"""What a tenant's staff get at /console/: sign-in, costs and a month total, keys made and revoked,
roles; and what platform staff keep: everything, in /admin/."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts.keys import find_api_key
from accounts.models import ApiKey, TenantMember, TenantRole
from messaging.models import CommunicationLog
from notifications.models import CallbackDelivery, Message
from tests.console.conftest import TenantRows
from web.console.admin import console_site

pytestmark = pytest.mark.django_db


def test_an_anonymous_visitor_is_sent_to_sign_in_by_code_and_back():
    response = Client().get("/console/messaging/communicationlog/", follow=True)

    assert response.redirect_chain[-1] == ("/login/?next=%2Fconsole%2Fmessaging%2Fcommunicationlog%2F", 302)
    assert response.status_code == 200  # the sign-in page


def test_a_signed_in_user_of_no_tenant_is_told_so_not_looped():
    client = Client()
    client.force_login(get_user_model().objects.create_user("stranger@example.com"))

    response = client.get("/console/", follow=True)

    assert response.status_code == 403
    assert "not a member of any tenant" in response.content.decode()


def test_the_message_list_shows_each_cost_and_this_months_total(acme, globex):
    older = CommunicationLog.objects.create(
        recipient="last-month@example.com", channel="sms", cost=Decimal("1"), tenant_id="acme"
    )
    month_start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    CommunicationLog.objects.filter(pk=older.pk).update(created_at=month_start - timedelta(days=1))

    page = acme.client().get("/console/messaging/communicationlog/").content.decode()

    assert "0.0125 USD" in page and "1 USD" in page  # each message's cost, last month's too
    assert f"This month ({month_start:%B %Y}): 1 message, 0.0125 USD." in page  # not globex's 0.5


def test_api_messages_show_what_they_cost(acme):
    page = acme.client().get("/console/notifications/message/").content.decode()

    assert "acme-order-1" in page and "0.0125 USD" in page


def test_a_new_key_is_shown_once_and_works_for_the_members_tenant(acme):
    client = acme.client()

    page = client.post("/console/accounts/apikey/add/", {"name": "ci", "kind": "test"}).content.decode()

    key = page.split('<code id="new-api-key">')[1].split("</code>")[0]
    assert find_api_key(key).tenant == acme.tenant
    assert key not in client.get(f"/console/accounts/apikey/{find_api_key(key).pk}/change/").content.decode()
    assert key not in client.get("/console/accounts/apikey/").content.decode()


def test_a_revoked_key_is_refused_by_the_api(acme):
    acme.client().post("/console/accounts/apikey/", {"action": "revoke_keys", "_selected_action": [acme.api_key.pk]})

    answer = Client().get("/api/v1/messages", HTTP_AUTHORIZATION=f"Api-Key {acme.key}")

    assert answer.status_code == 401


def test_a_viewer_reads_but_makes_and_revokes_no_keys(acme):
    viewer = get_user_model().objects.create_user("viewer@acme.example")
    TenantMember.objects.create(tenant=acme.tenant, user=viewer, role=TenantRole.VIEWER)
    client = Client()
    client.force_login(viewer)

    assert "acme-backend" in client.get("/console/accounts/apikey/").content.decode()
    assert client.get("/console/accounts/apikey/add/").status_code == 403
    client.post("/console/accounts/apikey/", {"action": "revoke_keys", "_selected_action": [acme.api_key.pk]})
    assert ApiKey.objects.get(pk=acme.api_key.pk).revoked_at is None


@pytest.mark.parametrize(
    ("model", "field", "attr"),
    [(Message, "api_key", "api_key"), (Message, "tenant", "tenant"), (CallbackDelivery, "endpoint", "endpoint")],
)
def test_foreign_key_choices_on_forms_are_the_tenants_rows(model, field, attr, acme, globex):
    request = RequestFactory().get("/console/")
    request.user = acme.user
    model_admin = console_site._registry[model]

    choices = model_admin.formfield_for_foreignkey(model._meta.get_field(field), request).queryset

    assert list(choices) == [getattr(acme, attr)]


def test_platform_staff_still_see_every_tenants_rows_in_admin(acme, globex):
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("operator", "op@example.com", "pw-for-the-test"))

    page = staff.get("/admin/messaging/communicationlog/").content.decode()
    endpoints = staff.get("/admin/notifications/callbackendpoint/").content.decode()

    assert "acme-customer@example.com" in page and "globex-customer@example.com" in page
    assert "globex endpoint gave no 2xx" in endpoints  # the operator's notice of every disabled endpoint
    assert staff.get("/console/", follow=True).status_code == 403  # the console is for a tenant's staff


def test_a_tenant_member_is_not_let_into_the_platform_admin(acme):
    response = acme.client().get("/admin/messaging/communicationlog/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_log_rows_carry_their_tenant(acme):
    from otp.lifecycle import CodeRequest, issue_code

    request = CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="login")
    otp = issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)

    assert CommunicationLog.objects.get(pk=otp.log_id).tenant_id == "acme"
    page = acme.client().get("/console/messaging/communicationlog/").content.decode()
    assert "jane@example.com" in page


def test_signing_up_makes_the_user_the_tenants_owner():
    from accounts.views import create_account

    claims = {"jti": "signup-1", "tenant": "default", "purpose": "signup", "exp": timezone.now().timestamp() + 60}
    tenant = create_account("founder@example.com", "Founders Ltd", claims)

    member = TenantMember.objects.get(user__username="founder@example.com")
    assert (member.tenant, member.role) == (tenant, TenantRole.OWNER)


def test_member_rows(acme: TenantRows):
    assert str(TenantMember.objects.get(user=acme.user)) == "owner@acme.example (owner of acme)"


def test_provider_error_texts_reach_the_tenant_without_credentials(acme):
    sid, sendgrid_key = "AC" + "0123456789abcdef" * 2, "SG.abcdefghijkl.mnopqrstuvwx"
    CommunicationLog.objects.filter(pk=acme.log.pk).update(error_message=f"Twilio 401 for account {sid}")
    acme.log.attempts.create(provider="sendgrid", outcome="provider_fault", error=f"401: key {sendgrid_key} refused")
    client = acme.client()

    detail = client.get(f"/console/messaging/communicationlog/{acme.log.pk}/change/").content.decode()
    listed = client.get("/console/messaging/communicationlog/").content.decode()

    for page in (detail, listed):
        assert sid not in page and sendgrid_key not in page
        assert "Twilio 401 for account AC[redacted]" in page
    assert "401: key [redacted] refused" in detail


def test_a_message_shows_its_attempts_and_receipts(acme):
    page = acme.client().get(f"/console/messaging/communicationlog/{acme.log.pk}/change/").content.decode()

    assert "Delivery attempts" in page and "ses:acme" not in page  # the receipt's own key stays internal
    assert "Delivery receipts" in page and "Delivered" in page


def test_an_owner_switches_their_endpoint_off(acme):
    from notifications.models import CallbackEndpoint

    acme.client().post(f"/console/notifications/callbackendpoint/{acme.endpoint.pk}/change/", {"enabled": ""})

    assert not CallbackEndpoint.objects.get(pk=acme.endpoint.pk).enabled


def test_a_member_signed_in_on_the_landing_page_is_linked_to_the_console(acme):
    stranger = Client()
    stranger.force_login(get_user_model().objects.create_user("stranger@example.com"))

    member_page = acme.client().get("/").content.decode()

    assert '<a href="/console/">Your tenant console</a>' in member_page
    for page in (stranger.get("/"), Client().get("/")):  # signed in without a tenant; anonymous
        assert "/console/" not in page.content.decode()


def test_the_signup_page_says_where_the_new_owner_signs_in_to_the_console():
    page = Client().get("/signup/").content.decode()

    assert '<a href="/login/?next=/console/">sign\n          in to your tenant console</a>' in page

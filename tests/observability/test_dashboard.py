"""The admin dashboard (staff only) and the admin as an operator reads it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus
from messaging.service import UnifiedMessagingService
from otp.lifecycle import CodeRequest, issue_code

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/dashboard/"
TIME_WITH_SECONDS_AND_ZONE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")


@pytest.fixture
def failover(settings, smtp_sink, closed_port_url) -> CommunicationLog:
    """One email that SendGrid (unreachable, its breaker opening) failed and SMTP sent, at 0.0012 USD."""
    settings.MESSAGING_EMAIL_PROVIDERS = ["sendgrid", "smtp"]
    settings.SENDGRID_API_KEY, settings.SENDGRID_API_HOST = "SG.test-key", closed_port_url
    settings.BREAKER_FAILURE_THRESHOLD = 1
    settings.MESSAGING_PRICES = {**settings.MESSAGING_PRICES, "smtp": {"per_message": Decimal("0.0012")}}
    result = UnifiedMessagingService().send_email("ops@example.com", "Your code", "<p>x</p>", "x")
    return CommunicationLog.objects.get(message_id=result["message_id"])


def content_main(response) -> str:
    page = response.content.decode()
    return page[page.index('id="content-main"') : page.index("<!-- /otpsvc-dashboard -->")]


def list_columns(page: str) -> int:
    head = page[page.index('<table id="result_list">') :]
    return len(re.findall(r'<th scope="col" class="[^"]*\bcolumn-', head[: head.index("</thead>")]))


def test_the_dashboard_is_for_staff_only(client):
    anonymous = client.get(DASHBOARD)
    user = get_user_model().objects.create_user("someone", password="a-long-password-1")
    client.force_login(user)
    not_staff = client.get(DASHBOARD)

    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert not_staff.status_code == 302 and "/login/" in not_staff["Location"]


def test_the_dashboard_shows_the_failover_cost_and_breaker_from_the_records(admin_client, failover):
    for recipient in ("b@example.com", "c@example.com"):  # sent by the first provider they tried
        sent_directly = CommunicationLog.objects.create(
            recipient=recipient, channel="email", status=MessageStatus.SENT, provider_used="smtp",
            cost=Decimal("0.0012"), sent_at=timezone.now(),
        )  # fmt: skip
        sent_directly.attempts.create(provider="smtp", outcome="sent")

    response = admin_client.get(DASHBOARD)

    assert response.status_code == 200
    main = content_main(response)
    assert "Failovers (last 24 h): 1 of 3 sent messages (33.3%)" in main
    assert re.search(r"<td>sendgrid</td><td>provider_fault</td><td>1</td>", main)
    assert re.search(r"<td>smtp</td><td>sent</td><td>3</td>", main)
    assert "<td>email</td><td>smtp</td><td>3</td><td>0.0036 USD</td>" in main  # this calendar month
    assert re.search(r"<th scope=\"row\">sendgrid</th><td class=\"otpsvc-breaker-open\">open</td>", main)


def test_the_dashboard_charts_are_inline_svg_without_script_style_or_remote_resources(admin_client, failover):
    main = content_main(admin_client.get(DASHBOARD))

    assert main.count("<svg ") == 3
    assert "<polyline" in main and "<rect" in main
    assert "<script" not in main and "style=" not in main
    assert "http://" not in main.replace("http://www.w3.org/2000/svg", "") and "https://" not in main


def test_the_admin_index_links_to_the_dashboard(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()

    assert f'href="{DASHBOARD}"' in page
    assert "One-time codes" in page and "Messages" in page


def test_message_lists_fit_a_laptop_with_times_to_the_second_and_cost_in_its_currency(admin_client, failover):
    changelist = admin_client.get(reverse("admin:messaging_communicationlog_changelist")).content.decode()
    detail = admin_client.get(reverse("admin:messaging_communicationlog_change", args=[failover.pk])).content.decode()

    assert list_columns(changelist) == 7
    assert "0.0012 USD" in changelist and "0.0012 USD" in detail
    assert "0.001200" not in detail and detail.count("Cost:") == 1
    assert TIME_WITH_SECONDS_AND_ZONE.search(changelist) and TIME_WITH_SECONDS_AND_ZONE.search(detail)
    assert "Select message to view" in changelist


def test_the_code_list_names_its_model_one_way_and_shows_each_codes_state(admin_client):
    request = CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="signup")
    issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)

    page = admin_client.get(reverse("admin:otp_onetimecode_changelist")).content.decode()

    assert "Select one-time code to view" in page
    assert "One time code" not in page
    assert list_columns(page) == 5
    assert '<td class="field-state">live</td>' in page
    assert TIME_WITH_SECONDS_AND_ZONE.search(page)


def test_names_from_the_records_are_escaped_in_the_charts(admin_client):
    log = CommunicationLog.objects.create(recipient="x@example.com", channel="email", status=MessageStatus.FAILED)
    log.attempts.create(provider="<img src=x onerror=alert(1)>", outcome="provider_fault")

    main = content_main(admin_client.get(DASHBOARD))

    assert "<img src=x" not in main
    assert "<td>&lt;img src=x onerror=alert(1)&gt;</td><td>provider_fault</td>" in main

"""The SMS pumping guard (otp/pumping.py) through the HTTP API: a number block whose codes nobody
enters is cut off; real users elsewhere, in the same country too, still get and use their codes."""

from __future__ import annotations

import pytest
from django.test import Client

from otp import pumping
from otp.codes import hash_code
from otp.models import OneTimeCode
from tests.helpers import SEND_URL, VERIFY_URL
from tests.metrics_helpers import TOKEN, Scrape

pytestmark = pytest.mark.django_db

# Three blocks of 1,000 numbers (the first 8 digits) that a pumping ring owns.
ATTACKED_BLOCKS = ["+1202555", "+1312555", "+1415555"]
# Real users: other blocks in the attacked country (one in an attacked area code), Canada, the UK.
REAL_BLOCKS = ["+1617555", "+1718555", "+1202555", "+1416555", "+447400123"]


def attack_number(n: int) -> str:
    return f"{ATTACKED_BLOCKS[n % 3]}0{n // 3:03d}"  # +12025550000.. : prefix +12025550


def real_number(n: int) -> str:
    block = REAL_BLOCKS[n % 5]
    if block == "+1202555":
        return f"{block}1{n:03d}"  # +12025551..: same area code, a block nobody attacks
    return f"{block}{n:03d}" if block.startswith("+44") else f"{block}0{n:03d}"


def post(client: Client, url: str, body: dict, ip: str, **headers: str):
    return client.post(url, body, content_type="application/json", REMOTE_ADDR=ip, headers=headers)


def give_latest_code(phone: str, code: str) -> None:
    otp = OneTimeCode.objects.filter(recipient=phone).latest("created_at")
    OneTimeCode.objects.filter(pk=otp.pk).update(code_hash=hash_code(code, otp_id=str(otp.pk)))


def blocks_counted(client: Client, country: str) -> float:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    return Scrape(response.content.decode()).value("otp_sms_pumping_blocks_total", country=country)


def test_300_unverified_sends_to_three_blocks_are_cut_off_while_50_real_users_verify(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.SMS_ANONYMOUS_HOURLY_BUDGET = 10_000
    assert (settings.SMS_PUMPING_PREFIX_MIN_UNVERIFIED, settings.SMS_PUMPING_MIN_VERIFY_RATE) == (10, 0.5)
    blocks_before = blocks_counted(client, "US")
    attack, real = [], []
    for n in range(300):
        # A botnet: every send from a new address, so only the guard can stop it.
        answer = post(client, SEND_URL, {"phone": attack_number(n)}, f"10.{n // 250}.{n % 250}.1")
        attack.append(answer)
        if n % 6 == 5:
            user, phone = n // 6, real_number(n // 6)
            real.append(post(client, SEND_URL, {"phone": phone}, f"198.51.{user}.7").status_code)
            give_latest_code(phone, "123456")
            real.append(post(client, VERIFY_URL, {"phone": phone, "code": "123456"}, f"198.51.{user}.7").status_code)

    assert real == [202, 200] * 50  # every real user got a code and used it
    admitted = [r for r in attack if r.status_code == 202]
    assert len(admitted) == 30  # ten unverified sends per block, then the block is cut off
    refused = attack[-1]
    assert refused.status_code == 429
    assert refused.json()["detail"] == pumping.REFUSED_DETAIL
    assert 3590 <= int(refused["Retry-After"]) <= 3600
    assert blocks_counted(client, "US") - blocks_before == 3
    assert {(b.source, b.prefix) for b in pumping.active_blocks()} == {
        ("anonymous", "+12025550"), ("anonymous", "+13125550"), ("anonymous", "+14155550")
    }  # fmt: skip


def test_one_client_cannot_block_a_prefix_for_everyone(client):
    # One address alone: its fourth unverified send to the block is refused, for it only.
    statuses = [post(client, SEND_URL, {"phone": f"+1202555010{n}"}, "203.0.113.9").status_code for n in range(5)]
    assert statuses == [202, 202, 202, 429, 429]
    assert post(client, SEND_URL, {"phone": "+12025550109"}, "203.0.113.10").status_code == 202
    assert pumping.active_blocks() == []


def test_a_block_of_anonymous_traffic_does_not_refuse_a_tenants_key(client):
    from accounts.keys import create_api_key
    from accounts.models import Tenant

    for n in range(10):
        assert post(client, SEND_URL, {"phone": attack_number(n * 3)}, f"10.0.{n}.1").status_code == 202
    assert post(client, SEND_URL, {"phone": "+12025550999"}, "10.9.9.9").status_code == 429
    key = create_api_key(Tenant.objects.create(slug="acme", name="Acme"))[1]
    answer = post(client, SEND_URL, {"phone": "+12025550999"}, "10.9.9.9", Authorization=f"Api-Key {key}")
    assert answer.status_code == 202


def test_verified_codes_keep_a_busy_prefix_open(client):
    for n in range(30):  # thirty users of one block, two in three of whom enter their code
        phone = f"+12025550{n:03d}"
        assert post(client, SEND_URL, {"phone": phone}, f"198.51.100.{n}").status_code == 202
        if n % 3:
            give_latest_code(phone, "123456")
            assert post(client, VERIFY_URL, {"phone": phone, "code": "123456"}, f"198.51.100.{n}").status_code == 200
    assert pumping.active_blocks() == []


def test_an_operator_lifts_a_block_and_the_prefix_starts_over(client):
    for n in range(10):
        post(client, SEND_URL, {"phone": attack_number(n * 3)}, f"10.0.{n}.1")
    (block,) = pumping.active_blocks()
    pumping.lift_block(source=block.source, prefix=block.prefix, country=block.country)
    assert pumping.active_blocks() == []
    assert post(client, SEND_URL, {"phone": "+12025550999"}, "10.9.9.9").status_code == 202


def test_when_the_whole_country_is_pumped_its_prefixes_block_sooner(client, settings):
    settings.SMS_PUMPING_COUNTRY_MIN_UNVERIFIED = 12
    assert settings.SMS_PUMPING_PREFIX_MIN_UNVERIFIED_UNDER_ATTACK == 3
    areas = ["202", "312", "415", "617", "718", "212"]
    for n, area in enumerate(areas * 2):  # two unverified sends to each of six blocks: 12 in the country
        assert post(client, SEND_URL, {"phone": f"+1{area}5550{n:03d}"}, f"10.0.{n}.1").status_code == 202
    assert post(client, SEND_URL, {"phone": "+12025550100"}, "10.0.99.1").status_code == 202  # the third trips it
    assert post(client, SEND_URL, {"phone": "+12025550101"}, "10.0.98.1").status_code == 429
    assert post(client, SEND_URL, {"phone": "+12025551101"}, "10.0.97.1").status_code == 202  # the next block is open


def test_the_admin_shows_blocked_prefixes_and_lifts_one_with_its_button(client, django_user_model, settings):
    for n in range(10):
        post(client, SEND_URL, {"phone": attack_number(n * 3)}, f"10.0.{n}.1")
    staff = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-long-enough-123")
    client.force_login(staff)
    url = f"/{settings.ADMIN_URL}otp/onetimecode/pumping-blocks/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "+12025550" in html and "anonymous" in html and "Lift block" in html
    lifted = client.post(url, {"source": "anonymous", "prefix": "+12025550", "country": "US"})
    assert lifted.status_code == 302
    assert "No prefix is blocked." in client.get(url).content.decode()
    client.logout()
    assert post(client, SEND_URL, {"phone": "+12025550999"}, "10.9.9.9").status_code == 202


def test_the_blocks_page_is_for_staff_only(client, settings):
    assert client.get(f"/{settings.ADMIN_URL}otp/onetimecode/pumping-blocks/").status_code == 302  # to the login

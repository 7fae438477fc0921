"""A stranger cannot deny the owner a code, and guessing stays bounded (through the HTTP API).

The attack: send to the victim as often as the limits allow, then 8 wrong
guesses, moving to a new address every 9 guesses; 18 rounds, 144 guesses. Before, the victim's own
sends got 429 throughout and their right code got 429 for 24 hours, for every purpose.
"""

from __future__ import annotations

import pytest
from django.test import Client

from otp.codes import hash_code
from otp.models import OneTimeCode
from tests.helpers import SEND_URL, VERIFY_URL

pytestmark = pytest.mark.django_db(transaction=True)

VICTIM = {"email": "victim@example.com", "purpose": "login"}
OWNER_IP = "203.0.113.50"
RIGHT = "123456"


def post(client: Client, url: str, body: dict, ip: str):
    return client.post(url, body, content_type="application/json", REMOTE_ADDR=ip)


def give_latest_code(code: str, purpose: str = "login") -> None:
    """The code the owner reads on their phone: the latest one issued for them."""
    otp = OneTimeCode.objects.filter(recipient=VICTIM["email"], purpose=purpose).latest("created_at")
    OneTimeCode.objects.filter(pk=otp.pk).update(code_hash=hash_code(code, otp_id=str(otp.pk)))


def attack(client: Client, *, rounds: int = 18, guesses_per_round: int = 8) -> dict[str, list[int]]:
    statuses: dict[str, list[int]] = {"send": [], "guess": []}
    guesses = 0
    for _ in range(rounds):
        ip = f"198.51.100.{guesses // 9}"
        statuses["send"].append(post(client, SEND_URL, VICTIM, ip).status_code)
        give_latest_code("999999")  # whatever the victim's phone got, the stranger does not know it
        for _ in range(guesses_per_round):
            ip = f"198.51.100.{guesses // 9}"
            statuses["guess"].append(post(client, VERIFY_URL, {**VICTIM, "code": "000000"}, ip).status_code)
            guesses += 1
    return statuses


def test_the_review_attack_leaves_the_owner_able_to_get_and_use_a_code(client, settings):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0
    statuses = attack(client)
    assert len(statuses["guess"]) == 144
    assert set(statuses["guess"]) == {400}  # each code died after 5 wrong guesses

    sent = post(client, SEND_URL, VICTIM, OWNER_IP)
    assert sent.status_code == 202  # the owner's network still gets a code
    give_latest_code(RIGHT)
    verified = post(client, VERIFY_URL, {**VICTIM, "code": RIGHT}, OWNER_IP)
    assert verified.status_code == 200
    assert verified.json()["verified"] is True


def test_during_the_attack_the_owners_sends_are_accepted(client, settings):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0
    attack(client, rounds=12)
    assert post(client, SEND_URL, VICTIM, OWNER_IP).status_code == 202
    attack(client, rounds=1)
    assert post(client, SEND_URL, VICTIM, "203.0.113.51").status_code == 202  # the owner's other device


def test_after_the_attack_every_other_purpose_is_untouched(client, settings):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0
    attack(client)
    body = {**VICTIM, "purpose": "password_reset"}
    assert post(client, SEND_URL, body, OWNER_IP).status_code == 202
    give_latest_code(RIGHT, purpose="password_reset")
    assert post(client, VERIFY_URL, {**body, "code": RIGHT}, OWNER_IP).status_code == 200


def test_after_the_attack_each_stranger_address_gets_one_guess_an_hour(client, settings):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0
    attack(client, rounds=22)  # 5 counted failures per code (then it is dead): 110, past the cap of 100
    assert post(client, SEND_URL, VICTIM, "192.0.2.1").status_code == 202
    wrong = {**VICTIM, "code": "000000"}
    assert post(client, VERIFY_URL, wrong, "192.0.2.1").status_code == 400  # a fresh address: one guess
    slowed = post(client, VERIFY_URL, wrong, "192.0.2.1")
    assert slowed.status_code == 429
    assert 3599 <= int(slowed["Retry-After"]) <= 3600


def test_past_the_recipients_cap_the_owners_right_code_still_verifies(client, settings):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0
    attack(client, rounds=22)  # 110 counted failures
    assert post(client, SEND_URL, VICTIM, OWNER_IP).status_code == 202
    give_latest_code(RIGHT)
    assert post(client, VERIFY_URL, {**VICTIM, "code": RIGHT}, OWNER_IP).status_code == 200


def test_online_guessing_is_bounded_per_address_once_past_the_cap(client, settings):
    """An attacker with A addresses gets at most 100 + 24 x A counted guesses a day at one victim."""
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0
    attack(client, rounds=22)
    wrong = {**VICTIM, "code": "000000"}
    outcomes = []
    for n in range(5):  # five fresh addresses, three guesses each
        assert post(client, SEND_URL, VICTIM, f"192.0.2.{n}").status_code == 202
        outcomes += [post(client, VERIFY_URL, wrong, f"192.0.2.{n}").status_code for _ in range(3)]
    assert outcomes == [400, 429, 429] * 5

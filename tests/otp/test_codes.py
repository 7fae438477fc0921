"""Codes: random digits with leading zeros, stored only as a keyed HMAC, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

from otp.codes import code_matches, generate_code, hash_code


def test_codes_are_six_decimal_digits_by_default_and_keep_leading_zeros():
    codes = [generate_code() for _ in range(3000)]

    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert any(code.startswith("0") for code in codes)
    assert len(set(codes)) > 2900


def test_the_stored_hash_is_a_keyed_hmac_bound_to_the_row_not_a_plain_digest(settings):
    digest = hash_code("123456", otp_id="row-1")

    assert digest != hashlib.sha256(b"123456").hexdigest()
    assert digest != hash_code("123456", otp_id="row-2")
    expected = hmac.new(settings.OTP_HMAC_KEY.encode(), b"row-1:123456", hashlib.sha256).hexdigest()
    assert digest == expected


def test_a_code_matches_only_its_own_hash():
    digest = hash_code("042042", otp_id="row-1")

    assert code_matches("042042", otp_id="row-1", code_hash=digest)
    assert not code_matches("042043", otp_id="row-1", code_hash=digest)
    assert not code_matches("42042", otp_id="row-1", code_hash=digest)
    assert not code_matches("042042", otp_id="row-1", code_hash="")

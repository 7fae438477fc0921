"""Checking and normalising a message's recipient for its channel, as the OTP send does."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from rest_framework import serializers

from messaging.models import Channel
from otp import limits
from otp.canonical import ascii_domain

PHONE_HINT = "Enter the number in international format: + and the country code, e.g. +14155550123."


def normalised_recipient(channel: str, to: str) -> str:
    """`to` as the providers get it; raises a DRF ValidationError (for the `to` field) when unusable."""
    if channel == Channel.EMAIL:
        return _email(to)
    return _phone(to)


def _email(to: str) -> str:
    local, _, domain = to.strip().rpartition("@")
    if not local.isascii():
        raise serializers.ValidationError("Use an address with only ASCII characters before the @.")
    try:
        address = f"{local}@{ascii_domain(domain)}"
        validate_email(address)
    except (DjangoValidationError, UnicodeError, ValueError) as err:
        raise serializers.ValidationError("Enter a valid email address.") from err
    return address.lower()


def _phone(to: str) -> str:
    try:
        number = phonenumbers.parse(to, None)
    except phonenumbers.NumberParseException as err:
        raise serializers.ValidationError(PHONE_HINT) from err
    if not phonenumbers.is_valid_number(number):
        raise serializers.ValidationError("This phone number is not valid.")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    try:
        limits.check_sms_destination(e164)
    except limits.DestinationRefused as err:
        raise serializers.ValidationError(str(err)) from err
    return e164

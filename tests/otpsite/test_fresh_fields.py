"""FreshFieldsSerializer: only the fields a body can use are made, and validation is as DRF's."""

from __future__ import annotations

from rest_framework import serializers

from otp.api import RecipientSerializer
from otpsite.serializers import FreshFieldsSerializer


class Body(FreshFieldsSerializer):
    name = serializers.CharField()
    nickname = serializers.CharField(required=False)
    colour = serializers.CharField(required=False, default="blue")


def test_an_absent_optional_field_is_not_made_but_required_and_defaulted_ones_are():
    body = Body(data={})

    assert not body.is_valid()
    assert set(body.fields) == {"name", "colour"}
    assert body.errors == {"name": ["This field is required."]}


def test_absent_fields_validate_as_drf_would():
    body = Body(data={"name": "Ann"})

    assert body.is_valid(), body.errors
    assert body.validated_data == {"name": "Ann", "colour": "blue"}


def test_a_send_by_email_makes_no_phone_or_tenant_field_and_the_schema_sees_every_field():
    assert "phone" not in RecipientSerializer(data={"email": "ann@example.com"}).fields
    assert set(RecipientSerializer().fields) == {"email", "phone", "purpose", "locale", "tenant_id"}
    assert "locale" not in RecipientSerializer(data={"email": "ann@example.com"}).fields

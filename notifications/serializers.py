"""The body of POST /api/v1/messages: a channel, a recipient, and a template or inline content."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from messaging.models import Channel
from messaging.templating.locales import LOCALE_PATTERN
from notifications.recipients import normalised_recipient

SCALARS = (str, int, float, bool)
EMAIL_PARTS = ("subject", "html", "text")
SMS_PARTS = ("body",)


def refuse_nul(value: Any, *, where: str) -> None:
    """PostgreSQL cannot store U+0000 in JSON: refuse it in any key or string."""
    if isinstance(value, str) and "\x00" in value:
        raise serializers.ValidationError(f"{where} holds a NUL character.")
    if isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key, where=where)
            refuse_nul(item, where=where)


def flat_scalars(value: dict[str, Any], *, where: str) -> dict[str, Any]:
    """`value` if every entry is a string, number or boolean (data only, nothing nested)."""
    for key, item in value.items():
        if not isinstance(item, SCALARS) or item is None:
            raise serializers.ValidationError(f"{where}[{key!r}] must be a string, number or boolean.")
    refuse_nul(value, where=where)
    return value


def _content(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(required=False, trim_whitespace=False, **kwargs)


class MessageRequestSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    to = serializers.CharField(max_length=320, help_text="An email address, or a number in E.164 (+14155550123).")
    template = serializers.RegexField(
        r"^[A-Za-z0-9_.-]{1,100}$", required=False, help_text="A template name; give this or inline content."
    )
    personalisation = serializers.DictField(
        required=False, help_text="Values for the template's ((placeholders)): strings, numbers, booleans."
    )
    locale = serializers.RegexField(
        LOCALE_PATTERN, required=False, help_text="e.g. fr, pt-BR; templates fall back to en. Else Accept-Language."
    )
    reference = serializers.CharField(required=False, max_length=128, help_text="Your own id, to find it again.")
    metadata = serializers.DictField(required=False, help_text="Your own labels: strings, numbers, booleans.")
    subject = _content(max_length=998, help_text="Email, inline.")
    html = _content(max_length=60000, help_text="Email, inline.")
    text = _content(max_length=60000, help_text="Email, inline.")
    body = _content(max_length=1600, help_text="SMS, inline.")

    def validate_personalisation(self, value: dict[str, Any]) -> dict[str, Any]:
        return flat_scalars(value, where="personalisation")

    def validate_metadata(self, value: dict[str, Any]) -> dict[str, Any]:
        return flat_scalars(value, where="metadata")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        channel = attrs["channel"]
        try:
            attrs["to"] = normalised_recipient(channel, attrs["to"])
        except serializers.ValidationError as err:
            raise serializers.ValidationError({"to": err.detail}) from err
        own, other = (EMAIL_PARTS, SMS_PARTS) if channel == Channel.EMAIL else (SMS_PARTS, EMAIL_PARTS)
        wrong = [name for name in other if name in attrs]
        if wrong:
            raise serializers.ValidationError({name: [f"Not used for {channel} messages."] for name in wrong})
        inline = [name for name in own if name in attrs]
        if "template" in attrs and inline:
            raise serializers.ValidationError({"template": ["Give a template or inline content, not both."]})
        if "template" not in attrs:
            _require_inline(channel, attrs)
        return attrs


def _require_inline(channel: str, attrs: dict[str, Any]) -> None:
    if channel == Channel.SMS and not attrs.get("body"):
        raise serializers.ValidationError({"body": ["Give a body, or a template."]})
    if channel == Channel.EMAIL:
        if not attrs.get("subject"):
            raise serializers.ValidationError({"subject": ["Give a subject, or a template."]})
        if not (attrs.get("text") or attrs.get("html")):
            raise serializers.ValidationError({"text": ["Give text or html, or a template."]})


class MessageAcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued"])
    links = serializers.DictField(child=serializers.CharField())

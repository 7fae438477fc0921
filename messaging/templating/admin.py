"""Operators edit templates in admin: each save adds a version; the page previews the saved version."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from messaging import pricing, registry
from messaging.models import Channel
from messaging.segments import count_segments
from messaging.templating import store
from messaging.templating.models import OTP_TEMPLATE, MessageTemplate
from messaging.templating.rendering import MissingPlaceholders, placeholders


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ("tenant", "name", "channel", "locale", "subject", "text", "html", "body", "preview_values")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        main = "body" if data.get("channel") == Channel.SMS else "text"
        has_email_parts = data.get("subject") and (data.get("text") or data.get("html"))
        if data.get("channel") == Channel.EMAIL and not has_email_parts:
            raise forms.ValidationError("An email template needs a subject and a text or HTML part.")
        if data.get("channel") == Channel.SMS and not data.get("body"):
            raise forms.ValidationError("An SMS template needs a body.")
        if data.get("name") == OTP_TEMPLATE and "code" not in placeholders([data.get(main, "")]):
            raise forms.ValidationError({main: "The one-time code's template must carry ((code))."})
        data["locale"] = (data.get("locale") or "en").replace("_", "-").lower()
        return data


def sms_cost(segments: int) -> str:
    """What `segments` cost through the first provider of the SMS chain, as operators read it."""
    chain = registry.chain(Channel.SMS)
    if not chain:
        return "-"
    price = pricing.price_of(chain[0].name).per_message * segments
    return f"{pricing.with_currency(price)} via {chain[0].name}"


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ("name", "tenant", "channel", "locale", "version", "created_at")
    list_filter = ("channel", "locale", "tenant")
    search_fields = ("name", "tenant")
    readonly_fields = ("version", "uid", "created_at", "preview")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # messages pin the version they used

    def save_model(self, request: HttpRequest, obj: MessageTemplate, form: Any, change: bool) -> None:
        store.add_version(obj)

    @admin.display(description="preview (saved version, with its preview values)")
    def preview(self, template: MessageTemplate) -> str:
        if template.pk is None:
            return "Save to preview."
        try:
            rendered = store.render_in_locale(template, template.preview_values, locale=template.locale)
        except MissingPlaceholders as err:
            return format_html("Give preview values for: {}", ", ".join(f"(({n}))" for n in err.names))
        rows = format_html_join("", "<p><strong>{}</strong></p><pre>{}</pre>", rendered.parts.items())
        if template.channel != Channel.SMS:
            return rows
        segments = count_segments(rendered.parts.get("body", ""))
        return format_html(
            "{}<p>{} segment(s), {} ({} units); cost {}</p>",
            rows, segments.count, segments.encoding, segments.units, sms_cost(segments.count),
        )  # fmt: skip

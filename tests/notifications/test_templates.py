"""Templates: per tenant, channel and locale with an en fallback, versioned, previewed; the OTP texts."""

from __future__ import annotations

import pytest

from messaging.segments import GSM7, count_segments
from messaging.templating import store
from messaging.templating.models import MessageTemplate
from notifications.models import Message
from notifications.rendering import render_for_delivery
from otp.delivery import deliver_one_time_code
from otp.models import OneTimeCode
from tests.helpers import SEND_URL, code_in

pytestmark = pytest.mark.django_db

RECEIPT = {"subject": "Reçu ((order))", "text": "Merci ((name)), total ((total)) €", "html": "<p>Merci ((name))</p>"}


def template(
    tenant: str, locale: str = "en", channel: str = "email", name: str = "receipt", **parts
) -> MessageTemplate:
    fields = parts or ({"body": "Order ((order)) ships today"} if channel == "sms" else RECEIPT)
    return store.add_version(MessageTemplate(tenant=tenant, name=name, channel=channel, locale=locale, **fields))


def templated(locale: str | None = None, **personalisation) -> dict:
    body = {"channel": "email", "to": "jane@example.com", "template": "receipt",
            "personalisation": {"order": "A-1", "name": "Zoë", "total": 12.5, **personalisation}}  # fmt: skip
    return {**body, "locale": locale} if locale else body


def test_a_templated_email_renders_in_the_messages_locale_with_numbers_written_the_french_way(acme):
    template(acme.tenant.slug, "en", subject="Receipt ((order))", text="Thanks ((name)), ((total))", html="")
    template(acme.tenant.slug, "fr")

    response = acme.send(templated("fr", name="<Zoë>"))
    message = Message.objects.get()
    outgoing = render_for_delivery(message)

    assert response.status_code == 202 and message.locale == "fr" and message.template_version == 1
    assert (outgoing.subject, outgoing.text) == ("Reçu A-1", "Merci <Zoë>, total 12,5 €")
    assert outgoing.html == "<p>Merci &lt;Zoë&gt;</p>"


def test_a_locale_without_a_template_falls_back_to_english_and_accept_language_picks_the_locale(acme):
    template(acme.tenant.slug, "en", subject="Receipt ((order))", text="Thanks ((name))", html="")
    template(acme.tenant.slug, "fr")

    acme.send(templated("de"))
    acme.send(templated(), HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.8,en;q=0.5")

    german, canadian = Message.objects.order_by("id")
    assert render_for_delivery(german).subject == "Receipt A-1"
    assert canadian.locale == "fr-ca" and render_for_delivery(canadian).subject == "Reçu A-1"


def test_a_missing_placeholder_is_a_400_naming_it_and_nothing_is_queued(acme):
    template(acme.tenant.slug)

    response = acme.send({**templated(), "personalisation": {"name": "Zoë"}})

    assert response.status_code == 400
    assert response.json() == {"personalisation": ["Missing placeholder values: ((order)), ((total))."]}
    assert not Message.objects.exists()


def test_a_message_keeps_the_version_it_was_accepted_with_after_an_edit(acme):
    template(acme.tenant.slug, "fr")
    acme.send(templated("fr"))
    template(acme.tenant.slug, "fr", subject="Nouveau reçu ((order))", text="v2", html="")

    acme.send(templated("fr"))
    first, second = Message.objects.order_by("id")

    assert (first.template_version, second.template_version) == (1, 2)
    assert (
        render_for_delivery(first).subject == "Reçu A-1" and render_for_delivery(second).subject == "Nouveau reçu A-1"
    )


def test_another_tenants_template_cannot_be_used_read_or_previewed(acme, globex):
    mine = template(acme.tenant.slug)
    url = f"/api/v1/templates/{mine.uid}"

    refused = globex.send(templated())
    assert refused.status_code == 400 and "template" in refused.json()
    assert globex.get(url).status_code == 404
    assert (
        globex.client.post(f"{url}/preview", {}, content_type="application/json", **globex.headers()).status_code == 404
    )
    assert mine.uid not in {t["id"] for t in globex.get("/api/v1/templates").json()["results"]}
    assert acme.get(url).json()["placeholders"] == ["order", "name", "total"]


def test_the_preview_shows_an_sms_templates_segments(acme):
    sms = template(acme.tenant.slug, channel="sms", body="Votre commande ((order)) arrive: ((when))")
    url = f"/api/v1/templates/{sms.uid}/preview"

    ok = acme.client.post(url, {"personalisation": {"order": "A-1", "when": "ç" * 50}}, content_type="application/json",
                          **acme.headers())  # fmt: skip
    missing = acme.client.post(url, {"personalisation": {}}, content_type="application/json", **acme.headers())

    assert ok.status_code == 200 and ok.json()["segments"] == 2 and ok.json()["encoding"] == "UCS-2"
    assert missing.status_code == 400 and "((order)), ((when))" in missing.json()["personalisation"][0]


def test_the_admin_saves_each_edit_as_a_new_version_and_previews_segments_and_cost(admin_client, settings):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    form = {"tenant": "acme", "name": "ship", "channel": "sms", "locale": "de", "subject": "", "text": "", "html": "",
            "body": "Ihr Paket ((order)) kommt heute \u2013 danke!", "preview_values": '{"order": "A-1"}'}  # fmt: skip
    assert admin_client.post("/admin/templating/messagetemplate/add/", form).status_code == 302
    first = MessageTemplate.objects.get(name="ship")
    edited = {**form, "body": "Ihr Paket ((order)) kommt heute. Danke!"}
    admin_client.post(f"/admin/templating/messagetemplate/{first.pk}/change/", edited)

    second = MessageTemplate.objects.get(name="ship", version=2)
    page = admin_client.get(f"/admin/templating/messagetemplate/{first.pk}/change/").content.decode()
    second_page = admin_client.get(f"/admin/templating/messagetemplate/{second.pk}/change/").content.decode()

    assert second.uid == first.uid and MessageTemplate.objects.filter(name="ship").count() == 2
    # The en dash is not GSM-7: the first version costs a UCS-2 segment; the edit is GSM-7.
    assert "1 segment(s), UCS-2" in page and "0.0075 USD via twilio" in page
    assert "1 segment(s), GSM-7" in second_page


def test_the_admin_refuses_an_otp_template_without_the_code(admin_client):
    form = {"tenant": "acme", "name": "otp", "channel": "sms", "locale": "en", "subject": "", "text": "", "html": "",
            "body": "Your code is on its way", "preview_values": "{}"}  # fmt: skip

    response = admin_client.post("/admin/templating/messagetemplate/add/", form)

    assert response.status_code == 200 and "must carry ((code))" in response.content.decode()
    assert not MessageTemplate.objects.filter(tenant="acme").exists()


# --- The one-time code's texts ----------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "es", "fr", "de", "pt"])
def test_every_shipped_otp_sms_is_one_gsm7_segment_and_each_email_carries_the_code(locale):
    sms = store.current(tenant="", name="otp", channel="sms", locale=locale)
    email = store.current(tenant="", name="otp", channel="email", locale=locale)
    values = {"code": "123456", "service": "OTP Service", "minutes": 10}

    body = store.render_in_locale(sms, values, locale=locale).parts["body"]
    parts = store.render_in_locale(email, values, locale=locale).parts

    assert (sms.locale, email.locale) == (locale, locale)
    assert count_segments(body).encoding == GSM7
    assert count_segments(body).count == 1 and "123456" in body
    assert "123456" in parts["text"] and "123456" in parts["html"]


@pytest.mark.parametrize(
    ("body", "headers", "subject"),
    [
        ({"locale": "de"}, {}, "Ihr OTP Service-Code"),
        ({}, {"HTTP_ACCEPT_LANGUAGE": "pt-BR,pt;q=0.9"}, "O seu código OTP Service"),
        ({"locale": "es"}, {"HTTP_ACCEPT_LANGUAGE": "fr"}, "Tu código de OTP Service"),
        ({"locale": "ja"}, {}, "Your OTP Service code"),
    ],
)
def test_an_otp_send_gets_its_code_text_in_the_asked_locale(client, smtp_sink, body, headers, subject):
    sent = client.post(SEND_URL, {"email": "jane@example.com", **body}, content_type="application/json", **headers)
    otp = OneTimeCode.objects.get()
    deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=90)

    [received] = smtp_sink.wait_for(1)
    assert sent.status_code == 202 and received["Subject"] == subject
    assert code_in(received.get_body(("plain",)).get_content())


def test_a_tenants_otp_override_wins_for_its_locale_and_others_keep_the_built_in(acme, smtp_sink):
    template(acme.tenant.slug, "fr", name="otp", subject="Acme : ((code))", text="Code Acme ((code))", html="")

    for locale in ("fr", "de"):
        acme.client.post(SEND_URL, {"email": f"{locale}@example.com", "locale": locale},
                         content_type="application/json", **acme.headers())  # fmt: skip
        deliver_one_time_code(str(OneTimeCode.objects.latest("created_at").pk), retries=0, lease_seconds=90)

    french, german = smtp_sink.wait_for(2)
    code = code_in(french.get_body(("plain",)).get_content())
    assert french["Subject"] == f"Acme : {code}" and german["Subject"] == "Ihr OTP Service-Code"

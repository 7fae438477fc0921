"""Templates render data only; SMS segments are counted as carriers count them."""

from __future__ import annotations

import pytest
from django.utils import translation

from messaging.providers.base import SmsMessage
from messaging.segments import GSM7, UCS2, billable_units, count_segments
from messaging.templating.rendering import MissingPlaceholders, locale_candidates, render


def test_placeholders_are_filled_with_data_and_html_parts_are_escaped():
    parts = {"subject": "Hi ((name))", "text": "Hi ((name))", "html": "<p>Hi ((name))</p>"}
    rendered = render(parts, {"name": "<b>Ann</b> & co"})

    assert rendered["subject"] == rendered["text"] == "Hi <b>Ann</b> & co"
    assert rendered["html"] == "<p>Hi &lt;b&gt;Ann&lt;/b&gt; &amp; co</p>"


def test_no_template_code_runs_and_a_value_is_never_read_for_placeholders():
    parts = {"text": "{{ settings.SECRET_KEY }} {% now 'Y' %} ((a)) ((b))"}

    rendered = render(parts, {"a": "((b))", "b": "{{ 7|add:1 }}"})

    assert rendered["text"] == "{{ settings.SECRET_KEY }} {% now 'Y' %} ((b)) {{ 7|add:1 }}"


def test_every_missing_placeholder_is_named_once_in_order_of_use():
    with pytest.raises(MissingPlaceholders) as raised:
        render({"subject": "((order)) for ((name))", "text": "((name)) ((total)) ((given))"}, {"given": 1})

    assert raised.value.names == ["order", "name", "total"]


def test_numbers_are_written_as_the_active_locale_writes_them():
    with translation.override("fr"):
        french = render({"text": "Total : ((amount)) €"}, {"amount": 1234.5})
    with translation.override("en"):
        english = render({"text": "Total: ((amount))"}, {"amount": 1234.5})

    assert french["text"] == "Total : 1234,5 €" and english["text"] == "Total: 1234.5"


def test_a_locale_falls_back_to_its_language_then_to_english():
    assert locale_candidates("pt_BR") == ["pt-br", "pt", "en"]
    assert locale_candidates("en") == ["en"]


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("", GSM7, 1),
        ("a" * 160, GSM7, 1),
        ("a" * 161, GSM7, 2),
        ("a" * 306, GSM7, 2),
        ("a" * 307, GSM7, 3),
        ("€" * 80, GSM7, 1),  # the extension table: two septets each
        ("€" * 81, GSM7, 2),
        ("a" * 152 + "€" + "a" * 10, GSM7, 2),  # the escape pair is not split: 152 + (2 + 10)
        ("Größe über Straße", GSM7, 1),  # ö, ü, ß are GSM-7
        ("ç" * 70, UCS2, 1),  # ç is not (only Ç is)
        ("ç" * 71, UCS2, 2),
        ("ã" + "a" * 133, UCS2, 2),  # one Portuguese ã turns 134 GSM characters into two UCS-2 segments
        ("😀" * 35, UCS2, 1),  # outside the BMP: two UTF-16 units each
        ("😀" * 36, UCS2, 2),
    ],
)
def test_segments_are_counted_per_encoding(text, encoding, count):
    segments = count_segments(text)

    assert (segments.encoding, segments.count) == (encoding, count)


def test_an_sms_bills_per_segment_and_an_email_as_one():
    assert billable_units(SmsMessage(to="+1", body="ç" * 140)) == 3
    from tests.helpers import otp_email

    assert billable_units(otp_email()) == 1

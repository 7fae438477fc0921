"""The one-time code's texts in en, es, fr, de and pt, as built-in templates a tenant may override.

The SMS texts keep to the GSM-7 alphabet (no ó, ã, ç...), so each is one segment; the emails use
full spelling.
"""

from __future__ import annotations

from django.db import migrations

CODE_HTML = '<p style="font-size:24px;letter-spacing:4px"><strong>((code))</strong></p>'

OTP_TEXTS = {
    "en": {
        "sms": "((code)) is your ((service)) code. It expires in ((minutes)) minutes. Never share it.",
        "subject": "Your ((service)) code",
        "intro": "Your ((service)) code is",
        "outro": "It expires in ((minutes)) minutes. If you did not ask for it, you can ignore this email.",
    },
    "es": {
        "sms": "((code)) es tu codigo de ((service)). Caduca en ((minutes)) minutos. No lo compartas.",
        "subject": "Tu código de ((service))",
        "intro": "Tu código de ((service)) es",
        "outro": "Caduca en ((minutes)) minutos. Si no lo has pedido, puedes ignorar este correo.",
    },
    "fr": {
        "sms": "((code)) est votre code ((service)). Il expire dans ((minutes)) minutes. Ne le partagez pas.",
        "subject": "Votre code ((service))",
        "intro": "Votre code ((service)) est",
        "outro": "Il expire dans ((minutes)) minutes. Si vous ne l'avez pas demandé, vous pouvez ignorer cet e-mail.",
    },
    "de": {
        "sms": "((code)) ist Ihr ((service))-Code. Er läuft in ((minutes)) Minuten ab. Geben Sie ihn nicht weiter.",
        "subject": "Ihr ((service))-Code",
        "intro": "Ihr ((service))-Code lautet",
        "outro": "Er läuft in ((minutes)) Minuten ab. Wenn Sie ihn nicht angefordert haben, "
        "können Sie diese E-Mail ignorieren.",
    },
    "pt": {
        "sms": "((code)) é o seu codigo ((service)). Expira em ((minutes)) minutos. Nao o partilhe.",
        "subject": "O seu código ((service))",
        "intro": "O seu código ((service)) é",
        "outro": "Expira em ((minutes)) minutos. Se não o pediu, pode ignorar este e-mail.",
    },
}
PREVIEW = {"code": "123456", "service": "OTP Service", "minutes": 10}


def ship(apps, schema_editor):
    MessageTemplate = apps.get_model("templating", "MessageTemplate")
    for locale, texts in OTP_TEXTS.items():
        MessageTemplate.objects.create(
            tenant="", name="otp", channel="sms", locale=locale, body=texts["sms"], preview_values=PREVIEW
        )
        MessageTemplate.objects.create(
            tenant="",
            name="otp",
            channel="email",
            locale=locale,
            subject=texts["subject"],
            text=f"{texts['intro']} ((code))\n\n{texts['outro']}",
            html=f"<p>{texts['intro']}</p>{CODE_HTML}<p>{texts['outro']}</p>",
            preview_values=PREVIEW,
        )


def unship(apps, schema_editor):
    apps.get_model("templating", "MessageTemplate").objects.filter(tenant="", name="otp").delete()


class Migration(migrations.Migration):
    dependencies = [("templating", "0001_initial")]
    operations = [migrations.RunPython(ship, unship)]

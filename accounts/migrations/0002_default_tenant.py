"""The default tenant (OTP_DEFAULT_TENANT): anonymous sends and verifies act for it."""

from django.conf import settings
from django.db import migrations


def create_default_tenant(apps, schema_editor):
    Tenant = apps.get_model("accounts", "Tenant")
    Tenant.objects.get_or_create(slug=settings.OTP_DEFAULT_TENANT, defaults={"name": "Default tenant"})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_default_tenant, migrations.RunPython.noop)]

"""A tenant's staff cannot see or change another tenant's rows by any console URL, nor by the API.

acme's owner is signed in; every page and endpoint is tried with acme's own row (it shows) and
with globex's (nothing of it shows, nothing of it changes). Real PostgreSQL, Django's test client.
"""

from __future__ import annotations

import csv
import io

import pytest

from accounts.models import ApiKey
from messaging.templating.models import MessageTemplate
from messaging.tenancy.models import ProviderCredential, TenantChain
from notifications.models import CallbackEndpoint
from tests.console.conftest import TenantRows

pytestmark = pytest.mark.django_db

# name -> (app label, model name, TenantRows attribute, a field that shows on its change page)
MODELS = {
    "messages": ("messaging", "communicationlog", "log", "recipient"),
    "api messages": ("notifications", "message", "message", "reference"),
    "endpoints": ("notifications", "callbackendpoint", "endpoint", "url"),
    "callbacks": ("notifications", "callbackdelivery", "delivery", "endpoint"),
    "templates": ("templating", "messagetemplate", "template", "name"),
    "api keys": ("accounts", "apikey", "api_key", "name"),
    "credentials": ("messaging", "providercredential", "credential", "provider"),
    "chains": ("messaging", "tenantchain", "chain", "providers"),
    "budget": ("messaging", "tenantbudget", "budget", "monthly_cap_usd"),
}


def url(name: str, rows: TenantRows | None = None, view: str = "change") -> str:
    app, model, attr, _ = MODELS[name]
    if rows is None:
        return f"/console/{app}/{model}/"
    return f"/console/{app}/{model}/{getattr(rows, attr).pk}/{view}/"


def marker(name: str, rows: TenantRows) -> str:
    _, _, attr, field = MODELS[name]
    return str(getattr(getattr(rows, attr), field))


@pytest.mark.parametrize("name", MODELS)
def test_a_list_shows_the_tenants_rows_only(name, acme, globex):
    page = acme.client().get(url(name)).content.decode()

    assert marker(name, acme) in page
    assert "globex" not in page  # no row, no filter choice, no warning of theirs
    assert url(name, globex) not in page


@pytest.mark.parametrize("view", ["change", "history"])
@pytest.mark.parametrize("name", MODELS)
def test_another_tenants_row_is_not_found_by_its_id(name, view, acme, globex):
    client = acme.client()
    own = client.get(url(name, acme, view))
    assert own.status_code == 200
    assert marker(name, acme) in own.content.decode() or view == "history"  # history names the row only

    response = client.get(url(name, globex, view), follow=True)

    assert response.redirect_chain == [("/console/", 302)]
    assert "globex" not in response.content.decode()


@pytest.mark.parametrize("name", MODELS)
def test_another_tenants_row_cannot_be_deleted(name, acme, globex):
    _, _, attr, _ = MODELS[name]
    row = getattr(globex, attr)

    response = acme.client().post(url(name, globex, "delete"), {"post": "yes"})

    assert response.status_code in (302, 403)
    assert type(row).objects.filter(pk=row.pk).exists()


def test_another_tenants_endpoint_and_template_cannot_be_changed(acme, globex):
    client = acme.client()

    client.post(url("endpoints", globex), {"enabled": ""})
    client.post(url("templates", globex), {"name": "globex-welcome", "channel": "sms", "locale": "en", "body": "Pwned"})

    assert CallbackEndpoint.objects.get(pk=globex.endpoint.pk).enabled
    assert list(MessageTemplate.objects.filter(tenant="globex").values_list("body", flat=True)) == ["Hi ((name))"]


def test_another_tenants_credential_and_chain_cannot_be_changed(acme, globex):
    client = acme.client()
    sealed = globex.credential.sealed

    client.post(url("credentials", globex), {"provider": "sendgrid", "SENDGRID_API_KEY": "SG.acme-took-it"})
    client.post(url("chains", globex), {"channel": "email", "providers": "smtp"})

    assert ProviderCredential.objects.get(pk=globex.credential.pk).sealed == sealed
    assert TenantChain.objects.get(pk=globex.chain.pk).providers == "sendgrid,smtp"


def export(client, ids: list[int], **extra: str) -> list[list[str]]:
    body = {"action": "export_csv", "_selected_action": ids, **extra}
    response = client.post(url("messages"), body)
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_csv_export_holds_the_tenants_messages_only(acme, globex):
    client = acme.client()

    picked = export(client, [acme.log.pk, globex.log.pk])
    everything = export(client, [acme.log.pk], select_across="1")

    for rows in (picked, everything):
        assert [row[3] for row in rows] == ["recipient", "acme-customer@example.com"]


def test_revoking_another_tenants_key_revokes_nothing(acme, globex):
    client = acme.client()
    body = {"action": "revoke_keys", "_selected_action": [globex.api_key.pk]}

    client.post(url("api keys"), body)
    assert ApiKey.objects.get(pk=globex.api_key.pk).revoked_at is None

    client.post(url("api keys"), {**body, "_selected_action": [acme.api_key.pk]})
    assert ApiKey.objects.get(pk=acme.api_key.pk).revoked_at is not None


@pytest.mark.parametrize(
    ("model", "field", "attr"),
    [("message", "api_key", "api_key"), ("message", "log", "log"), ("callbackdelivery", "endpoint", "endpoint")],
)
def test_autocomplete_offers_the_tenants_rows_only(model, field, attr, acme, globex):
    params = {"app_label": "notifications", "model_name": model, "field_name": field, "term": ""}

    answer = acme.client().get("/console/autocomplete/", params)

    assert answer.status_code == 200
    assert [result["id"] for result in answer.json()["results"]] == [str(getattr(acme, attr).pk)]
    assert "globex" not in answer.content.decode()


def test_autocomplete_of_tenants_themselves_is_refused(acme, globex):
    params = {"app_label": "notifications", "model_name": "message", "field_name": "tenant", "term": "glo"}

    assert acme.client().get("/console/autocomplete/", params).status_code == 403


@pytest.mark.parametrize("model", ["providercredential", "tenantchain", "tenantbudget"])
def test_autocomplete_through_a_credential_chain_or_budget_is_refused(model, acme, globex):
    params = {"app_label": "messaging", "model_name": model, "field_name": "tenant", "term": "glo"}

    answer = acme.client().get("/console/autocomplete/", params)

    assert answer.status_code == 403
    assert "globex" not in answer.content.decode()


def test_an_api_key_added_with_another_tenant_posted_is_the_members_own(acme, globex):
    client = acme.client()

    page = client.post("/console/accounts/apikey/add/", {"name": "new", "kind": "live", "tenant": globex.tenant.pk})

    key = ApiKey.objects.get(name="new")
    assert key.tenant == acme.tenant
    assert f"otpk_{key.prefix}_" in page.content.decode()


def test_a_template_added_for_another_tenant_is_the_members_own(acme, globex):
    body = {
        "tenant": "globex",
        "name": "receipt",
        "channel": "sms",
        "locale": "en",
        "body": "Paid",
        "preview_values": "{}",
    }

    acme.client().post("/console/templating/messagetemplate/add/", body)

    assert list(MessageTemplate.objects.filter(name="receipt").values_list("tenant", flat=True)) == ["acme"]


def test_a_key_of_one_tenant_cannot_read_anothers_message_by_api(acme, globex):
    from django.test import Client

    headers = {"HTTP_AUTHORIZATION": f"Api-Key {acme.key}"}
    client = Client()

    theirs = client.get(f"/api/v1/messages/{globex.log.message_id}", **headers)
    ours = client.get(f"/api/v1/messages/{acme.log.message_id}", **headers)
    listed = client.get("/api/v1/messages", **headers).json()

    assert theirs.status_code == 404
    assert ours.status_code == 200
    assert [m["id"] for m in listed["results"]] == [str(acme.log.message_id)]


@pytest.mark.parametrize("name", MODELS)
def test_an_admin_refuses_another_tenants_object_even_when_handed_it(name, acme, globex):
    from django.apps import apps
    from django.test import RequestFactory

    from web.console.admin import console_site

    app, model, attr, _ = MODELS[name]
    request = RequestFactory().get("/console/")
    request.user = acme.user
    model_admin = console_site._registry[apps.get_model(app, model)]

    assert model_admin.has_view_permission(request, getattr(acme, attr))
    assert not model_admin.has_view_permission(request, getattr(globex, attr))
    assert not model_admin.has_change_permission(request, getattr(globex, attr))


@pytest.mark.parametrize(
    ("path", "attr"),
    [("/api/v1/templates/{}", "template"), ("/api/v1/callbacks/{}", "endpoint")],
    ids=["templates", "callbacks"],
)
def test_a_key_of_one_tenant_cannot_read_anothers_templates_or_endpoints_by_api(path, attr, acme, globex):
    from django.test import Client

    headers = {"HTTP_AUTHORIZATION": f"Api-Key {acme.key}"}

    theirs = Client().get(path.format(getattr(globex, attr).uid), **headers)
    ours = Client().get(path.format(getattr(acme, attr).uid), **headers)

    assert (theirs.status_code, ours.status_code) == (404, 200)

"""The root URLconf: the composition root of the web process, and the only module above every app.

Each app owns its views (and its urls module where it has one); this module puts them at their
paths, so no app imports another app's views. It sits in the top layer of the contract in
pyproject.toml, beside workers (the worker process's composition root).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularSwaggerSplitView

from accounts.signin import SignInView
from accounts.token_views import RedeemTokenView
from observability.dashboard import dashboard_view
from observability.views import metrics_view
from otp.jwks import JwksView
from otp.page_urls import LandingPage
from otp.schema import SchemaView
from otpsite.admin_login import ThrottledAdminLoginForm
from otpsite.json_errors import json_not_found
from web.console.admin import console_site

admin.site.login_form = ThrottledAdminLoginForm

urlpatterns = [
    path("api/v1/auth/otp/token/redeem", RedeemTokenView.as_view(), name="otp-token-redeem"),
    path("api/v1/auth/otp/", include("otp.urls")),
    path("api/v1/accounts/", include("accounts.urls")),
    path("api/v1/", include("notifications.urls")),
    path(".well-known/jwks.json", JwksView.as_view(), name="jwks"),
    path("", include("observability.urls")),
    path("", include("messaging.receipts.urls")),
    path("signup/", include("otp.page_urls")),
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="/"), name="logout"),
    path("", LandingPage.as_view(), name="landing"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, so the page runs under script-src 'self'.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("metrics", metrics_view, name="metrics"),
    path(f"{settings.ADMIN_URL}dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path(settings.ADMIN_URL, admin.site.urls),
    # The tenant console: a tenant's staff see their own messages, costs, keys, templates and endpoints.
    path("console/", console_site.urls),
    # Anything else under the API and health paths: a JSON 404 (naming the path a slash away, if any).
    re_path(r"^(?:api|health|\.well-known)(?:/.*)?$", json_not_found),
]

handler404 = "otpsite.json_errors.not_found"

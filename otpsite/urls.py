from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from observability.dashboard import dashboard_view
from observability.views import metrics_view

urlpatterns = [
    path("api/v1/auth/otp/", include("otp.urls")),
    path("", include("messaging.urls")),
    path("", include("messaging.receipts.urls")),
    path("signup/", include("otp.page_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("metrics", metrics_view, name="metrics"),
    path(f"{settings.ADMIN_URL}dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path(settings.ADMIN_URL, admin.site.urls),
]

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("doku/", include("django_doku_checkout.urls")),
    path("", include("shop.urls")),
]
if settings.SIMULATOR:
    urlpatterns.insert(0, path("doku-simulator/", include("django_doku_checkout.simulator.urls")))

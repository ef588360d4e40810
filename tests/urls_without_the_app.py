"""A shop's URLconf with two usual mistakes: the app's URLs left out, the simulator's mounted alone."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("doku-simulator/", include("django_doku_checkout.simulator.urls")),
]

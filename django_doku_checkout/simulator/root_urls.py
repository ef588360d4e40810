"""URLconf for a simulator serving on its own (standalone or in-process): mounted at the root."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("", include("django_doku_checkout.simulator.urls"))]

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from benchmarks.site import floor, shop

urlpatterns = [
    path("admin/", admin.site.urls),
    path("doku/", include("django_doku_checkout.urls")),
    path("floor/notification/", floor.notification, name="floor_notification"),
    path("shop/order/<uuid:public_id>/", shop.order_page, name="shop_order"),
]

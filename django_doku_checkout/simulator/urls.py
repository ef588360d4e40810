from __future__ import annotations

from django.urls import path

from django_doku_checkout.simulator import views

app_name = "doku_simulator"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("faults/", views.update_faults, name="faults"),
    path("checkout/v1/payment", views.checkout_payment, name="checkout_payment"),
    path("credit-card/v1/payment-page", views.card_payment_page, name="card_payment_page"),
    path("orders/v1/status/<path:identifier>", views.order_status, name="order_status"),
    path("pay/<str:token>/", views.payment_page, name="page"),
    path("pay/<str:token>/cancel/", views.cancel_payment, name="cancel"),
    path("_control/faults/", views.control_faults, name="control_faults"),
    path("_control/reset/", views.control_reset, name="control_reset"),
]

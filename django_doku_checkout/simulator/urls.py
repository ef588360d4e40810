from __future__ import annotations

from django.urls import path

from django_doku_checkout.simulator import api, control, pages
from django_doku_checkout.simulator.access import staff_only, when_enabled

app_name = "doku_simulator"

urlpatterns = [
    # DOKU's API and the hosted payment page: for the shop's client and its shoppers.
    path("checkout/v1/payment", when_enabled(api.checkout_payment), name="checkout_payment"),
    path("credit-card/v1/payment-page", when_enabled(api.card_payment_page), name="card_payment_page"),
    path("cancellation/credit-card/refund", when_enabled(api.card_refund), name="card_refund"),
    path("checkout/v3/cancellations", when_enabled(api.checkout_cancellation), name="checkout_cancellation"),
    path("orders/v1/status/<path:identifier>", when_enabled(api.order_status), name="order_status"),
    path(
        "jokul-checkout-js/v1/jokul-checkout-1.0.0.js",
        when_enabled(pages.asset),
        {"name": "jokul-checkout-1.0.0.js"},
        name="checkout_js",
    ),
    path(
        "jokul-checkout-js/v1/jokul-checkout-1.0.0.css",
        when_enabled(pages.asset),
        {"name": "jokul-checkout-1.0.0.css"},
        name="checkout_css",
    ),
    path("_assets/<str:name>", when_enabled(pages.asset), name="asset"),
    path("pay/<str:token>/", when_enabled(pages.payment_page), name="page"),
    path("pay/<str:token>/cancel/", when_enabled(pages.cancel_payment), name="cancel"),
    # What lists every link and resets or faults the simulator: for staff.
    path("", staff_only(control.dashboard), name="dashboard"),
    path("faults/", staff_only(control.update_faults), name="faults"),
    path("_control/faults/", staff_only(control.control_faults), name="control_faults"),
    path("_control/reset/", staff_only(control.control_reset), name="control_reset"),
    path("_control/settle/", staff_only(control.settle_payment), name="settle"),
]

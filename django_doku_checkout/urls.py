from __future__ import annotations

from django.urls import path

from django_doku_checkout import api, health_view, views

app_name = "doku_checkout"

urlpatterns = [
    path("pay/<uuid:public_id>/", views.pay, name="pay"),
    path("return/<uuid:public_id>/", views.CallbackView.as_view(outcome="return"), name="return"),
    path("cancel/<uuid:public_id>/", views.CallbackView.as_view(outcome="cancel"), name="cancel"),
    path("result/<uuid:public_id>/", views.CallbackView.as_view(outcome="result"), name="result"),
    path("notification/", views.notification, name="notification"),
    path("api/pay/<uuid:public_id>/", api.api_pay, name="api_pay"),
    path("api/status/<uuid:public_id>/", api.api_status, name="api_status"),
    path("health/", health_view.health, name="health"),
]

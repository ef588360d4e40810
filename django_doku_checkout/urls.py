from __future__ import annotations

from django.urls import path

from django_doku_checkout import views

app_name = "doku_checkout"

urlpatterns = [
    path("pay/<uuid:public_id>/", views.pay, name="pay"),
    path("return/<uuid:public_id>/", views.CallbackView.as_view(outcome="return"), name="return"),
    path("cancel/<uuid:public_id>/", views.CallbackView.as_view(outcome="cancel"), name="cancel"),
    path("result/<uuid:public_id>/", views.CallbackView.as_view(outcome="result"), name="result"),
    path("notification/", views.notification, name="notification"),
]

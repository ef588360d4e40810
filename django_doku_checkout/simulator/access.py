"""Who may reach the simulator mounted in a shop.

A simulator takes any payment: it must never answer on a live shop by accident. It answers
only with ``DEBUG`` on or ``DOKU_SIMULATOR["ENABLED"] = True``. Its API and hosted payment
page are then open (the shop's own client and its shoppers use them), while its dashboard
and control endpoints, which list every link and reset or fault the simulator, are for
logged-in staff only. The standalone simulator (``python -m django_doku_checkout.simulator``)
runs alone on loopback with no user accounts, so it sets ``OPEN_DASHBOARD``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse

from django_doku_checkout.simulator.merchants import options

View = Callable[..., HttpResponse]


def enabled() -> bool:
    """Whether the simulator answers at all: with ``DEBUG`` on, or explicitly enabled."""
    return bool(settings.DEBUG or options().get("ENABLED") is True)


def when_enabled(view: View) -> View:
    """The simulator's API and hosted page: 404 unless :func:`enabled`."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not enabled():
            raise Http404("The DOKU simulator is off: DEBUG is False and DOKU_SIMULATOR['ENABLED'] is not True.")
        return view(request, *args, **kwargs)

    return guarded


def staff_only(view: View) -> View:
    """The dashboard and control endpoints: staff only (the admin's login), unless ``OPEN_DASHBOARD``."""

    @when_enabled
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = getattr(request, "user", None)
        if options().get("OPEN_DASHBOARD") is True or getattr(user, "is_staff", False):
            return view(request, *args, **kwargs)
        try:
            login_url = reverse("admin:login")
        except NoReverseMatch:
            raise PermissionDenied("The DOKU simulator's dashboard is for staff.") from None
        return redirect_to_login(request.get_full_path(), login_url)

    return guarded

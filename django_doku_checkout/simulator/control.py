"""The simulator's control panel, for developers and tests (staff only): every session and
notification, fault switches, settlement and reset."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from django_doku_checkout.simulator import actions
from django_doku_checkout.simulator.faults import Faults
from django_doku_checkout.simulator.merchants import merchants
from django_doku_checkout.simulator.store import STORE


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every session, notification and delivery attempt, and the fault switches."""
    with STORE.lock:
        sessions = list(reversed(STORE.sessions.values()))
        notifications = list(reversed(STORE.notifications))
    known = merchants()
    return render(
        request,
        "doku_simulator/dashboard.html",
        {
            "sessions": sessions,
            "notifications": notifications,
            "merchants": [(m, STORE.faults_for(m.client_id).as_dict()) for m in known.values()],
        },
    )


@require_POST
def update_faults(request: HttpRequest) -> HttpResponse:
    """The dashboard's fault form (CSRF-protected)."""
    client_id = request.POST.get("client_id", "")
    values = {
        name: request.POST.get(name) or (False if isinstance(default, bool) else default)
        for name, default in Faults().as_dict().items()
    }
    STORE.set_faults(client_id, Faults().updated(values))
    return redirect("doku_simulator:dashboard")


@require_POST
def control_faults(request: HttpRequest) -> JsonResponse:
    """Set a merchant's faults from a test: ``{"client_id": ..., "error_rate": 1}``; ``{}`` clears.

    Staff only, with Django's CSRF token (the ``X-CSRFToken`` header), like the dashboard.
    """
    try:
        values = json.loads(request.body or b"{}")
        client_id = values.pop("client_id", None) or next(iter(merchants()), "")
        faults = Faults().updated(values)
    except (ValueError, AttributeError) as err:
        return JsonResponse({"error_messages": [str(err)]}, status=400)
    STORE.set_faults(client_id, faults)
    return JsonResponse({"client_id": client_id, "faults": faults.as_dict()})


@require_POST
def settle_payment(request: HttpRequest) -> HttpResponse:
    """Settle a paid session (``{"invoice_number": ...}``): the dashboard's button, and a JSON control for tests.

    After settlement DOKU refunds partially; before, it only voids the whole amount.
    """
    if request.content_type == "application/json":
        try:
            values = json.loads(request.body or b"{}")
            invoice = values.get("invoice_number")
        except (ValueError, AttributeError):
            invoice = None
    else:
        invoice = request.POST.get("invoice_number")
    with STORE.lock:
        session = next((s for s in STORE.sessions.values() if s.invoice_number == invoice), None)
    if session is None:
        return JsonResponse({"error_messages": ["invoice_number is not known"]}, status=404)
    try:
        actions.mark_settled(session)
    except ValueError as err:
        return JsonResponse({"error_messages": [str(err)]}, status=400)
    if request.content_type == "application/json":
        return JsonResponse({"invoice_number": session.invoice_number, "settled": True})
    return redirect("doku_simulator:dashboard")


@require_POST
def control_reset(request: HttpRequest) -> JsonResponse:
    """Forget every session, notification and fault."""
    STORE.reset()
    return JsonResponse({"reset": True})

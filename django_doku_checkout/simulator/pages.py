"""The simulator's hosted pages: the payment page shoppers see at ``payment.url``, its Cancel
link, and the files those pages load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from django_doku_checkout import payment_methods
from django_doku_checkout.payment_methods import is_card
from django_doku_checkout.simulator import actions
from django_doku_checkout.simulator.merchants import merchants
from django_doku_checkout.simulator.store import STORE, SimulatedSession


def _back_url(session: SimulatedSession) -> str:
    return str(session.order.get("callback_url_result") or session.order.get("callback_url") or "")


#: Files the simulator serves itself, wherever it is mounted: its stylesheet, its pages'
#: script and the stand-ins for DOKU's Checkout JS and the stylesheet that script adds.
ASSETS = {
    "simulator.css": "text/css",
    "page.js": "text/javascript",
    "jokul-checkout-1.0.0.js": "text/javascript",
    "jokul-checkout-1.0.0.css": "text/css",
}
ASSET_DIR = Path(__file__).resolve().parent / "assets"


@require_GET
def asset(request: HttpRequest, name: str) -> HttpResponse:
    """One of :data:`ASSETS`; the Checkout JS and its stylesheet are also at DOKU's path (``jokul-checkout-js/v1/``)."""
    if name not in ASSETS:
        raise Http404("No such simulator asset.")
    response = HttpResponse((ASSET_DIR / name).read_bytes(), content_type=f"{ASSETS[name]}; charset=utf-8")
    response["Cache-Control"] = "max-age=300"
    return response


@xframe_options_exempt  # DOKU's pop-up shows this page in a frame over the shop
# In that frame the page is another site's: browsers withhold its SameSite cookies, so the
# CSRF cookie cannot be checked. It moves no money; the signed API is what guards the shop.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def payment_page(request: HttpRequest, token: str) -> HttpResponse:
    """The hosted page at ``payment.url``: pick a method, then Pay, Fail or Let it expire."""
    session = STORE.session(token)
    if session is None:
        return render(request, "doku_simulator/message.html", {"title": "Payment link not found"}, status=404)
    context = _page_context(session)
    # DOKU's Checkout JS frames the page at url + "?view=iframe"; the framed page offers a way
    # to close the pop-up (it asks the shop's window for closeJokul, page.js).
    context["in_frame"] = request.GET.get("view") == "iframe"
    if session.cancelled:
        return render(request, "doku_simulator/message.html", {"title": "This payment was cancelled"}, status=410)
    if request.method == "GET" or session.is_expired() or session.status == "SUCCESS":
        if session.is_expired() and session.status != "EXPIRED":
            session.status = "EXPIRED"
        return render(request, "doku_simulator/page.html", context, status=200)

    action = request.POST.get("action")
    method = request.POST.get("method", "")
    if action == "expire":
        actions.settle(session, "expire")
        return render(request, "doku_simulator/result.html", {**context, "back_url": _back_url(session)})
    if action == "authorize" and method != "CREDIT_CARD":
        context["error"] = "Only a card payment can be authorized."
        return render(request, "doku_simulator/page.html", context, status=400)
    if action not in {"pay", "fail", "authorize"} or method not in context["methods"]:
        context["error"] = "Choose one of the payment methods shown."
        return render(request, "doku_simulator/page.html", context, status=400)
    actions.settle(session, action, method)
    return _after_settling(request, session, context, action, method)


def _page_context(session: SimulatedSession) -> dict[str, Any]:
    """What the payment page shows: the order, and its channels grouped by kind as DOKU's page groups them."""
    methods = session.offered_methods
    return {
        "session": session,
        "merchant": merchants().get(session.client_id),
        "methods": methods,
        "groups": [
            (title, [(code, payment_methods.name(code)) for code in codes])
            for title, codes in payment_methods.grouped(methods)
        ],
        "is_card_page": session.kind == "card_page",
    }


def _after_settling(
    request: HttpRequest, session: SimulatedSession, context: dict[str, Any], action: str, method: str
) -> HttpResponse:
    """Back to the shop when the order asks for it (``auto_redirect``), else the result page."""
    if session.kind == "card_page":
        target = session.order.get("callback_url") if action != "fail" else session.order.get("failed_url")
        target = target or session.order.get("callback_url")
        if session.order.get("auto_redirect") and target:
            return redirect(str(target))
    elif session.order.get("auto_redirect") and session.order.get("callback_url") and action == "pay":
        return redirect(str(session.order["callback_url"]))
    retry_allowed = action == "fail" and not session.order.get("disable_retry_payment") and not is_card(method)
    return render(
        request,
        "doku_simulator/result.html",
        {**context, "back_url": _back_url(session), "retry_allowed": retry_allowed or action == "fail"},
    )


@xframe_options_exempt
@require_GET
def cancel_payment(request: HttpRequest, token: str) -> HttpResponse:
    """The page's Cancel link: back to ``callback_url_cancel`` (or ``callback_url``)."""
    session = STORE.session(token)
    if session is None:
        return render(request, "doku_simulator/message.html", {"title": "Payment link not found"}, status=404)
    target = session.order.get("callback_url_cancel") or session.order.get("callback_url")
    if not target:
        return render(request, "doku_simulator/message.html", {"title": "Payment cancelled"})
    return redirect(str(target))

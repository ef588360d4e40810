"""Staff refunds in the order admin: the Refund form, the Resend button and the bulk refund.

Every one of them moves money, so every one is idempotent. The Refund form and the bulk
action's confirmation page carry a key issued when they are rendered; sending the same
form again (a reload, the back button, a second tab, a double click, a retry after an
error) finds the refund that key made and shows what became of it, sending nothing to
DOKU. Each POST that reaches DOKU ends in a redirect, so a reload of the answer re-posts
nothing. A refund DOKU did not answer stays *pending at DOKU*, counted in what is left,
and is sent again only by **Resend**: the same Request-Id and bytes, which DOKU refunds at
most once. Refunding needs the ``refund_payment`` permission and view permission on the
order.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_doku_checkout import services
from django_doku_checkout.admin import operations
from django_doku_checkout.admin.forms import RefundForm
from django_doku_checkout.exceptions import DokuError
from django_doku_checkout.formatting import format_rupiah
from django_doku_checkout.models import Order, Refund
from django_doku_checkout.services.refunds import paying_link, refundable_by_api

if TYPE_CHECKING:
    OrderModelAdmin = admin.ModelAdmin[Order]
else:  # the admin classes are not subscriptable at run time
    OrderModelAdmin = admin.ModelAdmin


def new_key() -> str:
    """A fresh idempotency key for one rendering of a form that moves money."""
    return uuid4().hex


#: How long a refund makes the Refund form ask whether the next one is another refund.
RECENT = timedelta(minutes=10)


def recent_refunds(order: Order) -> list[Refund]:
    """The order's refunds made or asked for in the last :data:`RECENT`, newest first."""
    statuses = (Refund.Status.REQUESTED, Refund.Status.SUCCEEDED)
    since = timezone.now() - RECENT
    return list(order.refunds.filter(created_at__gte=since, status__in=statuses).order_by("-created_at", "-id"))


def pending_refunds(order: Order) -> list[Refund]:
    """The order's card refunds DOKU has not answered: each may be sent again with Resend."""
    return list(order.refunds.filter(status=Refund.Status.REQUESTED, method=Refund.Method.CARD_API))


class RefundAdmin(OrderModelAdmin):
    """The order admin's refund views; :class:`~.orders.OrderAdmin` adds the rest."""

    def has_refund_payment_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        """``refund_payment``, and the right to see the order (or orders) being refunded."""
        return self.has_view_permission(request, obj) and request.user.has_perm(f"{self.opts.app_label}.refund_payment")

    def _url(self, name: str, *args: Any) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)

    def _refundable_order(self, request: HttpRequest, object_id: str) -> Order:
        order = self.get_object(request, object_id)
        if order is None:
            raise Http404(_("No such order or operation."))
        if not self.has_refund_payment_permission(request, order):
            raise PermissionDenied
        return order

    def _show(self, request: HttpRequest, order: Order, refund: Refund) -> HttpResponseRedirect:
        """Say what became of ``refund``; then the order's page, or the Refund page while it is not done."""
        reused = refund.reused
        refund = operations.answered(refund)
        order.refresh_from_db()
        level, text = operations.refund_state(refund, order, reused=reused)
        self.message_user(request, text, level)
        done = refund.status == Refund.Status.SUCCEEDED
        return HttpResponseRedirect(self._url("change", order.pk) if done else self._url("refund", order.pk))

    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The Refund button: a form with the amount left and a reason; a card is refunded at DOKU.

        Channels without a refund API DOKU refunds on a support request; the same form then
        records that refund, so the order's status and the shop's books stay right. The
        form's key makes sending it again show the refund it made instead of making another.
        A form rendered anew (Back fetches it again) has a new key: while the order has a
        refund from the last minutes, it asks staff to confirm another one.
        """
        order = self._refundable_order(request, object_id)
        key = request.POST.get("key", "") if request.method == "POST" else ""
        made = Refund.objects.filter(order=order, idempotency_key=key).first() if key else None
        if made is not None:  # this form was sent before: show what became of its refund
            made.reused = True
            return self._show(request, order, made)
        left = services.refundable_amount(order)
        pending = pending_refunds(order)
        if not left and not pending:
            self.message_user(request, _("This order has nothing left to refund."), messages.WARNING)
            return HttpResponseRedirect(self._url("change", order.pk))
        paying = paying_link(order)
        by_api = refundable_by_api(paying)
        recent = recent_refunds(order)
        newest = order.refunds.order_by("-pk").values_list("pk", flat=True).first() or 0
        initial = {"amount": left, "key": new_key(), "seen": newest}
        form = RefundForm(request.POST or None, initial=initial, left=left, recent=recent)
        if request.method == "POST" and left and form.is_valid():
            answer = self._refund(request, order, form, by_api=by_api)
            if answer is not None:
                return answer
        elif key and (made := Refund.objects.filter(order=order, idempotency_key=key).first()):
            made.reused = True  # the same form, sent at the same moment
            return self._show(request, order, made)
        if by_api:
            form.fields.pop("reference")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": order,
            "title": _("Refund %(invoice)s") % {"invoice": order.invoice_number},
            "form": form if left else None,
            "by_api": by_api,
            "channel": paying.payment_channel if paying else "",
            "paid": format_rupiah(order.amount, order.currency),
            "left": format_rupiah(left, order.currency) if left else "",
            "pending": [(refund, self._url("refund_resend", order.pk, refund.pk)) for refund in pending],
            "recent": recent,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/django_doku_checkout/order/refund_form.html", context)

    def _refund(
        self, request: HttpRequest, order: Order, form: RefundForm, *, by_api: bool
    ) -> HttpResponseRedirect | None:
        """Refund (or record) what the valid form asks; None when the service refused before anything was made."""
        data = form.cleaned_data
        # Ticking "This is another refund" confirms the refunds the form listed, and only those.
        seen = None if data.get("again") else data.get("seen") or 0
        # A card is refunded at DOKU; any other channel DOKU refunded on a support request, and it is recorded.
        make = (
            services.refund_payment if by_api else partial(services.record_manual_refund, reference=data["reference"])
        )
        try:
            refund = make(
                order,
                data["amount"],
                reason=data["reason"],
                actor=request.user,
                key=data["key"],
                last_refund_seen=seen,
            )
        except services.RefundedMeanwhile as err:
            # The form is out of date: a new one lists the refund made meanwhile and asks first.
            self.message_user(request, str(err), messages.WARNING)
            return HttpResponseRedirect(self._url("refund", order.pk))
        except services.RefundNotAllowed as err:
            form.add_error(None, str(err))
            return None
        except DokuError:
            # DOKU refused (failed), or did not answer (pending): the refund says which.
            refund = Refund.objects.get(idempotency_key=data["key"])
        return self._show(request, order, refund)

    def refund_resend_view(self, request: HttpRequest, object_id: str, refund_id: int) -> HttpResponse:
        """The Resend button of a refund pending at DOKU: the same Request-Id and bytes, refunded at most once."""
        order = self._refundable_order(request, object_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        refund = get_object_or_404(Refund, pk=refund_id, order=order)
        try:
            refund = services.resend_refund(refund)
        except DokuError:
            refund.refresh_from_db()
        order.refresh_from_db()
        level, text = operations.refund_state(refund, order)
        self.message_user(request, text, level)
        return HttpResponseRedirect(self._url("change", order.pk))

    @admin.action(permissions=["refund_payment"], description=gettext_lazy("Refund card payments in full at DOKU"))
    def refund_payments(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse:
        """Ask first, as Django's delete does: a page of what would be refunded; only its confirmation refunds.

        The confirmation carries a key and the amount shown for each order, so confirming
        twice refunds once, and never more than staff saw.
        """
        context = {**self.admin_site.each_context(request), "opts": self.opts, "media": self.media}
        if request.POST.get("post") != "yes":
            plan = operations.refund_plan(queryset)
            context.update(
                {
                    "title": _("Refund card payments in full at DOKU?"),
                    "plan": [(item, new_key()) for item in plan],
                    "refundable": [item for item in plan if item.amount],
                    "selected": [item.order.pk for item in plan],
                }
            )
            return TemplateResponse(request, "admin/django_doku_checkout/order/refund_confirmation.html", context)
        confirmed = {}
        for order in queryset:
            key, amount = request.POST.get(f"key-{order.pk}", ""), request.POST.get(f"amount-{order.pk}", "")
            if key and amount.isdigit():
                confirmed[order.pk] = (key, int(amount))
        results = operations.refund_payments(
            queryset, actor=request.user, reason=_("Refunded in the admin."), confirmed=confirmed
        )
        context.update({"title": _("Refunds"), "results": results})
        return TemplateResponse(request, "admin/django_doku_checkout/order/action_report.html", context)

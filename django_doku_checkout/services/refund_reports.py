"""DOKU's word on a refund (a ``REFUNDED`` or ``VOIDED`` notification or status answer), matched to refunds by identity."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import uuid4

from django_doku_checkout.models import CheckoutSession, Notification, Order, Refund
from django_doku_checkout.services import states
from django_doku_checkout.services.refunds import REFUND, paying_link, record_success


def dokus_code(refund: Refund) -> str:
    """DOKU's approval code of ``refund``, once known ("" before).

    A refund staff recorded by hand keeps their back-office reference in ``doku_reference``;
    DOKU's code, learnt from DOKU's report of it, is kept with DOKU's word in ``response_body``.
    """
    if refund.method == Refund.Method.MANUAL:
        code = refund.response_body.get("approval_code") if isinstance(refund.response_body, dict) else None
        return code if isinstance(code, str) else ""
    return refund.doku_reference


def _remember_dokus_code(refund: Refund, code: str) -> None:
    """Name ``refund`` by DOKU's code from now on: its next repeat is known by it."""
    if refund.method == Refund.Method.MANUAL:
        refund.response_body = {**refund.response_body, "approval_code": code[:128]}
        refund.save(update_fields=["response_body", "updated_at"])
    else:
        refund.doku_reference = code[:128]
        refund.save(update_fields=["doku_reference", "updated_at"])


def apply_doku_refund(
    order: Order,
    link: CheckoutSession,
    *,
    status: str,
    refund_type: str,
    amount: int | None,
    reference: str = "",
    source: str,
    notification: Notification | None,
) -> str:
    """DOKU refunded or voided ``link``; record it for a locked ``order`` unless it is known; returns an outcome.

    Only the attempt that paid the order refunds it. A refund of another attempt (a second,
    duplicate payment) is flagged for review and never refunds the order; a ``VOIDED`` of an
    attempt that did not pay released an authorization, and is recorded only.

    DOKU's word is matched to refunds **by identity, never by amount**. ``reference`` is
    DOKU's ``refund.approval_code``: one naming a succeeded refund is a duplicate (DOKU
    repeats its last refund in every status answer, and retries notifications). A refund
    still ``requested`` is settled only by its own answer (:func:`refund_payment`,
    :func:`resend_refund`), never from here: while one may still be in flight this answers
    ``UNCONFIRMED`` (DOKU is answered 503 and sends it again, by when the API's answer has
    named it); after that, a report the app cannot attribute is flagged for staff with what
    DOKU said, and recorded nowhere else. With no refund requested, a report without a
    reference that repeats the amount of a succeeded refund is a duplicate; anything else is
    a refund made in DOKU's back office, recorded as one if it fits in what is left.

    The amount is ``refund.amount``; a ``VOID`` or ``FULL_REFUND`` without one is the whole
    paid amount. A ``REFUNDED`` without an amount refunds nothing by itself: it is flagged.
    """
    what = f"DOKU reported {status} ({refund_type or 'no type'}) for {link.invoice_number}"
    paying = paying_link(order) if order.money_taken else None
    if paying is None or paying.pk != link.pk:
        if status == "VOIDED":
            return Notification.Outcome.IGNORED  # an authorization released: no money was taken
        # A refund of a duplicate payment on another attempt, or of an order that is not paid:
        # the money is real, the order's status is not DOKU's to change here.
        states.flag_for_review(order, f"{what}, which did not pay the order; the order was not changed.")
        return Notification.Outcome.FLAGGED
    refunds = list(order.refunds.all())
    named = next((r for r in refunds if reference and dokus_code(r) == reference), None)
    if named is not None:
        return _named(order, named, what, reference)
    whole = refund_type in ("VOID", "FULL_REFUND")
    report = _Report(
        link=link,
        refund_type=refund_type,
        amount=amount if amount is not None else (order.amount if whole else None),
        reference=reference,
        what=what,
    )
    requested = [r for r in refunds if r.status == Refund.Status.REQUESTED]
    if requested:
        return _while_requested(order, requested, report)
    succeeded = [r for r in refunds if r.status == Refund.Status.SUCCEEDED]
    return _unnamed(order, succeeded, report, source=source, notification=notification)


def _named(order: Order, named: Refund, what: str, reference: str) -> str:
    """A report whose approval code names one of the order's refunds: a repeat, or staff's to decide."""
    if named.status == Refund.Status.SUCCEEDED:
        return Notification.Outcome.DUPLICATE
    # DOKU says it made a refund the books hold as failed (or requested with DOKU's code): staff decide.
    states.flag_for_review(
        order, f"{what}, approval code {reference}, which names refund {named.pk} recorded as {named.status}."
    )
    return Notification.Outcome.FLAGGED


@dataclass(frozen=True)
class _Report:
    """DOKU's report of a refund of the attempt that paid, named by no refund the books hold."""

    link: CheckoutSession
    refund_type: str
    #: What was refunded: DOKU's amount, the whole for a void or full refund, else None.
    amount: int | None
    reference: str
    what: str

    @property
    def told(self) -> str:
        amount = self.amount if self.amount is not None else "no amount"
        return f"{self.what} of {amount}" + (f", approval code {self.reference}" if self.reference else "")


def _while_requested(order: Order, requested: list[Refund], report: _Report) -> str:
    """A report while refunds are still ``requested``: it may be one of them, or another refund made meanwhile.

    Never settle one by its amount: wait for their API answer, which names them, or flag it.
    """
    if any(REFUND.stale_in(r) for r in requested):
        return Notification.Outcome.UNCONFIRMED  # its API answer is on its way and will name it
    ids = ", ".join(str(r.pk) for r in requested)
    states.flag_for_review(
        order,
        f"{report.told}, which cannot be told apart from refund(s) {ids} still waiting for DOKU's answer; "
        "nothing was recorded. Resend them: DOKU's answer settles each.",
    )
    return Notification.Outcome.FLAGGED


def _unnamed(
    order: Order, succeeded: list[Refund], report: _Report, *, source: str, notification: Notification | None
) -> str:
    """A report with no refund requested: a duplicate of a succeeded refund, or one made in DOKU's back office."""
    outcome = Notification.Outcome
    refunded = sum(r.amount for r in succeeded)
    wanted, reference = report.amount, report.reference
    if wanted is None:
        if refunded >= order.amount:
            return outcome.DUPLICATE  # all was refunded already: nothing more can have been
        states.flag_for_review(
            order, f"{report.told}; nothing was recorded: record the refund by hand from DOKU's back office."
        )
        return outcome.FLAGGED
    # A refund already known by another of DOKU's codes is another refund; one recorded by hand
    # carries the back office's reference (staff's text), which says nothing about DOKU's code.
    # A report with a code repeats only a refund DOKU has not named yet; it then names it, so
    # another refund of the same amount (another code) is never taken for it.
    same = next((r for r in succeeded if r.amount == wanted and not (reference and dokus_code(r))), None)
    if same is not None:
        if reference:
            _remember_dokus_code(same, reference)
        return outcome.DUPLICATE
    left = order.amount - refunded
    if not 0 < wanted <= left:
        states.flag_for_review(
            order, f"{report.told}, more than the {left} left to refund of {order.amount}; recorded for staff."
        )
        return outcome.FLAGGED
    refund = Refund.objects.create(
        order=order,
        checkout_session=report.link,
        amount=wanted,
        method=Refund.Method.DOKU,
        request_id=f"doku-{uuid4()}",
        refund_type=report.refund_type,
        doku_reference=reference[:128],
        notification=notification,
        reason=report.what,
    )
    record_success(order, refund, source=source, notification=notification)
    return outcome.PROCESSED

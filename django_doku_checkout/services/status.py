"""Status checks: asking DOKU's Status API about an order's newest attempt."""

from __future__ import annotations

from dataclasses import dataclass

from django_doku_checkout import payloads
from django_doku_checkout.client import DokuClient, error_messages
from django_doku_checkout.exceptions import DokuAPIError
from django_doku_checkout.models import CheckoutSession, Notification, Order, OrderEvent
from django_doku_checkout.services.link_reads import newest_link
from django_doku_checkout.services.settlement import PaymentResult, apply_payment_result, parse_payment_result


def fetch_status(link: CheckoutSession, *, client: DokuClient | None = None) -> PaymentResult:
    """DOKU's Status API answer for one payment attempt; raises DokuAPIError when it names another.

    Call it with no transaction open: it waits for DOKU.
    """
    response = (client or DokuClient()).get_status(link.invoice_number)
    data = payloads.loads(response.content) if response.content else response.data
    if isinstance(data, dict) and data.get("error"):
        # DOKU's own plugins read a 200 with an "error" key as "not found".
        raise DokuAPIError(
            status_code=response.status_code,
            messages=error_messages(data) or ["DOKU answered with an error"],
            request_id=response.request_id,
            body=data,
        )
    result = parse_payment_result(data)
    if result is None or result.invoice_number != link.invoice_number:
        raise DokuAPIError(
            status_code=response.status_code,
            messages=["DOKU's status answer has no matching order.invoice_number and transaction.status"],
            request_id=response.request_id,
            body=response.data,
        )
    return result


@dataclass(frozen=True)
class StatusCheck:
    """The result of :func:`check_status`: DOKU's transaction status and what it changed."""

    order: Order
    transaction_status: str
    outcome: str


def check_status(order: Order, *, client: DokuClient | None = None) -> StatusCheck:
    """Ask DOKU's Status API about the order's newest attempt and apply the answer.

    Uses the same rules as a notification. A 404 means DOKU has no transaction yet. DOKU is
    asked with no transaction open; the answer is applied in a short one afterwards.
    """
    link = newest_link(order)
    if link is None:
        return StatusCheck(order, "NO_PAYMENT_LINK", Notification.Outcome.IGNORED)
    try:
        result = fetch_status(link, client=client)
    except DokuAPIError as err:
        if err.status_code == 404:
            return StatusCheck(order, "NOT_FOUND", Notification.Outcome.IGNORED)
        raise
    outcome = apply_payment_result(link, result, source=OrderEvent.Source.STATUS_CHECK)
    order.refresh_from_db()
    return StatusCheck(order, result.transaction_status, outcome)

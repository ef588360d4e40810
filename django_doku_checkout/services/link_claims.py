"""A payment link's claim (:mod:`.claims`): its ``creating`` row, the call that sends it, and how DOKU's answer is recorded."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.utils import timezone

from django_doku_checkout import payloads
from django_doku_checkout.client import DokuClient, DokuResponse
from django_doku_checkout.exceptions import DokuAPIError, DokuError
from django_doku_checkout.models import Actor, CheckoutSession, Order, OrderEvent, OrderStatus
from django_doku_checkout.redaction import redact
from django_doku_checkout.services import states
from django_doku_checkout.services.cancellations import cancel_withdrawn_link
from django_doku_checkout.services.claims import Answer, Claim, ClaimedCall
from django_doku_checkout.services.link_reads import BODIES, current_link
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.services.unit_of_work import Writes

_URL_KEYS = {CheckoutSession.Kind.CHECKOUT: "payment", CheckoutSession.Kind.CARD_PAGE: "credit_card_payment_page"}


@dataclass(frozen=True)
class LinkClaim(Claim):
    """A link's claim: a committed ``creating`` row, sent with its Request-Id and exact bytes."""

    @property
    def link(self) -> CheckoutSession:
        link: CheckoutSession = self.row
        return link


def _call(client: DokuClient, claim: LinkClaim) -> DokuResponse:
    if claim.link.kind == CheckoutSession.Kind.CARD_PAGE:
        return client.create_card_payment_page(claim.body, request_id=claim.request_id)
    return client.create_checkout_payment(claim.body, request_id=claim.request_id)


#: A link or card page: its claim is its ``creating`` row.
CREATE_LINK = ClaimedCall(
    in_flight=lambda: CheckoutSession.objects.filter(status=CheckoutSession.Status.CREATING).defer(*BODIES),
    call=_call,
    claim_type=LinkClaim,
)


def _store_response(link: CheckoutSession, response: DokuResponse) -> None:
    url_key = _URL_KEYS[CheckoutSession.Kind(link.kind)]
    # Checkout nests the link under "response"; the card page answers it at the top level.
    wrapped = response.data.get("response")
    container = wrapped if isinstance(wrapped, dict) and url_key in wrapped else response.data
    section = container.get(url_key)
    section = section if isinstance(section, dict) else {}
    payment_url = section.get("url")
    link.response_body = redact(response.data)
    if not isinstance(payment_url, str) or not payment_url.startswith(("https://", "http://")):
        raise DokuAPIError(
            status_code=response.status_code,
            messages=[f"DOKU's answer has no response.{url_key}.url"],
            request_id=response.request_id,
            body=response.data,
        )
    link.payment_url = payment_url
    link.token_id = str(section.get("token_id") or "")
    expires_at = payloads.parse_doku_datetime(section.get("expired_date"))
    if expires_at is not None and not settings.USE_TZ:
        expires_at = timezone.make_naive(expires_at)  # a shop on naive local times stores them so
    link.expires_at = expires_at
    # With abandoned-cart recovery DOKU takes a payment after the expiry, for the window asked.
    window = payloads.recovery_window(link.request_body.get("order") if isinstance(link.request_body, dict) else None)
    link.recoverable_until = expires_at + window if expires_at is not None and window is not None else None


@dataclass(frozen=True)
class Recorded:
    """What recording DOKU's answer to a link's claim left: the order and the link as recorded, and DOKU's refusal if any."""

    order: Order
    link: CheckoutSession
    failure: DokuError | None = None
    #: The link was withdrawn while DOKU was asked (the order was cancelled or changed).
    withdrawn: bool = False


#: What recording DOKU's answer changes on a claimed link; the request it sent stays as it was.
_RECORDED_FIELDS = (
    "status",
    "payment_url",
    "token_id",
    "expires_at",
    "recoverable_until",
    "response_body",
    "error_message",
    "request_payload",
    "updated_at",
)


def _record(claim: LinkClaim, answer: Answer, *, actor: Actor) -> Recorded:
    """Store DOKU's answer on the claimed row, with its order locked; the order becomes pending.

    The link is read once the order is locked (the order's lock guards its links), so what
    happened to the claim while DOKU was asked is known: still a claim, withdrawn (the order
    was cancelled or its amount changed), or recorded by another process that took it over.
    """
    locked = locked_rows(Order.objects).get(pk=claim.link.order_id)
    current = current_link(locked, pk=claim.link.pk)
    if current.status not in (CheckoutSession.Status.CREATING, CheckoutSession.Status.CANCELLED):
        return Recorded(locked, current)  # another process recorded this claim's answer
    link, failure = claim.link, answer.failure
    link.request_payload = ""
    if answer.response is not None:
        try:
            _store_response(link, answer.response)
        except DokuAPIError as err:
            failure = err
    if failure is not None:
        link.error_message = str(failure)
    # Withdrawn while DOKU was asked: DOKU's answer is recorded, the link never handed out.
    cancelled_meanwhile = current.status == CheckoutSession.Status.CANCELLED
    withdrawn = cancelled_meanwhile or locked.status in states.UNPAYABLE
    if failure is not None and not cancelled_meanwhile:
        link.status = CheckoutSession.Status.ERROR
    else:
        link.status = CheckoutSession.Status.CANCELLED if withdrawn else CheckoutSession.Status.OPEN
    writes = Writes()
    # The claim's own copy has the rest of the row; the request it sent stays as it was.
    writes.save(link, _RECORDED_FIELDS)
    opened = failure is None and not withdrawn
    if opened and locked.status != OrderStatus.PENDING:
        states.transition(
            locked,
            OrderStatus.PENDING,
            source=_event_source(actor),
            actor=actor,
            note=_created_note(link),
            writes=writes,
        )
    writes.flush()
    if failure is not None:
        return Recorded(locked, link, failure)
    return Recorded(locked, link, withdrawn=withdrawn)


def _event_source(actor: Actor) -> str:
    return OrderEvent.Source.ADMIN if actor is not None else OrderEvent.Source.SHOPPER


def _created_note(link: CheckoutSession) -> str:
    return f"{link.get_kind_display()} {link.invoice_number} created."


def complete(claim: LinkClaim, *, client: DokuClient | None, actor: Actor) -> Recorded:
    """Send a committed claim to DOKU with no transaction open, then record the answer."""
    answer = CREATE_LINK.send(claim, client)
    recorded = CREATE_LINK.record(claim, answer, partial(_record, actor=actor))
    if recorded.withdrawn:
        cancel_withdrawn_link(recorded.link, client=client)  # nothing is locked any more
    return recorded

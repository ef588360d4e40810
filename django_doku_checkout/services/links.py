"""Payment links: DOKU Checkout sessions and card payment pages.

No transaction is open while DOKU is asked. Creating a link takes the three short steps of
the claim protocol (:mod:`.claims`, shared with refunds and cancellations):

1. **Claim**, with the order's row locked: hand out the order's live link if it has one,
   wait while another request's claim is in flight, or record the attempt as a
   ``CheckoutSession`` in the ``creating`` state with its own Request-Id, and commit.
2. **Call** DOKU with nothing locked, bounded by the ``DEADLINE`` setting.
3. **Record** DOKU's answer on the claimed row, with the order locked again, and mark the
   order pending.

Double clicks and two staff members at once therefore see one claim and end with the same
link. A request that finds another's claim in flight waits for its answer at most
:data:`CLAIM_WAIT` seconds, then gives up with :class:`LinkInProgress` (the shopper is asked
to retry in a few seconds): a click never waits out a worker's timeout. A claim older than
:func:`claim_ttl` belongs to a process that died or gave up: the next attempt that finds it
so at its first look, or reconciliation, sends the same request again with the same
Request-Id, and DOKU answers 409 with its original response when it had already created the
link. A request that has already waited, or called DOKU once, sends nothing more (no
takeover, no new claim): DOKU's whole answer (``DEADLINE``) would not fit in what is left of
its time; it raises :class:`LinkInProgress` and the retry sends it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from django_doku_checkout import payloads
from django_doku_checkout.client import DokuClient, DokuResponse
from django_doku_checkout.conf import get_config
from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.exceptions import (
    API_ERROR_PREFIX,
    DokuAPIError,
    DokuConfigurationError,
    DokuError,
    LinkInProgress,
    RecentLinkFailure,
)
from django_doku_checkout.models import Actor, CheckoutSession, Order, OrderEvent, OrderStatus
from django_doku_checkout.redaction import redact
from django_doku_checkout.services import states
from django_doku_checkout.services.cancellations import cancel_withdrawn_link
from django_doku_checkout.services.claims import RESEND_LIMIT, Answer, Claim, ClaimedCall, claim_ttl
from django_doku_checkout.services.locking import guarded, locked_rows
from django_doku_checkout.services.orders import OrderNotPayable, lock_payable
from django_doku_checkout.services.unit_of_work import Writes, insert

logger = logging.getLogger(__name__)

#: A link this close to DOKU's expiry is not handed to a shopper again.
REUSE_MARGIN = timedelta(minutes=2)
#: A link's stored request and response: for people reading the admin, never for decisions,
#: so reads that decide leave them out (they are the largest columns).
BODIES = ("request_body", "response_body")
#: How often a request waiting for another's claim looks again, in seconds.
CLAIM_POLL_INTERVAL = 0.1
#: How often a claim may lose its invoice number to another order's at the same moment.
MAX_INVOICE_COLLISIONS = 5
#: How long a request waits for another's claim before it answers "try again" (seconds).
#: DOKU creates a link in a second or two, so a double click usually gets the other click's
#: link within this. A request that waited sends nothing itself, so a click takes at most
#: this or one DEADLINE, never both: below a worker's timeout (gunicorn's default is 30 s,
#: DEADLINE's upper bound 29 s).
CLAIM_WAIT = 4.0
#: The longest Retry-After given while another request's claim is in flight (seconds): that
#: request has usually recorded its link by then, and a retry meanwhile is cheap.
CLAIM_RETRY_AFTER = 5

_URL_KEYS = {CheckoutSession.Kind.CHECKOUT: "payment", CheckoutSession.Kind.CARD_PAGE: "credit_card_payment_page"}


# --- building the request --------------------------------------------------------------------------


def _absolute_url(path: str, request: HttpRequest | None) -> str:
    # SITE_URL first: with a permissive ALLOWED_HOSTS, the request's Host header would
    # choose where DOKU sends the shopper after paying.
    site_url = get_config().site_url
    if site_url:
        return site_url + path
    if request is not None:
        return request.build_absolute_uri(path)
    raise DokuConfigurationError(
        "DOKU_CHECKOUT['SITE_URL'] must be set to build callback URLs outside a request, "
        "e.g. 'https://shop.example.com'."
    )
    return site_url + path


def _doku_language() -> str:
    return "ID" if (translation.get_language() or "").lower().startswith("id") else "EN"


def _line_items(order: Order) -> list[payloads.LineItemData]:
    return [
        payloads.LineItemData(
            id=item.item_id or None,
            name=item.name,
            price=item.price,
            quantity=item.quantity,
            sku=item.sku or None,
            category=item.category or None,
            url=item.url or None,
            image_url=item.image_url or None,
            type=item.item_type or None,
        )
        for item in guarded(order.line_items.all(), order)
    ]


def _customer(order: Order) -> payloads.CustomerData | None:
    customer = payloads.CustomerData(
        id=order.customer_id or None,
        name=order.customer_name or None,
        last_name=order.customer_last_name or None,
        email=order.customer_email or None,
        phone=payloads.normalize_phone(order.customer_phone) if order.customer_phone else None,
        address=order.customer_address or None,
        postcode=order.customer_postcode or None,
        state=order.customer_state or None,
        city=order.customer_city or None,
        country=order.customer_country or None,
    )
    return customer if any(vars(customer).values()) else None


def build_checkout_data(
    order: Order,
    *,
    invoice_number: str,
    request: HttpRequest | None = None,
) -> payloads.CheckoutData:
    """The Checkout request for ``order``, with absolute callback URLs to this app's views."""
    config = get_config()
    public_id = str(order.public_id)
    methods = list(order.payment_method_types) or list(config.payment_method_types)
    # DOKU Wallet reports its payments to a URL of its own; with every channel offered
    # (no list) it may be picked, so it is pointed at this app's notification endpoint.
    wallet_url = config.doku_wallet_notify_url or (
        _absolute_url(reverse("doku_checkout:notification"), request)
        if not methods or "EMONEY_DOKU" in methods
        else None
    )
    return payloads.CheckoutData(
        invoice_number=invoice_number,
        amount=order.amount,
        currency=order.currency,
        line_items=_line_items(order),
        callback_url=_absolute_url(reverse("doku_checkout:return", args=[public_id]), request),
        callback_url_cancel=_absolute_url(reverse("doku_checkout:cancel", args=[public_id]), request),
        callback_url_result=_absolute_url(reverse("doku_checkout:result", args=[public_id]), request),
        language=_doku_language(),
        auto_redirect=config.auto_redirect,
        payment_due_date=config.payment_due_date if order.payment_due_date is None else order.payment_due_date,
        payment_method_types=methods,
        doku_wallet_notify_url=wallet_url,
        allow_tenor=list(order.allow_tenor) or None,
        recover_abandoned_cart=order.recover_abandoned_cart,
        expired_recovered_cart=order.expired_recovered_cart,
        disable_retry_payment=order.disable_retry_payment,
        account_id=order.sub_account_id or config.sub_account_id,
        customer=_customer(order),
        shipping_address=payloads.AddressData(**order.shipping_address) if order.shipping_address else None,
        billing_address=payloads.AddressData(**order.billing_address) if order.billing_address else None,
    )


def _checkout_body(order: Order, invoice_number: str, request: HttpRequest | None) -> dict[str, Any]:
    body = payloads.build_checkout_body(build_checkout_data(order, invoice_number=invoice_number, request=request))
    hook = get_config().checkout_body_hook
    if hook:
        # The shop's last word on the body, for anything DOKU adds that this app does not set.
        # It runs before validation, so its changes are checked against DOKU's rules too.
        body = import_string(hook)(order, body)
    result = payloads.validate_checkout_body(body)
    for warning in result.warnings:
        logger.warning("Order %s: %s", order.invoice_number, warning)
    result.raise_for_errors()
    return body


def _card_page_body(
    order: Order,
    invoice_number: str,
    request: HttpRequest | None,
    theme: payloads.CardPageTheme | None,
) -> dict[str, Any]:
    config = get_config()
    # DOKU's card page sends the shopper to one URL whatever happened; the result page shows which.
    result_url = _absolute_url(reverse("doku_checkout:result", args=[str(order.public_id)]), request)
    body = payloads.build_card_page_body(
        payloads.CardPageData(
            invoice_number=invoice_number,
            amount=order.amount,
            line_items=_line_items(order),
            callback_url=result_url,
            failed_url=result_url,
            session_id=invoice_number,
            customer=_customer(order) or payloads.CustomerData(),
            auto_redirect=config.auto_redirect,
            theme=theme or payloads.CardPageTheme(language=_doku_language(), **config.card_page_theme),
        )
    )
    payloads.validate_card_page_body(body).raise_for_errors()
    return body


def _taken(invoice_number: str, order: Order, *, ask_links: bool) -> bool:
    """Whether another attempt, or another order, already uses ``invoice_number`` at DOKU.

    ``ask_links=False`` leaves the links out: their unique invoice number refuses the claim
    if one has it, and the claim is chosen again, asking them this time.
    """
    if ask_links and CheckoutSession.objects.filter(invoice_number=invoice_number).exists():
        return True
    # An order's own invoice number is unique among orders: only a suffixed one can be another's.
    return (
        invoice_number != order.invoice_number
        and Order.objects.filter(invoice_number=invoice_number).exclude(pk=order.pk).exists()
    )


def _next_invoice_number(order: Order, *, attempts: int, ask_links: bool = True) -> str:
    """The invoice number of the order's next attempt: its own first, then the first free suffix.

    DOKU's handling of a reused invoice number is undocumented, so every attempt gets its
    own: INV-1, INV-1-2, INV-1-3 ... skipping any another order already uses (an order
    ``SO-1-2`` next to ``SO-1``). An invoice number without symbols keeps none, for Kartu
    Kredit Indonesia: INV1, INV1R2, INV1R3 ...
    """
    separator = "-" if payloads.has_symbols(order.invoice_number) else "R"
    number = attempts + 1
    candidate = order.invoice_number if attempts == 0 else f"{order.invoice_number}{separator}{number}"
    while _taken(candidate, order, ask_links=ask_links):
        number += 1
        candidate = f"{order.invoice_number}{separator}{number}"
    return candidate


# --- reading links -----------------------------------------------------------------------------------


def payment_url_allowed(url: str) -> bool:
    """Whether ``url`` may be shown to or followed by anyone: DOKU's own https hosts or the configured API origin.

    Parsed strictly, so no browser reads it differently: no user info (``https://evil@pay.doku.com``
    means nothing good), no backslash or control character, no other port.
    """
    if not isinstance(url, str) or any(char in url for char in "\\\r\n\t ") or "@" in url.split("?")[0]:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = parts.hostname or ""
    if parts.scheme == "https" and (host == "doku.com" or host.endswith(".doku.com")) and port in (None, 443):
        return True
    api = urlsplit(get_config().api_base_url)
    return bool(host) and (parts.scheme, parts.netloc) == (api.scheme, api.netloc)


def newest_link(order: Order) -> CheckoutSession | None:
    """The order's newest link DOKU created (failed attempts and claims left out), whatever its status."""
    return order.checkout_sessions.exclude(
        status__in=(CheckoutSession.Status.ERROR, CheckoutSession.Status.CREATING)
    ).first()


def live_link(order: Order, links: Iterable[CheckoutSession] | None = None) -> CheckoutSession | None:
    """The order's newest Checkout link a shopper can still pay on, if any.

    ``links`` are the order's links, newest first, when the caller has already read them.
    """
    cutoff = timezone.now() + REUSE_MARGIN
    for link in order.checkout_sessions.defer(*BODIES) if links is None else links:
        if (
            link.kind == CheckoutSession.Kind.CHECKOUT
            and link.status == CheckoutSession.Status.OPEN
            and link.payment_url
            and link.expires_at is not None
            and link.expires_at > cutoff
        ):
            return link
    return None


def current_link(locked: Order, **lookup: Any) -> CheckoutSession:
    """A link of the ``locked`` order, read after its lock was taken, so current (the order's lock guards its links)."""
    return guarded(CheckoutSession.objects.defer(*BODIES), locked).get(**lookup)


# --- claim, call, record (the protocol is :mod:`.claims`) ----------------------------------------


@dataclass(frozen=True)
class _Claim(Claim):
    """A link's claim: a committed ``creating`` row, sent with its Request-Id and exact bytes."""

    @property
    def link(self) -> CheckoutSession:
        link: CheckoutSession = self.row
        return link


def _call(client: DokuClient, claim: _Claim) -> DokuResponse:
    if claim.link.kind == CheckoutSession.Kind.CARD_PAGE:
        return client.create_card_payment_page(claim.body, request_id=claim.request_id)
    return client.create_checkout_payment(claim.body, request_id=claim.request_id)


#: A link or card page: its claim is its ``creating`` row.
CREATE_LINK = ClaimedCall(
    in_flight=lambda: CheckoutSession.objects.filter(status=CheckoutSession.Status.CREATING).defer(*BODIES),
    call=_call,
    claim_type=_Claim,
)


@dataclass(frozen=True)
class _InFlight:
    """Nothing this request may send now: another request's claim is in flight or, once this
    request has waited or called DOKU, a stale claim or none at all."""

    #: How long until the claim turns stale; zero when there is nothing left to wait for.
    stale_in: timedelta


#: What one look at the order under its lock found: a live link, a claim to send, or another
#: request's claim in flight.
_Step = CheckoutSession | _Claim | _InFlight

#: Builds the body to send for (the locked order, the attempt's invoice number).
BodyBuilder = Callable[[Order, str], dict[str, Any]]


def _refuse_while_recently_failed(links: list[CheckoutSession], retry_after: int) -> None:
    """Raise :class:`RecentLinkFailure` when the newest attempt failed less than ``retry_after`` seconds ago."""
    if not retry_after or not links or links[0].status != CheckoutSession.Status.ERROR:
        return
    remaining = links[0].updated_at + timedelta(seconds=retry_after) - timezone.now()
    if remaining > timedelta(0):
        raise RecentLinkFailure(
            f"The last attempt for {links[0].invoice_number} failed moments ago: {links[0].error_message}",
            doku_answered=links[0].error_message.startswith(API_ERROR_PREFIX),
            retry_after=max(1, int(remaining.total_seconds() + 0.999)),
        )


def _lock_with_links(order: Order) -> tuple[Order, list[CheckoutSession]]:
    """The order locked and payable, and its links newest first.

    The links are read in a statement of their own once the lock is held: a statement sees
    only what was committed when it began, so links read while waiting for the lock would
    miss a claim inserted by the transaction it waited for (and a second link would be
    made). Every change to a link is made with its order locked, so this read is current.
    """
    locked = lock_payable(order)
    return locked, list(guarded(locked.checkout_sessions.defer(*BODIES), locked))


def _claim(
    order: Order,
    *,
    kind: str,
    build: BodyBuilder,
    ttl: timedelta,
    retry_after: int = 0,
    ask_links: bool = True,
    may_send: bool = True,
) -> _Step:
    # One read of the order's links answers all four: is one live, is one being created,
    # did the last one just fail, and how many were tried.
    locked, links = _lock_with_links(order)
    if kind == CheckoutSession.Kind.CHECKOUT:
        live = live_link(locked, links)
        if live is not None:
            order.status, order.updated_at = locked.status, locked.updated_at  # the caller's copy learns
            return live
    _refuse_while_recently_failed(links, retry_after)
    now = timezone.now()
    for link in links:
        if link.status == CheckoutSession.Status.CREATING:
            stale_in = CREATE_LINK.stale_in(link, ttl, now)
            return CREATE_LINK.take_over(link) if may_send and not stale_in else _InFlight(stale_in)
    if not may_send:
        return _InFlight(timedelta(0))
    invoice_number = _next_invoice_number(locked, attempts=len(links), ask_links=ask_links)
    body = build(locked, invoice_number)
    attempt = CheckoutSession(
        order=locked,
        kind=kind,
        status=CheckoutSession.Status.CREATING,
        invoice_number=invoice_number,
        request_body=redact(body),
    )
    claim = CREATE_LINK.stake(attempt, body)
    insert(attempt)
    return claim


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


@dataclass(frozen=True)
class _Recorded:
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
    "response_body",
    "error_message",
    "request_payload",
    "updated_at",
)


def _record(claim: _Claim, answer: Answer, *, actor: Actor) -> _Recorded:
    """Store DOKU's answer on the claimed row, with its order locked; the order becomes pending.

    The link is read once the order is locked (the order's lock guards its links), so what
    happened to the claim while DOKU was asked is known: still a claim, withdrawn (the order
    was cancelled or its amount changed), or recorded by another process that took it over.
    """
    locked = locked_rows(Order.objects).get(pk=claim.link.order_id)
    current = current_link(locked, pk=claim.link.pk)
    if current.status not in (CheckoutSession.Status.CREATING, CheckoutSession.Status.CANCELLED):
        return _Recorded(locked, current)  # another process recorded this claim's answer
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
        return _Recorded(locked, link, failure)
    return _Recorded(locked, link, withdrawn=withdrawn)


def _event_source(actor: Actor) -> str:
    return OrderEvent.Source.ADMIN if actor is not None else OrderEvent.Source.SHOPPER


def _created_note(link: CheckoutSession) -> str:
    return f"{link.get_kind_display()} {link.invoice_number} created."


def _complete(claim: _Claim, *, client: DokuClient | None, actor: Actor) -> _Recorded:
    """Send a committed claim to DOKU with no transaction open, then record the answer."""
    answer = CREATE_LINK.send(claim, client)
    recorded = CREATE_LINK.record(claim, answer, partial(_record, actor=actor))
    if recorded.withdrawn:
        cancel_withdrawn_link(recorded.link, client=client)  # nothing is locked any more
    return recorded


def _obtain_link(
    order: Order,
    *,
    kind: str,
    build: BodyBuilder,
    client: DokuClient | None,
    actor: Actor,
    retry_after: int = 0,
) -> CheckoutSession:
    ttl = claim_ttl()
    collisions = 0
    started = time.monotonic()
    first_look = True
    while True:
        try:
            # The first try lets the links' unique invoice number catch a collision, rather
            # than ask about it on every link: collisions are rare (see _next_invoice_number).
            step = atomic_with_retry(
                partial(
                    _claim,
                    order,
                    kind=kind,
                    build=build,
                    ttl=ttl,
                    retry_after=retry_after,
                    ask_links=collisions > 0,
                    # Only a request that has spent none of its time yet (no wait, no call to
                    # DOKU) has DEADLINE left for DOKU's whole answer to a claim it sends.
                    may_send=first_look,
                )
            )
        except IntegrityError:
            # Another attempt has the invoice number, or took it just now: choose again, a few times.
            collisions += 1
            if collisions > MAX_INVOICE_COLLISIONS:
                raise
            continue
        first_look = False
        if isinstance(step, _InFlight):
            # Another request is asking DOKU for this order's link: wait a little for its
            # answer, then ask the caller to come back rather than hold a worker until the
            # claim turns stale (its process may have died: a later first look takes it over).
            # With nothing left to wait for, the caller comes back at once: its next first
            # look sends what this request no longer has the time to.
            if not step.stale_in or time.monotonic() - started + CLAIM_POLL_INTERVAL > CLAIM_WAIT:
                raise _in_progress(order, step.stale_in)
            time.sleep(CLAIM_POLL_INTERVAL)
            continue
        if isinstance(step, CheckoutSession):
            return step
        recorded = _complete(step, client=client, actor=actor)
        if not step.own:
            taken = recorded.link
            if (
                recorded.failure is None
                and not recorded.withdrawn
                and taken.kind == kind == CheckoutSession.Kind.CARD_PAGE
            ):
                # Card pages are never reused from the order's links: this one is the answer.
                order.status, order.updated_at = recorded.order.status, recorded.order.updated_at
                return taken
            continue  # a stale claim was settled; look at the order again (its live link, or why not)
        if recorded.failure is not None:
            raise recorded.failure
        if recorded.withdrawn:
            if recorded.order.status in states.UNPAYABLE:
                raise OrderNotPayable(
                    gettext("Order %(invoice)s is %(status)s.")
                    % {"invoice": recorded.order.invoice_number, "status": recorded.order.get_status_display().lower()}
                )
            continue  # the amount changed while DOKU was asked: a link for the new amount
        order.status, order.updated_at = recorded.order.status, recorded.order.updated_at
        return recorded.link


def _in_progress(order: Order, stale_in: timedelta) -> LinkInProgress:
    wait = min(CLAIM_RETRY_AFTER, max(1, int(stale_in.total_seconds() + 0.999)))
    return LinkInProgress(
        gettext("The payment link for order %(invoice)s is still being prepared. Please try again in %(seconds)d s.")
        % {"invoice": order.invoice_number, "seconds": wait},
        retry_after=wait,
    )


def create_payment_link(
    order: Order,
    *,
    request: HttpRequest | None = None,
    client: DokuClient | None = None,
    actor: Actor = None,
    retry_failed_after: int = 0,
) -> CheckoutSession:
    """Return a DOKU Checkout link (a ``CheckoutSession``) the shopper can pay on, reusing a live one.

    No lock is held while DOKU is asked (see the module's docstring): double clicks and two
    staff members at once still end with one live link. A failed attempt is recorded on
    a link with status ``error`` and the error is raised; the order stays payable.
    With ``retry_failed_after`` seconds, an attempt that failed more recently than that is
    not repeated: :class:`RecentLinkFailure` is raised and nothing is recorded (the shopper's
    views pass ``FAILED_LINK_RETRY_AFTER``, so unauthenticated requests cannot grow the
    table while DOKU is down).
    While another request is asking DOKU for the order's link, this one waits for it at most
    :data:`CLAIM_WAIT` seconds, then raises :class:`LinkInProgress` with a ``retry_after``.
    Raises :class:`OrderNotPayable`, :class:`DokuValidationError`, :class:`DokuAPIError`,
    :class:`DokuTransportError`, :class:`RecentLinkFailure` or :class:`LinkInProgress`.
    """
    return _obtain_link(
        order,
        kind=CheckoutSession.Kind.CHECKOUT,
        build=lambda locked, invoice_number: _checkout_body(locked, invoice_number, request),
        client=client,
        actor=actor,
        retry_after=retry_failed_after,
    )


def create_card_payment_page(
    order: Order,
    *,
    request: HttpRequest | None = None,
    theme: payloads.CardPageTheme | None = None,
    client: DokuClient | None = None,
    actor: Actor = None,
) -> CheckoutSession:
    """Create a card-only DOKU payment page for ``order`` (``POST /credit-card/v1/payment-page``).

    DOKU requires every customer field here (id, name, email, phone, address, country);
    a missing one raises :class:`DokuValidationError` naming it, before anything is sent.
    """
    return _obtain_link(
        order,
        kind=CheckoutSession.Kind.CARD_PAGE,
        build=lambda locked, invoice_number: _card_page_body(locked, invoice_number, request, theme),
        client=client,
        actor=actor,
    )


def resolve_stale_claims(*, limit: int = RESEND_LIMIT, client: DokuClient | None = None) -> int:
    """Send claims whose process died again, with their Request-Id; returns how many were settled.

    DOKU answers a Request-Id it has seen with its original response (HTTP 409), so a link
    it created is recorded, and one it never saw is created now. The oldest first, at most
    ``limit`` a run; one that cannot be recorded (a shop's save hook failing, say) is logged
    and left for the next run, never stopping the others. Reconciliation runs this.
    """
    settled = 0
    for claim in CREATE_LINK.stale_claims(limit=limit):
        try:
            _complete(claim, client=client, actor=None)
        except Exception:
            logger.exception(
                "Stale claim %s of order %s: not settled, tried again next run",
                claim.link.invoice_number,
                claim.link.order_id,
            )
            continue
        settled += 1
    return settled

"""The claim protocol: every call to DOKU that creates or moves money, written once.

Payment links, card pages, refunds and cancellations reach DOKU in three short steps:

1. **Claim**: with the order's row locked, the service puts a new Request-Id and the exact
   bytes of its request on the row that stands for the call (:meth:`ClaimedCall.stake`), and
   the transaction commits. Whatever happens next, the row says what was asked and how.
2. **Call** DOKU with nothing locked and no transaction open, within the ``DEADLINE``
   setting (:meth:`ClaimedCall.send`).
3. **Record** DOKU's answer in a short transaction that locks the order first
   (:meth:`ClaimedCall.record`).

A claim whose answer is not recorded yet is *in flight*. One untouched for longer than
:func:`claim_ttl` belongs to a process that died or gave up: it is *taken over*
(:meth:`ClaimedCall.take_over`, :meth:`ClaimedCall.stale_claims`), renewed so no one else
takes it too, and its bytes are sent again with its Request-Id. DOKU answers a Request-Id it
has seen with its first answer (HTTP 409, which the client marks ``replayed``), and that
answer is recorded like the first: a resend never creates, refunds or cancels twice.

A service says only what differs (a :class:`ClaimedCall`): which rows are its claims in
flight, which client method sends one, where the row keeps its Request-Id, bytes and claim
time, and (a function given to :meth:`ClaimedCall.record`) how an answer is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar
from uuid import uuid4

from django.db.models import Q, QuerySet
from django.utils import timezone

from django_doku_checkout import payloads
from django_doku_checkout.client import DokuClient, DokuResponse
from django_doku_checkout.conf import DokuCheckoutSettings, get_config
from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.exceptions import DokuAPIError, DokuError
from django_doku_checkout.models import Order
from django_doku_checkout.services.locking import guarded, locked_rows
from django_doku_checkout.services.unit_of_work import Writes

#: How long past the call's deadline a claim is still taken to be in flight.
CLAIM_GRACE = timedelta(seconds=5)
#: How many stale claims of one kind a reconciliation run sends again, at most.
RESEND_LIMIT = 20

T = TypeVar("T")


def claim_ttl(config: DokuCheckoutSettings | None = None) -> timedelta:
    """How long a claim in flight is honoured: the call's deadline and a grace period."""
    return timedelta(seconds=(config or get_config()).deadline) + CLAIM_GRACE


@dataclass(frozen=True)
class Claim:
    """A committed claim: its row, and the Request-Id and exact bytes to send (again) with it."""

    row: Any
    request_id: str
    payload: str
    #: False when this process took over another's stale claim instead of making its own.
    own: bool = True

    @property
    def body(self) -> dict[str, Any]:
        """The request, read back from its stored bytes (the client writes the same bytes again)."""
        body: dict[str, Any] = json.loads(self.payload)
        return body


C = TypeVar("C", bound=Claim)


@dataclass(frozen=True)
class Answer:
    """What one call got: DOKU's response (its 409 replay included), or the error raised instead."""

    response: DokuResponse | None
    failure: DokuError | None = None

    @property
    def settled(self) -> bool:
        """Whether DOKU decided (an answer or a refusal, which it repeats for this Request-Id).

        A transport error or a 5xx leaves it unknown whether DOKU acted: the claim stays in
        flight, to be sent again with its Request-Id.
        """
        return self.failure is None or (isinstance(self.failure, DokuAPIError) and self.failure.status_code < 500)


@dataclass(frozen=True)
class ClaimedCall(Generic[C]):
    """One kind of call to DOKU that goes through the claim protocol: what differs from the others."""

    #: The rows whose claim of this kind is in flight (sent, or about to be, with no answer recorded).
    in_flight: Callable[[], QuerySet[Any]]
    #: Sends a claim with the client's method for this call: ``(client, claim) -> response``.
    call: Callable[[DokuClient, C], DokuResponse]
    #: The class of this kind's claims (a :class:`Claim`, or a subclass naming its row).
    claim_type: type[C]
    #: Where the row keeps its Request-Id, its exact bytes and when it was last claimed.
    request_id_field: str = "request_id"
    payload_field: str = "request_payload"
    claimed_at_field: str = "updated_at"

    def stake(self, row: Any, body: dict[str, Any]) -> C:
        """Put a new Request-Id and ``body``'s exact bytes on ``row``, claimed now; the caller saves it
        in the transaction that locked the order, and commits before :meth:`send`."""
        request_id, payload = str(uuid4()), payloads.encode_body(body).decode()
        setattr(row, self.request_id_field, request_id)
        setattr(row, self.payload_field, payload)
        setattr(row, self.claimed_at_field, timezone.now())
        return self.claim_type(row, request_id, payload)

    def claim_of(self, row: Any, *, own: bool = True) -> C:
        """The claim a committed ``row`` holds."""
        return self.claim_type(row, getattr(row, self.request_id_field), getattr(row, self.payload_field), own)

    def stale_in(self, row: Any, ttl: timedelta | None = None, now: datetime | None = None) -> timedelta:
        """How long until ``row``'s claim turns stale (its process presumed dead); zero once it has."""
        claimed_at: datetime = getattr(row, self.claimed_at_field)
        ttl = claim_ttl() if ttl is None else ttl
        return max(claimed_at + ttl - (timezone.now() if now is None else now), timedelta(0))

    def take_over(self, row: Any) -> C:
        """Renew ``row``'s claim (call it with the order locked): this process sends it again, as it was."""
        setattr(row, self.claimed_at_field, timezone.now())
        writes = Writes()
        writes.save(row, [self.claimed_at_field])
        writes.flush()
        rows = guarded(type(row)._default_manager.all(), row)  # where the order's lock is held
        return self.claim_of(rows.get(pk=row.pk), own=False)

    def retake(self, row: Any, *, stale_before: datetime | None = None) -> C | None:
        """Take ``row``'s claim over in a transaction of its own, with its order locked; None when it is
        no longer in flight (its answer was recorded meanwhile) or, with ``stale_before``, was renewed since."""

        def take() -> C | None:
            locked = locked_rows(Order.objects).get(pk=row.order_id)
            current = guarded(self.in_flight(), locked).filter(pk=row.pk)
            if stale_before is not None:
                current = current.filter(**{f"{self.claimed_at_field}__lt": stale_before})
            found = current.first()
            return None if found is None else self.take_over(found)

        return atomic_with_retry(take)

    def stale_claims(self, *, where: Q | None = None, limit: int | None = None) -> Iterator[C]:
        """The claims in flight for longer than :func:`claim_ttl` (and matching ``where``), the oldest
        first, at most ``limit``; each is taken over just before it is yielded, so that it can be sent."""
        stale_before = timezone.now() - claim_ttl()
        rows = self.in_flight().filter(where or Q(), **{f"{self.claimed_at_field}__lt": stale_before})
        rows = rows.order_by(self.claimed_at_field, "pk")
        for row in list(rows[:limit] if limit is not None else rows):
            claim = self.retake(row, stale_before=stale_before)
            if claim is not None:
                yield claim

    def send(self, claim: C, client: DokuClient | None = None) -> Answer:
        """Call DOKU with the claim's bytes and Request-Id. Nothing may be locked: the call may take
        up to ``DEADLINE``. Any error of DOKU's or of the way there is returned, not raised."""
        try:
            return Answer(self.call(client or DokuClient(), claim))
        except DokuError as err:
            return Answer(None, err)

    def record(self, claim: C, answer: Answer, recorder: Callable[[C, Answer], T]) -> T:
        """Record ``answer`` with ``recorder`` in one short transaction; ``recorder`` locks the order
        first (:func:`.locking.locked_rows`), as every change to an order's rows does."""
        return atomic_with_retry(lambda: recorder(claim, answer))

    def complete(self, claim: C, recorder: Callable[[C, Answer], T], *, client: DokuClient | None = None) -> T:
        """:meth:`send` a committed claim, then :meth:`record` the answer."""
        return self.record(claim, self.send(claim, client), recorder)

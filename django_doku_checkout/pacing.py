"""A request rate shared by threads: how reconciliation stays within what DOKU allows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimit:
    """At most ``per_second`` calls of :meth:`wait` return in any second, across threads.

    Each caller is given the next free slot, ``1 / per_second`` after the one before, and
    sleeps until it (outside the lock). A quiet spell saves up no burst: slots never lie in
    the past.
    """

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be more than 0")
        self.interval = 1.0 / per_second
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)

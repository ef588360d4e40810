"""The app's signals as a test reads them (the ``signal_log`` fixture)."""

from __future__ import annotations

# Every signal the app sends, in the order its docs list them.
SIGNAL_NAMES = (
    "order_status_changed",
    "payment_succeeded",
    "payment_failed",
    "payment_expired",
    "payment_needs_review",
    "payment_refunded",
)


class SignalLog(list[tuple[str, str, str]]):
    """The signals received, read once the receivers a live server's requests deferred have run.

    A request's receivers run after its response was sent (``services.after_response``): a
    test that has its HTTP answer from the live server in this process may read the log
    before they ran. Every read waits for them first (at most 10 s).
    """

    def _settled(self) -> None:
        from django_doku_checkout.services import after_response

        assert after_response.wait_until_done(10), "receivers deferred after a response still running after 10 s"

    def __iter__(self):
        self._settled()
        return super().__iter__()

    def __len__(self) -> int:
        self._settled()
        return super().__len__()

    def __getitem__(self, index):
        self._settled()
        return super().__getitem__(index)

    def __eq__(self, other: object) -> bool:
        self._settled()
        return super().__eq__(other)

    __hash__ = None

    def __contains__(self, item: object) -> bool:
        self._settled()
        return super().__contains__(item)

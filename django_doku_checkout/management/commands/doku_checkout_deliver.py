"""``manage.py doku_checkout_deliver``: call again the signal receivers that failed and are due."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_doku_checkout.services.deliveries import deliver_due


class Command(BaseCommand):
    help = (
        "Call the shop's signal receivers (payment_succeeded and the others) that are due: those that failed, "
        "once their backoff has passed, those a request had no time left for, and those whose process died "
        "(after DELIVERY_LEASE). Safe to run from cron on several machines."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--all",
            action="store_true",
            dest="retry_all",
            help="Retry every failed delivery now, whatever its backoff, including those given up on.",
        )
        parser.add_argument("--limit", type=int, default=None, help="Deliver at most this many.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be 1 or more.")
        summary = deliver_due(retry_all=options["retry_all"], limit=options["limit"])
        if options["verbosity"] > 0:
            for delivery in summary.delivered:
                self.stdout.write(self.style.SUCCESS(f"{delivery.order}: {delivery.signal} -> {delivery.receiver}"))
            for delivery in summary.failed:
                self.stdout.write(
                    self.style.ERROR(f"{delivery.order}: {delivery.signal} -> {delivery.receiver} failed again")
                )
        self.stdout.write(f"Deliveries: {summary}")
        if summary.failed:
            # A non-zero exit makes cron and monitoring notice a receiver that keeps failing.
            given_up = summary.given_up()
            raise CommandError(
                f"{len(summary.failed)} delivery(ies) failed again: {len(summary.failed) - given_up} will be retried, "
                f"{given_up} given up on (fix the receiver, then retry with --all; doku_checkout_health reports them)."
            )

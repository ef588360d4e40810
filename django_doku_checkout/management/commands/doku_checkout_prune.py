"""``manage.py doku_checkout_prune``: delete old rejected notifications, remove old personal data."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_doku_checkout.services.retention import prune


class Command(BaseCommand):
    help = (
        "Delete rejected notifications older than KEEP_REJECTED_NOTIFICATIONS_DAYS and remove the customer's "
        "personal data from settled orders older than KEEP_PERSONAL_DATA_DAYS (their links and notifications "
        "too), and the record of reconciliation runs older than 30 days (the newest is kept). Orders, amounts and "
        "history are kept for the books. Run it daily from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would go; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = prune(dry_run=options["dry_run"])
        self.stdout.write(("Dry run, nothing changed: " if options["dry_run"] else "") + str(summary))

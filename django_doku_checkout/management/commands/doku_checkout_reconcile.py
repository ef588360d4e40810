"""``manage.py doku_checkout_reconcile``: apply what DOKU's Status API knows to pending orders."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_doku_checkout.reconciliation import ReconciledOrder, reconcile

#: Seconds between two progress lines.
PROGRESS_EVERY = 5.0


class Command(BaseCommand):
    help = (
        "Check pending orders against DOKU's Status API and apply the answers: payments whose "
        "notification never arrived, and links that expired. Safe to run from cron on several machines."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min-age",
            type=int,
            default=5,
            metavar="MINUTES",
            help="Only orders unchanged for this many minutes (default 5), leaving fresh ones to notifications.",
        )
        parser.add_argument("--limit", type=int, default=None, help="Check at most this many orders.")
        parser.add_argument(
            "--invoice", action="append", default=[], dest="invoices", help="Only this invoice number (repeatable)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Ask DOKU, change nothing, show what would change.")
        parser.add_argument(
            "--workers",
            type=int,
            default=8,
            help="Ask DOKU about this many orders at once (default 8); 1 asks one after another.",
        )
        parser.add_argument(
            "--max-rate",
            type=float,
            default=None,
            metavar="PER_SECOND",
            help="Start at most this many requests to DOKU a second, across the workers (default: no limit).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["min_age"] < 0 or (options["limit"] is not None and options["limit"] < 1):
            raise CommandError("--min-age must be 0 or more and --limit 1 or more.")
        if options["workers"] < 1 or (options["max_rate"] is not None and options["max_rate"] <= 0):
            raise CommandError("--workers must be 1 or more and --max-rate more than 0.")
        started = last_shown = time.monotonic()
        checked = 0

        def progress(line: ReconciledOrder) -> None:
            nonlocal checked, last_shown
            checked += 1
            arrow = f"{line.old_status} -> {line.new_status}" if line.old_status != line.new_status else line.new_status
            style = {"failed": self.style.ERROR, "changed": self.style.SUCCESS}.get(line.outcome, str)
            self.stdout.write(style(f"{line.invoice_number}: {line.outcome} ({arrow}) {line.detail}"))
            now = time.monotonic()
            if now - last_shown >= PROGRESS_EVERY:
                # On stderr, so that a large run's order lines can go to a file while it is watched.
                last_shown = now
                self.stderr.write(f"Progress: {checked} order(s) checked, {checked / (now - started):.0f}/s")

        summary = reconcile(
            min_age=timedelta(minutes=options["min_age"]),
            limit=options["limit"],
            invoice_numbers=options["invoices"],
            dry_run=options["dry_run"],
            progress=progress if options["verbosity"] > 0 else None,
            workers=options["workers"],
            max_rate=options["max_rate"],
        )
        self.stdout.write(("Dry run, nothing changed. " if options["dry_run"] else "") + str(summary))
        if summary.count("failed"):
            # A non-zero exit makes cron and monitoring notice that DOKU could not be asked.
            raise CommandError(f"{summary.count('failed')} order(s) could not be checked; they stay pending.")

"""``manage.py doku_checkout_reconcile``: apply what DOKU's Status API knows to pending orders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_doku_checkout.reconciliation import ReconciledOrder, reconcile


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

    def handle(self, *args: Any, **options: Any) -> None:
        if options["min_age"] < 0 or (options["limit"] is not None and options["limit"] < 1):
            raise CommandError("--min-age must be 0 or more and --limit 1 or more.")

        def progress(line: ReconciledOrder) -> None:
            arrow = f"{line.old_status} -> {line.new_status}" if line.old_status != line.new_status else line.new_status
            style = {"failed": self.style.ERROR, "changed": self.style.SUCCESS}.get(line.outcome, str)
            self.stdout.write(style(f"{line.invoice_number}: {line.outcome} ({arrow}) {line.detail}"))

        summary = reconcile(
            min_age=timedelta(minutes=options["min_age"]),
            limit=options["limit"],
            invoice_numbers=options["invoices"],
            dry_run=options["dry_run"],
            progress=progress if options["verbosity"] > 0 else None,
        )
        self.stdout.write(("Dry run, nothing changed. " if options["dry_run"] else "") + str(summary))
        if summary.count("failed"):
            # A non-zero exit makes cron and monitoring notice that DOKU could not be asked.
            raise CommandError(f"{summary.count('failed')} order(s) could not be checked; they stay pending.")

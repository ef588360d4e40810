"""``manage.py doku_checkout_doctor``: check the configured DOKU account before going live."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_doku_checkout.services.doctor import examine


class Command(BaseCommand):
    help = (
        "Check the configured account against the configured DOKU (simulator, sandbox or production): the Client-Id "
        "and secret key (a payment link made, its status read, cancelled where DOKU allows), the clock, the "
        "notification URL to enter in DOKU's back office, the return URLs, and the CSP a pay button needs. "
        "Exits non-zero when there is a problem."
    )
    # The doctor reports the settings' problems itself, in its own format (and as JSON).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the findings as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = examine()
        self.stdout.write(report.as_json() if options["json"] else report.as_text())
        if not report.ok:
            raise CommandError("The doctor found problems: fix them before going live.", returncode=1)

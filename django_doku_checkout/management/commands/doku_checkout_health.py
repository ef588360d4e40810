"""``manage.py doku_checkout_health``: the health of the shop's payments, for cron and monitors.

Exit codes as Nagios-style monitors read them: 0 ok, 1 warning, 2 critical, 3 unknown (the
check itself could not run, e.g. the database is down).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from django_doku_checkout.services.health import CRITICAL, OK, WARNING, HealthReport, health_report, unreadable

#: The exit code of each status: what Nagios, Icinga, Sensu and cron wrappers expect.
EXIT_CODES = {OK: 0, WARNING: 1, CRITICAL: 2}
#: The check itself could not run.
UNKNOWN_EXIT = 3


class Command(BaseCommand):
    help = (
        "Report the health of DOKU payments: last verified notification, payments settled by reconciliation, "
        "reconciliation's last run, old pending orders, failing signal deliveries, stuck refunds. "
        "Exit code 0 ok, 1 warning, 2 critical, 3 unknown (the check could not run)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the report as JSON, for monitors.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = health_report()
        except DatabaseError as err:
            answer = unreadable(err)
            self.stdout.write(json.dumps(answer) if options["json"] else f"UNKNOWN: {answer['message']}")
            sys.exit(UNKNOWN_EXIT)
        self.stdout.write(json.dumps(report.as_dict(), indent=2) if options["json"] else _text(report))
        code = EXIT_CODES[report.status]
        if code:
            sys.exit(code)


#: The first line's words per status (Nagios reads the first line).
_HEADLINES = {
    OK: "OK: DOKU Checkout is healthy.",
    WARNING: "WARNING: DOKU Checkout needs attention.",
    CRITICAL: "CRITICAL: DOKU Checkout is failing.",
}


def _text(report: HealthReport) -> str:
    lines = [_HEADLINES[report.status]]
    for finding in report.findings:
        lines.append(f"[{finding.status.upper()}] {finding.name}: {finding.message}")
        if finding.invoice_numbers:
            lines.append(f"    {', '.join(finding.invoice_numbers)}")
    return "\n".join(lines)

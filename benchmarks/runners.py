"""One app server's periodic jobs during benchmark 8, as cron would run them on its machine.

    python benchmarks/runners.py --stop-file PATH --max-seconds 900

Runs ``doku_checkout_deliver`` and ``doku_checkout_reconcile --min-age 0`` one after the
other, again and again, until the stop file exists (or the time is up), then once more each
so that nothing due is left. Prints one JSON object: rounds, failures, seconds per round.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from io import StringIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.site.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stop-file", type=Path, required=True)
    parser.add_argument("--max-seconds", type=float, default=900)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import CommandError, call_command

    rounds, failures, slowest = 0, [], 0.0
    give_up = time.monotonic() + args.max_seconds
    last = False
    while True:
        last = args.stop_file.exists() or time.monotonic() > give_up
        started = time.monotonic()
        for command in (["doku_checkout_deliver"], ["doku_checkout_reconcile", "--min-age", "0"]):
            try:
                call_command(*command, stdout=StringIO(), stderr=StringIO())
            except CommandError as err:
                failures.append(f"{command[0]}: {err}")
        rounds += 1
        slowest = max(slowest, time.monotonic() - started)
        if last:
            break
        time.sleep(0.5)
    print(json.dumps({"rounds": rounds, "failures": failures[:10], "failed": len(failures), "slowest_round": slowest}))


if __name__ == "__main__":
    main()

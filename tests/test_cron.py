"""Every cron line the docs show, run as cron runs it: ``/bin/sh -c`` with an empty environment.

Cron starts a line with ``/bin/sh``, a ``PATH`` of ``/usr/bin:/bin``, no virtualenv and none
of the web server's environment variables. Each documented line must therefore use the
virtualenv's python and load the shop's environment file itself, and a line that cannot
(python or the file missing) must fail loudly: a non-zero exit and a message for cron's mail.
Here a shop in a temporary directory (``/srv/shop`` of the docs) has a ``.venv/bin/python``,
``manage.py`` and a ``.env`` naming its database; the lines are read from the pages.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
#: A crontab line: five time fields, then the command.
CRON_LINE = re.compile(r"^(?:[\d*/,-]+\s+){5}(?P<command>cd /srv/shop && .*)$", re.MULTILINE)
#: What every line starts with: the shop's directory and its environment, exported.
PREFIX = "cd /srv/shop && set -a && . ./.env && set +a && "

#: The tests' settings, with the one database a shop has.
SHOP_SETTINGS = """\
from tests.settings import *  # noqa: F403

DATABASES = {"default": DATABASES["default"]}  # noqa: F405
"""
MANAGE_PY = """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""


def cron_lines(page: str) -> list[str]:
    """The commands of the crontab lines ``docs/<page>`` shows."""
    return [match.group("command") for match in CRON_LINE.finditer((DOCS / page).read_text())]


@pytest.fixture
def shop(tmp_path) -> Path:
    """A shop deployed as the docs assume: /srv/shop with its virtualenv, manage.py and .env."""
    shop = tmp_path / "shop"
    (shop / ".venv" / "bin").mkdir(parents=True)
    python = shop / ".venv" / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    (shop / "manage.py").write_text(MANAGE_PY)
    (shop / "shop_settings.py").write_text(SHOP_SETTINGS)
    # PYTHONPATH only because this shop's settings are the tests'; DATABASE_URL as a shop's .env has it.
    (shop / ".env").write_text(f"PYTHONPATH={ROOT}\nDATABASE_URL=sqlite:///{tmp_path / 'shop.sqlite3'}\n")
    run_in(shop, "cd /srv/shop && set -a && . ./.env && set +a && .venv/bin/python manage.py migrate -v 0")
    return shop


def run_in(shop: Path, line: str) -> subprocess.CompletedProcess[str]:
    """``line`` as cron runs it, with the shop in place of /srv/shop."""
    return subprocess.run(  # noqa: S603 - our own docs' lines, in a temporary directory
        ["/usr/bin/env", "-i", "/bin/sh", "-c", line.replace("/srv/shop", str(shop))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_documented_cron_line_uses_the_virtualenv_and_the_shops_environment():
    lines = {page.name: cron_lines(page.name) for page in DOCS.glob("*.md")}
    assert len(lines["going-live.md"]) == 6
    assert len(lines["operations.md"]) == 1
    assert len(lines["reliability.md"]) == 1
    for line in [line for page in lines.values() for line in page]:
        assert line.startswith(PREFIX), line
        assert " python " not in f" {line}", line
        assert ".venv/bin/python manage.py " in line, line


@pytest.mark.slow
def test_the_documented_lines_run_under_cron_and_health_is_quiet_once_reconcile_ran(shop):
    [health] = cron_lines("operations.md")
    first = run_in(shop, health)
    # A new shop: reconciliation never ran, so the health check is critical and says so.
    assert first.returncode == 2, first.stderr
    assert first.stdout.startswith("CRITICAL: ")
    assert "reconciliation" in first.stdout

    for line in cron_lines("going-live.md")[:3]:  # deliver, reconcile, prune
        result = run_in(shop, line)
        assert result.returncode == 0, result.stdout + result.stderr

    quiet = run_in(shop, health)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


@pytest.mark.slow
@pytest.mark.parametrize("missing", [".venv/bin/python", ".env"])
def test_a_line_that_cannot_run_fails_loudly(shop, missing):
    (shop / missing).unlink()
    for line in [*cron_lines("operations.md"), cron_lines("going-live.md")[0]]:
        result = run_in(shop, line)
        assert result.returncode != 0, line
        # dash says "python: not found", or "cannot open ./.env"; either is mailed by cron.
        assert Path(missing).name in result.stdout + result.stderr, line

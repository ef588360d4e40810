"""The periodic jobs, scheduled the three ways docs/going-live.md ("Scheduling") shows: cron, Celery beat, django-tasks.

The schedules are read from the page, never copied here: the crontab's commands are run as
cron runs them, the ``celery.py`` block is loaded as a shop's module and every entry of its
beat schedule is run, and the django-tasks crontab's lines are run in a project of their own
whose ``db_worker`` then works through what they enqueued.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import textwrap
import types
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_doku_checkout import signals
from django_doku_checkout.models import Delivery, Notification, Order, OrderStatus
from tests.doku import sale_after_an_outage

ROOT = Path(__file__).parents[1]
GOING_LIVE = ROOT / "docs" / "going-live.md"
FENCE = re.compile(r'^```\w*[^\n]*?title="(?P<title>[^"]+)"[^\n]*\n(?P<body>.*?)^```[ ]*$', re.MULTILINE | re.DOTALL)

#: The shop's fulfilment receiver: the warehouse's API is down for its first call.
shipped: list[str] = []
warehouse_down = {"calls": 0}


def ship(sender, order, **kwargs):
    if warehouse_down["calls"] > 0:
        warehouse_down["calls"] -= 1
        raise TimeoutError("warehouse API timed out")
    shipped.append(order.invoice_number)


def documented(title: str) -> str:
    blocks = {m.group("title"): textwrap.dedent(m.group("body")) for m in FENCE.finditer(GOING_LIVE.read_text())}
    assert title in blocks, f"going-live.md has no block titled {title!r}"
    return blocks[title]


def crontab_commands(title: str) -> list[list[str]]:
    """Each crontab line's command after ``.venv/bin/python manage.py``, as the shell splits it.

    What comes before it (the shop's directory and environment) is run by tests/test_cron.py.
    """
    commands = []
    for line in documented(title).splitlines():
        words = shlex.split(line.rsplit("&&", 1)[1])
        assert words[:2] == [".venv/bin/python", "manage.py"], line
        commands.append(words[2:])
    return commands


@pytest.fixture
def a_day_of_work(order_factory, doku_simulator):
    """What the jobs find: an order paid at DOKU whose notification was lost, a receiver that will fail
    once when it is paid, and a rejected notification past KEEP_REJECTED_NOTIFICATIONS_DAYS."""
    shipped.clear()
    warehouse_down["calls"] = 1
    signals.payment_succeeded.connect(ship, weak=False)
    (order,) = sale_after_an_outage(order_factory, doku_simulator, paid=1, unpaid=0)
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(minutes=11))
    stale = Notification.objects.create(outcome=Notification.Outcome.REJECTED)
    Notification.objects.filter(pk=stale.pk).update(received_at=timezone.now() - timedelta(days=31))
    yield order
    signals.payment_succeeded.disconnect(ship)


def make_failed_deliveries_due() -> None:
    """The backoff of the receiver that failed has passed (a minute, in real time)."""
    assert Delivery.objects.filter(status=Delivery.Status.PENDING, attempts=1).count() == 1
    Delivery.objects.update(next_attempt_at=timezone.now())


def assert_the_day_is_done(order: Order) -> None:
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert shipped == [order.invoice_number]
    assert not Notification.objects.filter(outcome=Notification.Outcome.REJECTED).exists()


@pytest.mark.django_db
def test_the_documented_crontab_runs_the_jobs(a_day_of_work, django_capture_on_commit_callbacks):
    deliver, reconcile, prune = crontab_commands("crontab")
    assert [deliver[0], reconcile[0], prune[0]] == [
        "doku_checkout_deliver",
        "doku_checkout_reconcile",
        "doku_checkout_prune",
    ]

    with django_capture_on_commit_callbacks(execute=True):
        call_command(*reconcile)
    make_failed_deliveries_due()
    call_command(*deliver)
    call_command(*prune)

    assert_the_day_is_done(a_day_of_work)


@pytest.mark.django_db
def test_the_documented_celery_beat_schedule_runs_the_jobs(a_day_of_work, django_capture_on_commit_callbacks):
    celery_py = types.ModuleType("mysite_celery")
    exec(compile(documented("celery.py"), "celery.py", "exec"), celery_py.__dict__)  # noqa: S102 - our own docs
    app = celery_py.app
    app.conf.task_always_eager = True  # each entry runs here as a worker would run it
    app.conf.task_eager_propagates = True
    schedule = app.conf.beat_schedule
    by_task = {entry["task"]: entry for entry in schedule.values()}
    assert sorted(by_task) == ["doku_checkout.deliver", "doku_checkout.prune", "doku_checkout.reconcile"]
    assert by_task["doku_checkout.deliver"]["schedule"] == 60
    assert by_task["doku_checkout.reconcile"]["schedule"] == 600

    def run(name: str) -> dict[str, int]:
        entry = by_task[name]
        return app.tasks[name].apply_async(args=entry.get("args", ()), kwargs=entry.get("kwargs", {})).get()

    with django_capture_on_commit_callbacks(execute=True):
        assert run("doku_checkout.reconcile") == {"changed": 1, "unchanged": 0, "failed": 0, "skipped": 0}
    make_failed_deliveries_due()
    assert run("doku_checkout.deliver") == {"delivered": 1, "failed": 0}
    assert run("doku_checkout.prune") == {"rejected_notifications": 1, "orders_anonymised": 0}

    assert_the_day_is_done(a_day_of_work)


WORKER_SETTINGS = """
import django

from tests.settings import *  # noqa: F403

BACKPORT = ["django_tasks"] if django.VERSION < (6, 0) else []
INSTALLED_APPS = [*INSTALLED_APPS, *BACKPORT, "django_tasks_db"]  # noqa: F405
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {database!r}}}}}
{tasks_settings}
"""

SEED_A_STALE_NOTIFICATION = """
from datetime import timedelta
from django.utils import timezone
from django_doku_checkout.models import Notification
stale = Notification.objects.create(outcome=Notification.Outcome.REJECTED)
Notification.objects.filter(pk=stale.pk).update(received_at=timezone.now() - timedelta(days=31))
"""

WORKER_RESULTS = """
import json
from django_tasks_db.models import DBTaskResult
from django_doku_checkout.models import Notification
print("RESULTS" + json.dumps({
    "tasks": sorted([r.task_path, r.status, r.return_value] for r in DBTaskResult.objects.all()),
    "rejected_notifications": Notification.objects.filter(outcome="rejected").count(),
}))
"""


@pytest.mark.slow
def test_the_documented_django_tasks_schedule_runs_on_the_database_worker(tmp_path):
    (tmp_path / "worker_settings.py").write_text(
        WORKER_SETTINGS.format(
            database=str(tmp_path / "db.sqlite3"), tasks_settings=documented("settings.py (django-tasks)")
        )
    )

    def manage(*args: str) -> str:
        result = subprocess.run(  # noqa: S603 - django-admin, as the crontab's manage.py
            [sys.executable, "-m", "django", *args],
            cwd=ROOT,
            env={
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": f"{tmp_path}:{ROOT}",
                "DJANGO_SETTINGS_MODULE": "worker_settings",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    manage("migrate", "--noinput", "-v", "0")
    manage("shell", "-c", SEED_A_STALE_NOTIFICATION)
    for command in crontab_commands("crontab (django-tasks)"):
        assert command[:2] == ["shell", "-c"], command
        manage(*command)
    manage("db_worker", "--batch", "--no-startup-delay", "--interval", "0.1")

    results = json.loads(manage("shell", "-c", WORKER_RESULTS).split("RESULTS", 1)[1])
    assert results == {
        "tasks": [
            ["django_doku_checkout.tasks.deliver_signals", "SUCCESSFUL", {"delivered": 0, "failed": 0}],
            [
                "django_doku_checkout.tasks.prune_old_data",
                "SUCCESSFUL",
                {"orders_anonymised": 0, "rejected_notifications": 1},
            ],
            [
                "django_doku_checkout.tasks.reconcile_pending",
                "SUCCESSFUL",
                {"changed": 0, "failed": 0, "skipped": 0, "unchanged": 0},
            ],
        ],
        "rejected_notifications": 0,
    }

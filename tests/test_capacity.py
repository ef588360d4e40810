"""The server's configuration against DOKU's deadline and the database's pool (W009, W010)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_doku_checkout.capacity import Server, find_pool_problems, gunicorn_server
from django_doku_checkout.checks import check_capacity

POSTGRES = {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"}


def ids(messages):
    return [message.id for message in messages]


def test_gunicorn_numbers_come_from_gunicorn_cmd_args_or_are_unknown():
    assert gunicorn_server({}) is None
    assert gunicorn_server({"GUNICORN_CMD_ARGS": "--workers 4 --threads=16 -t 20 --bind :8000"}) == Server(4, 16, 20)
    assert gunicorn_server({"GUNICORN_CMD_ARGS": "--threads 8", "WEB_CONCURRENCY": "3"}) == Server(3, 8, 30)
    assert gunicorn_server({"GUNICORN_CMD_ARGS": "--workers many"}) is None


@pytest.mark.parametrize(("timeout", "warned"), [("20", True), ("25", True), ("30", False)])
def test_a_deadline_not_under_gunicorns_timeout_is_w009(monkeypatch, settings, timeout, warned):
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "DEADLINE": 25}
    monkeypatch.setenv("GUNICORN_CMD_ARGS", f"--timeout {timeout}")
    messages = check_capacity()
    assert ids(messages) == (["django_doku_checkout.W009"] if warned else [])
    if warned:
        assert f"--timeout ({timeout}" in messages[0].msg


def test_w009_is_raised_by_manage_py_check(monkeypatch):
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--workers 2 --timeout 10")
    # The check's own tag: Django 6.1's model checks would ask every database about JSON fields.
    with pytest.raises(SystemCheckError, match=r"django_doku_checkout\.W009"):
        call_command("check", "--tag", "capacity", "--fail-level", "WARNING")


@pytest.mark.parametrize(
    ("pool", "threads", "warned"),
    [
        ({"max_size": 8}, 16, True),
        (True, 8, True),  # psycopg_pool's default: 4 connections
        ({"min_size": 2, "max_size": 16}, 16, False),
        (None, 64, False),  # no pool: one connection per thread
    ],
)
def test_more_threads_than_the_pool_holds_is_w010(pool, threads, warned):
    options = {"pool": pool} if pool is not None else {}
    server = gunicorn_server({"GUNICORN_CMD_ARGS": f"--workers 2 --threads {threads}"})
    messages = find_pool_problems(server, {"shop": {**POSTGRES, "OPTIONS": options}})
    assert ids(messages) == (["django_doku_checkout.W010"] if warned else [])
    if warned:
        assert "DATABASES['shop']" in messages[0].msg
        assert f"'max_size': {threads}" in (messages[0].hint or "")


def test_w010_reads_the_sites_databases(monkeypatch, settings):
    # tests/settings.py's databases have no pool: threads never wait for one.
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--workers 2 --threads 64")
    assert check_capacity() == []


def test_nothing_is_reported_without_gunicorns_numbers(monkeypatch, settings):
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "DEADLINE": 29}
    assert check_capacity() == []
    assert find_pool_problems(None, {"shop": {**POSTGRES, "OPTIONS": {"pool": True}}}) == []

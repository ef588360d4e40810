"""Where each request's thread time goes in benchmark 8's servers: a gunicorn configuration.

    gunicorn -c python:benchmarks.site.timing benchmarks.site.wsgi:application   # DOKU_BENCH_TIMING=DIR

gunicorn's ``pre_request`` and ``post_request`` hooks run in the thread that serves the
request, before Django sees it and after the response was closed (so after the work
:mod:`django_doku_checkout.services.after_response` defers, which holds the thread too). For
every request one JSON line goes to ``DIR/<pid>.jsonl``:

- ``step``: ``open``, ``pay``, ``return`` or ``notification`` (from the path);
- ``queued_ms``: from the moment the client sent it (its ``X-Bench-Sent`` header, the
  shoppers' and the stand-in's clock is this machine's) to the moment a thread took it up;
- ``thread_ms``: how long it held the thread, the deferred work included; ``answered_ms``
  the part until the response was sent (gunicorn's access log time);
- ``cpu_ms``: the thread's own CPU time (``time.thread_time``); the rest of the thread time
  is waiting: for DOKU, for PostgreSQL, and for the GIL while the process's other threads run;
- ``db_ms`` and ``queries``: the statements' time at the client, round trips included;
  ``connect_ms``: opening (or taking from the pool) a database connection;
- ``doku_ms``: HTTP calls to DOKU, retries included.

Measuring costs a few microseconds per statement. Only benchmark 8 loads this file.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import requests.adapters
from gunicorn.glogging import Logger

OUTPUT = os.environ.get("DOKU_BENCH_TIMING", "")


class _Now(threading.local):
    def __init__(self) -> None:
        self.request: dict[str, Any] | None = None


_now = _Now()
_lock = threading.Lock()


def _add(key: str, seconds: float, count: int = 0) -> None:
    request = _now.request
    if request is not None:
        request[key] += seconds * 1000
        if count:
            request["queries"] += count


def _timed_send(send: Any) -> Any:
    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return send(self, *args, **kwargs)
        finally:
            _add("doku_ms", time.perf_counter() - started)

    return timed


requests.adapters.HTTPAdapter.send = _timed_send(requests.adapters.HTTPAdapter.send)  # type: ignore[method-assign]


def _statement_timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        _add("db_ms", time.perf_counter() - started, count=1)


def _watch_database() -> None:
    """Time this thread's statements and connections (each thread has its own connection object)."""
    from django.db import connection

    if _statement_timer not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, _statement_timer)
        connect = connection.connect

        def timed_connect() -> None:
            started = time.perf_counter()
            try:
                connect()
            finally:
                _add("connect_ms", time.perf_counter() - started)

        connection.connect = timed_connect


def _step(path: str) -> str:
    if path.startswith("/shop/order/"):
        return "open"
    if path.startswith("/doku/pay/"):
        return "pay"
    if path.startswith("/doku/return/"):
        return "return"
    if path.startswith("/doku/notification/"):
        return "notification"
    return "other"


def pre_request(worker: Any, req: Any) -> None:
    if not OUTPUT:
        return
    _watch_database()
    sent = next((value for name, value in req.headers if name == "X-BENCH-SENT"), "")
    now = time.time()
    _now.request = {
        "step": _step(req.path),
        "queued_ms": (now - float(sent)) * 1000 if sent else None,
        "started": time.perf_counter(),
        "cpu": time.thread_time(),
        "answered_ms": 0.0,
        "db_ms": 0.0,
        "queries": 0,
        "connect_ms": 0.0,
        "doku_ms": 0.0,
    }


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    request, _now.request = _now.request, None
    if request is None:
        return
    request["thread_ms"] = (time.perf_counter() - request.pop("started")) * 1000
    request["cpu_ms"] = (time.thread_time() - request.pop("cpu")) * 1000
    request["status"] = getattr(resp, "status_code", 0)
    line = json.dumps(request) + "\n"
    with _lock, (Path(OUTPUT) / f"{os.getpid()}.jsonl").open("a") as file:
        file.write(line)


class StampingLogger(Logger):
    """gunicorn's logger, noting when the response was sent (it logs access before closing it)."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        request = _now.request
        if request is not None:
            request["answered_ms"] = (time.perf_counter() - request["started"]) * 1000
        super().access(resp, req, environ, request_time)


logger_class = StampingLogger

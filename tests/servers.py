"""The app as production serves it: gunicorn's sync workers, in subprocesses, on a shared database.

``gunicorn_shop`` (a fixture) starts the test project (:mod:`tests.served_settings`) under
gunicorn on a free 127.0.0.1 port, on the test's own database, so the test reads the rows
the server wrote (``Order.objects...`` as usual) and the server reads the rows the test
wrote:

- on PostgreSQL, the test database pytest-django created for this session (one per xdist
  worker); the test uses ``transactional_db``, so what either side commits the other sees;
- on SQLite, a file in ``tmp_path``: a copy of the migrated test database, and the test's
  own default connection points at that file until the test ends.

The server, and the workers it forked, are stopped when the test ends (TERM, then KILL of
its whole process group): nothing is left behind. Tests using it are ``slow``.

Here too: the standalone simulator (``standalone_simulator``), and what any server a test
starts needs (``ROOT``, the repository, and ``free_port``), the example shop's included.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.db.utils import load_backend

from tests.doku import CLIENT_ID, SECRET
from tests.waiting import wait_until_serving

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now, for a server a test starts."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Shop:
    """A running gunicorn server: its address, its master process, and how to reach its database."""

    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def master_pid(self) -> int:
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The pids of the workers serving now (gunicorn forks a new one for each that dies)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def manage(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run ``django-admin <args>`` with the server's settings, database and receivers (``env`` adds to it)."""
        return subprocess.run(  # noqa: S603 - our own project
            [sys.executable, "-m", "django", *args],
            env={**self.env, **(env or {})},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def log(self) -> str:
        """gunicorn's error log so far: its worker timeouts and the app's logged errors."""
        return self.log_path.read_text(errors="replace")

    def notification_url(self) -> str:
        return self.url + "/doku/notification/"

    def stop(self) -> None:
        """Stop the server and its workers now (the fixture stops it anyway when the test ends)."""
        _stop(self.process)


def running(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _stop(process: subprocess.Popen[bytes], grace: float = 5) -> None:
    """TERM the server's process group, then KILL whatever is left of it (a worker stuck in a receiver)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # The master may be gone while a worker it forked still runs: the group goes, whatever is in it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextlib.contextmanager
def serving(
    command: Sequence[str], url: str, *, seconds: float = 30, grace: float = 5, **popen: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """Start one of our own servers (``command``, in a session of its own), wait until ``url``
    answers, and stop it with everything it forked when the block ends. ``popen`` goes to
    :class:`subprocess.Popen` (``env``, ``cwd``, ``stdout``...); ``grace`` is how long it has to
    stop on SIGTERM before it is killed."""
    process = subprocess.Popen(command, start_new_session=True, **popen)  # noqa: S603 - our own servers only
    try:
        wait_until_serving(url, seconds=seconds)
        yield process
    finally:
        _stop(process, grace)


@contextlib.contextmanager
def serve_gunicorn(
    *,
    database_url: str,
    log_path: Path,
    workers: int = 2,
    timeout: int = 30,
    receivers: Mapping[str, Sequence[str]] | None = None,
    env: Mapping[str, str] | None = None,
    doku_url: str | None = None,
    settings_module: str = "tests.served_settings",
    port: int | None = None,
) -> Iterator[Shop]:
    """gunicorn (sync workers) serving the test project on a free 127.0.0.1 port until the block ends.

    ``timeout`` is gunicorn's worker timeout (a worker silent that long is killed, as in
    production); ``receivers`` maps signal names to the dotted paths of the receivers every
    process of the shop connects; ``doku_url`` is the DOKU the shop talks to (default: the
    simulator on the shop itself, one per worker); ``env`` adds to the server's environment
    (the receivers read theirs from it); ``port`` is a free port chosen before (when the
    simulator must know the shop's address first), by default one chosen here.
    """
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    server_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database_url,
        "SERVED_SITE_URL": url,
        "SERVED_DOKU_URL": doku_url or "",
        "SERVED_RECEIVERS": json.dumps(dict(receivers or {})),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **(env or {}),
    }
    # pytest-xdist's variables would make the served settings pick another test database name.
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_CURRENT_TEST"):
        server_env.pop(name, None)
    command = [sys.executable, "-m", "gunicorn", "django.core.wsgi:get_wsgi_application()"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync"]
    command += ["--timeout", str(timeout), "--graceful-timeout", "2", "--log-level", "info"]
    command += ["--error-logfile", str(log_path), "--capture-output"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    with serving(command, url, cwd=ROOT, env=server_env, **quiet) as process:
        yield Shop(url=url, process=process, env=server_env, log_path=log_path)


def _postgres_url(settings_dict: Mapping[str, Any]) -> str:
    user, password = settings_dict["USER"], settings_dict["PASSWORD"]
    host, port = settings_dict["HOST"] or "127.0.0.1", settings_dict["PORT"] or 5432
    return f"postgres://{user}:{password}@{host}:{port}/{settings_dict['NAME']}"


@contextlib.contextmanager
def shared_database(tmp_path: Path) -> Iterator[str]:
    """A database URL the test process and a server subprocess both use (see the module's docstring)."""
    default = connections["default"]
    if default.vendor == "postgresql":
        yield _postgres_url(default.settings_dict)
        return
    assert default.vendor == "sqlite", default.vendor
    path = tmp_path / "shop.sqlite3"
    default.ensure_connection()
    with contextlib.closing(sqlite3.connect(path)) as copy:
        default.connection.backup(copy)  # the migrated (empty) test database, as it is now
    settings_dict = {**default.settings_dict, "NAME": str(path)}
    settings_dict["OPTIONS"] = {**settings_dict.get("OPTIONS", {}), "transaction_mode": "IMMEDIATE", "timeout": 20}
    on_file = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")
    connections["default"] = on_file
    try:
        yield f"sqlite:///{path}"
    finally:
        on_file.close()
        connections["default"] = default


@pytest.fixture
def gunicorn_shop(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., Shop]]:
    """Start the test project under gunicorn on the test's database: ``shop = gunicorn_shop(workers=2)``.

    Takes :func:`serve_gunicorn`'s keyword arguments (all but ``database_url`` and
    ``log_path``); every server started is stopped when the test ends.
    """
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(shared_database(tmp_path))
        started = 0

        def start(**options: Any) -> Shop:
            nonlocal started
            started += 1
            log_path = tmp_path / f"gunicorn-{started}.log"
            return stack.enter_context(serve_gunicorn(database_url=database_url, log_path=log_path, **options))

        yield start


@contextlib.contextmanager
def standalone_simulator(
    notification_url: str, *, client_id: str = CLIENT_ID, secret_key: str = SECRET
) -> Iterator[str]:
    """DOKU's stand-in in its own process (one store for every gunicorn worker); yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "django_doku_checkout.simulator", "--port", str(port)]
    command += ["--client-id", client_id, "--secret-key", secret_key, "--notification-url", notification_url]
    url = f"http://127.0.0.1:{port}"
    with serving(command, url, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        yield url

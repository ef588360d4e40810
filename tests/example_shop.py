"""The example shop (``example_project``) run the way a developer runs it: ``manage.py``, ``runserver``.

Its commands run in a subprocess with the shop's own settings, and :func:`running_example_shop`
migrates, seeds and serves it on a fresh SQLite file for the test that needs a whole shop.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.servers import ROOT, free_port, serving

MANAGE = ROOT / "example_project" / "manage.py"
# pytest-django exports the test settings; the example shop must run on its own. The root
# comes first on the path so the shop runs this checkout's package (and tests.* settings),
# not whichever checkout the package was installed from.
BASE_ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "example_project.settings",
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``manage.py`` of the example shop, with ``env`` added to its environment."""
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, str(MANAGE), *args], env={**BASE_ENV, **env}, capture_output=True, text=True, timeout=120
    )


@contextlib.contextmanager
def serve_example_shop(port: int, env: dict[str, str], log: Any = subprocess.DEVNULL) -> Iterator[str]:
    """The example shop under ``manage.py runserver`` (threaded) on 127.0.0.1:``port``, until the block ends."""
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"]
    with serving(command, base, env={**BASE_ENV, **env}, stdout=log, stderr=subprocess.STDOUT):
        yield base


@contextlib.contextmanager
def running_example_shop(tmp_path: Path, **env: str) -> Iterator[str]:
    """Migrate, seed and serve the example shop (``runserver``, threaded) on a fresh SQLite file.

    ``env`` adds to or overrides the shop's environment. The server's output goes to
    ``tmp_path / "server.log"`` for the failure messages of the tests that need it.
    """
    port = free_port()
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "SITE_URL": f"http://127.0.0.1:{port}", **env}
    migrated = run_manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    seeded = run_manage("seed_demo", env=env)
    assert "demo products and 3 phone orders ready" in seeded.stdout, seeded.stderr
    with (tmp_path / "server.log").open("w") as log, serve_example_shop(port, env, log) as base:
        yield base

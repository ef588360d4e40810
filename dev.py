"""Developer entry point: one command to run the example shop, one to run every check.

    python3 dev.py shop   # set up .venv, migrate, seed demo data, serve http://127.0.0.1:8000/
    python3 dev.py test   # set up .venv, then ruff, mypy and the whole pytest suite

Only the standard library is used here, so it works on a fresh machine with Python 3.11+.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".installed-from"


def run(*args: str | Path, **env: str) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env={**os.environ, **env}, check=False)  # noqa: S603 (our own fixed commands)
    if result.returncode:
        sys.exit(result.returncode)


def ensure_environment() -> None:
    """Create .venv and install the project with its dev tools when pyproject.toml changed."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"Creating virtual environment in {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(wanted)


def shop() -> None:
    manage = ROOT / "example_project" / "manage.py"
    run(PYTHON, manage, "migrate", "--noinput")
    run(PYTHON, manage, "seed_demo")
    run(PYTHON, manage, "runserver", "127.0.0.1:8000")


def test(extra: list[str]) -> None:
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy", "django_doku_checkout", "tests")
    run(PYTHON, "-m", "pytest", *extra)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in {"shop", "test"}:
        sys.exit(__doc__)
    ensure_environment()
    if sys.argv[1] == "shop":
        shop()
    else:
        test(sys.argv[2:])


if __name__ == "__main__":
    main()

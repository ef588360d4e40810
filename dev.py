"""Developer entry point: one command to run the example shop, one to run every check.

    python3 dev.py shop [--port N]   # set up .venv, migrate, seed demo data, serve http://127.0.0.1:8000/
    python3 dev.py test              # set up .venv, then ruff, mypy, the docs build and the test matrix
    python3 dev.py screenshots       # refresh the browser screenshots the docs show, in docs/screenshots/
    python3 dev.py docs [--serve]    # build the documentation site strictly into build/site/ (or preview it on :8001)

`test` builds the documentation (as `docs` does), then runs the matrix in noxfile.py through
nox: Python 3.11-3.13 x Django 5.2, 6.0, 6.1 x SQLite and PostgreSQL (when
DOKU_TEST_POSTGRES_URL is set; CI sets it), the whole suite on three cells and the fast
subset on the others, then the branch coverage of the primary cell and its PostgreSQL twin
against its fail_under.
Extra arguments go to every pytest run.

Only the standard library is used here, so it works on a fresh machine with Python 3.11+.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def run(*args: str | Path, **env: str) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env={**os.environ, **env}, check=False)  # noqa: S603 (our own fixed commands)
    if result.returncode:
        sys.exit(result.returncode)


def ensure_environment(venv_dir: Path = VENV, python: str | None = None) -> Path:
    """Create ``venv_dir`` and install the project with its dev tools when pyproject.toml changed."""
    bin_dir = venv_dir / ("Scripts" if os.name == "nt" else "bin")
    venv_python = bin_dir / "python"
    stamp = venv_dir / ".installed-from"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted and venv_python.exists():
        return venv_python
    if not venv_python.exists():
        print(f"Creating virtual environment in {venv_dir}", flush=True)
        if python is None:
            venv.create(venv_dir, with_pip=True)
        else:
            run(python, "-m", "venv", venv_dir)
    run(venv_python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(venv_python, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    stamp.write_text(wanted)
    return venv_python


#: Debian packages the tests drive: (a file the package provides, the package).
SYSTEM_PACKAGES = (("/usr/bin/chromium", "chromium"), ("/usr/bin/xgettext", "gettext"))


def ensure_system_packages() -> None:
    """Install Chromium (browser tests) and gettext (translation tests) with apt when missing."""
    missing = [package for path, package in SYSTEM_PACKAGES if not Path(path).exists()]
    if not missing:
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        run("apt-get", "update", "-qq", DEBIAN_FRONTEND="noninteractive")
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, DEBIAN_FRONTEND="noninteractive")
    else:
        print(f"Missing Debian packages {', '.join(missing)}: install them (sudo apt-get install ...).", flush=True)


def shop(extra: list[str]) -> None:
    port = extra[extra.index("--port") + 1] if "--port" in extra[:-1] else "8000"
    if not port.isdigit():
        sys.exit(f"--port must be a number, not {port!r}")
    manage = ROOT / "example_project" / "manage.py"
    # The example's simulator calls back to the shop, and seed_demo prints the admin's
    # address: SITE_URL must name the port it runs on.
    site_url = os.environ.get("SITE_URL", f"http://127.0.0.1:{port}")
    run(PYTHON, manage, "migrate", "--noinput")
    run(PYTHON, manage, "seed_demo", SITE_URL=site_url)
    run(PYTHON, manage, "runserver", f"127.0.0.1:{port}", SITE_URL=site_url)


def screenshots(extra: list[str]) -> None:
    """Run the browser journeys and keep their screenshots where the documentation shows them."""
    ensure_system_packages()
    run(
        PYTHON,
        "-m",
        "pytest",
        "-m",
        "browser",
        *extra,
        DATABASE_URL="sqlite:///:memory:",
        DOKU_SCREENSHOTS=str(ROOT / "docs" / "screenshots"),
    )


def docs(extra: list[str]) -> None:
    """Build the site with every warning an error (broken links and anchors included), or serve it.

    Other arguments go to mkdocs, e.g. ``docs --serve --dev-addr 127.0.0.1:8003``.
    """
    quiet = {"NO_MKDOCS_2_WARNING": "1"}  # Material's banner about its successor, printed on every build
    if "--serve" in extra:
        options = [argument for argument in extra if argument != "--serve"]
        if "--dev-addr" not in options:  # mkdocs' own default, port 8000, is the example shop's
            options += ["--dev-addr", "127.0.0.1:8001"]
        run(BIN / "mkdocs", "serve", "--strict", *options, **quiet)
    else:
        run(BIN / "mkdocs", "build", "--strict", "--clean", *extra, **quiet)


def test(extra: list[str]) -> None:
    ensure_system_packages()
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy", "django_doku_checkout", "tests", "noxfile.py", "dev.py")
    docs([])
    # nox's own virtual environments live in .nox/ and are reused from one run to the next.
    run(BIN / "nox", "--", *extra)


def main() -> None:
    commands = {"shop": shop, "test": test, "screenshots": screenshots, "docs": docs}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    ensure_environment()
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()

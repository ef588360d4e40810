"""The test matrix, run by ``python3 dev.py test --matrix`` and so by CI (or ``.venv/bin/nox`` for one cell).

``python3 dev.py test`` without ``--matrix`` is the local loop: the whole suite on .venv's one
Python and Django, without nox.

Every supported Python (3.11-3.13) x Django (5.2 LTS, 6.0, 6.1) x database (SQLite,
PostgreSQL) is a cell; Django 6.x needs Python 3.12+, so 3.11 has Django 5.2 only.
One nox session per Python and Django runs the suite on SQLite, then on PostgreSQL. Three
cells run the whole suite: the primary cell 3.11 / Django 5.2 on SQLite, the same on
PostgreSQL (branch coverage of the package is measured on these two together, since some
code runs only on PostgreSQL, and held to its ``fail_under``), and the newest
pair 3.13 / Django 6.1 on PostgreSQL. Every other cell runs the fast subset: everything
but the ``browser`` and ``slow`` tests (see the markers in pyproject.toml), on two
pytest-xdist workers.

PostgreSQL runs use ``DOKU_TEST_POSTGRES_URL``; without it they are skipped (CI sets it).
Arguments after ``--`` go to pytest. Virtual environments live in ``.nox/`` and are reused:
each one reinstalls only when pyproject.toml changes.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
ENVDIR = ROOT / ".nox"
COVERAGE_DATA = ENVDIR / "coverage" / ".coverage"
POSTGRES_URL_VARIABLE = "DOKU_TEST_POSTGRES_URL"
PYTHONS = ("3.11", "3.12", "3.13")
#: The fast subset, on two workers (each its own live servers, SQLite file and PostgreSQL test
#: database); the whole suite stays on one, since its browser and subprocess tests load both cores.
FAST = ["-m", "not browser and not slow", "-n", "2", "--dist", "loadfile"]

nox.options.envdir = str(ENVDIR)
nox.options.reuse_venv = "yes"
nox.options.download_python = "never"  # the machine's interpreters only; CI reaches package registries alone
nox.options.sessions = ["tests", "coverage"]


def _interpreter_works(path: str) -> bool:
    probe = subprocess.run([path, "-c", "pass"], capture_output=True, check=False)  # noqa: S603 (an interpreter path)
    return probe.returncode == 0


def _expose_interpreters() -> None:
    """Put a working ``python3.X`` on PATH for each Python of the matrix.

    A pyenv machine has a ``python3.12`` shim on PATH that fails unless 3.12 is the selected
    version, and nox would pick the shim: link the real interpreter into ``.nox/interpreters``.
    """
    links = ENVDIR / "interpreters"
    for version in PYTHONS:
        name = f"python{version}"
        found = shutil.which(name, path=os.environ.get("PATH", "").replace(str(links) + os.pathsep, ""))
        if found and _interpreter_works(found):
            continue
        pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
        for candidate in sorted(
            glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*", "bin", name)), reverse=True
        ):
            if _interpreter_works(candidate):
                links.mkdir(parents=True, exist_ok=True)
                link = links / name
                link.unlink(missing_ok=True)
                link.symlink_to(candidate)
                break
    if links.is_dir() and str(links) not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = str(links) + os.pathsep + os.environ["PATH"]


_expose_interpreters()


#: The Django series tested, and the oldest Python each supports.
DJANGOS = {"5.2": "3.11", "6.0": "3.12", "6.1": "3.12"}
#: The cells that run the whole suite; the first is the primary cell.
FULL = [("3.11", "5.2", "sqlite"), ("3.11", "5.2", "postgres"), ("3.13", "6.1", "postgres")]
PRIMARY = FULL[0]
#: Where coverage is measured: the primary cell and its PostgreSQL twin (services/statements.py
#: runs only on PostgreSQL), combined.
COVERED = FULL[:2]
#: Written when the PostgreSQL twin was measured: without it the total leaves that code out.
POSTGRES_MEASURED = COVERAGE_DATA.parent / "postgres-measured"


def _check_the_classifiers() -> None:
    """pyproject.toml's Python and Django classifiers must name exactly the matrix's versions."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        classifiers = tomllib.load(file)["project"]["classifiers"]
    pythons = {c.rpartition(" :: ")[2] for c in classifiers if c.startswith("Programming Language :: Python :: 3.")}
    djangos = {c.rpartition(" :: ")[2] for c in classifiers if c.startswith("Framework :: Django :: ")}
    if pythons != set(PYTHONS) or djangos != set(DJANGOS):
        sys.exit(
            f"pyproject.toml's classifiers name Python {sorted(pythons)} and Django {sorted(djangos)}; "
            f"the matrix tests Python {list(PYTHONS)} and Django {list(DJANGOS)}: make them agree."
        )


_check_the_classifiers()


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


CELLS = [
    nox.param(python, django, id=f"py{python}-django{django}")
    for python in PYTHONS
    for django, oldest_python in DJANGOS.items()
    if _version(python) >= _version(oldest_python)
]


def _install(session: nox.Session, django: str) -> None:
    """Install the package, its test tools and one Django series, unless already done for this pyproject."""
    location = Path(session.virtualenv.location)
    stamp = location / ".installed-from"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + django.encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    session.install("--quiet", "--upgrade", "pip")
    session.install("--quiet", "-e", ".[test]", f"django~={django}.0")
    stamp.write_text(wanted)


@nox.session
@nox.parametrize(("python", "django"), CELLS)
def tests(session: nox.Session, django: str) -> None:
    """One Python and one Django: the whole suite or the fast subset on SQLite, then on PostgreSQL."""
    _install(session, django)
    session.run(
        "python", "-c", "import django, sys; print('Python', sys.version.split()[0], 'Django', django.__version__)"
    )
    postgres = os.environ.get(POSTGRES_URL_VARIABLE)
    if not postgres:
        session.warn(f"PostgreSQL skipped: set {POSTGRES_URL_VARIABLE}=postgres://user:pass@host/db (CI does)")
    for database, url in (("sqlite", "sqlite:///:memory:"), ("postgres", postgres)):
        if url:
            _run_suite(session, (str(session.python), django, database), url)


def _run_suite(session: nox.Session, cell: tuple[str, str, str], url: str) -> None:
    full = cell in FULL
    pytest = ["-m", "pytest", *([] if full else FAST), *session.posargs]
    env = {"DATABASE_URL": url}
    if cell == PRIMARY:  # runs first: SQLite before PostgreSQL in the same session
        COVERAGE_DATA.parent.mkdir(parents=True, exist_ok=True)
        for old in [*COVERAGE_DATA.parent.glob(".coverage*"), POSTGRES_MEASURED]:
            old.unlink(missing_ok=True)
    if cell in COVERED:
        if cell != PRIMARY:
            POSTGRES_MEASURED.touch()
        # Subprocesses (the example shop, the standalone simulator) write their own data files.
        pytest = ["-m", "coverage", "run", *pytest]
        env["COVERAGE_FILE"] = str(COVERAGE_DATA)
    started = time.monotonic()
    # With `-k` or `-m` from the command line a cell may select nothing (pytest's exit code 5).
    selected_nothing = [5] if session.posargs else []
    session.run("python", *pytest, env=env, success_codes=[0, *selected_nothing])
    suite = "whole suite" if full else "fast subset"
    session.log(f"Python {cell[0]}, Django {cell[1]}, {cell[2]}: {suite} in {time.monotonic() - started:.0f} s")


@nox.session(python=False)
def coverage(session: nox.Session) -> None:
    """Combine the coverage data of the primary cell and its PostgreSQL twin; fail under pyproject's ``fail_under``."""
    if not any(COVERAGE_DATA.parent.glob(".coverage.*")):
        session.skip("no coverage data: the primary cell did not run")
    env = {"COVERAGE_FILE": str(COVERAGE_DATA)}
    session.run(sys.executable, "-m", "coverage", "combine", "--quiet", env=env)
    # Selected tests (`dev.py test -k ...`) cover a part only: report it, hold no line.
    fail_under = ["--fail-under=0"] if session.posargs else []
    if not POSTGRES_MEASURED.exists():
        session.warn(f"PostgreSQL was not measured (set {POSTGRES_URL_VARIABLE}): the total is reported, not held")
        fail_under = ["--fail-under=0"]
    session.run(sys.executable, "-m", "coverage", "report", *fail_under, env=env)

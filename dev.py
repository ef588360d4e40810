"""Developer entry point: one command to run the example shop, one to run every check.

    python3 dev.py shop [--port N]   # the example shop on http://127.0.0.1:8000/ (installs only what it needs)
    python3 dev.py test              # ruff, mypy, the docs build and the whole suite, SQLite (+ PostgreSQL): minutes
    python3 dev.py test --matrix     # ruff, mypy, the docs build, then every cell of noxfile.py with coverage (CI)
    python3 dev.py screenshots       # refresh the browser screenshots the docs show, in docs/screenshots/
    python3 dev.py docs [--serve]    # build the documentation site strictly into build/site/ (or preview it on :8001)
    python3 dev.py release           # build the sdist and the wheel into dist/, check them, print the upload steps

`test` is the local loop: the whole suite (browser and subprocess tests included) on .venv's
interpreter and Django, on two pytest-xdist workers, on SQLite and then on PostgreSQL when
DOKU_TEST_POSTGRES_URL is set. `test --matrix` runs the matrix in noxfile.py through nox:
Python 3.11-3.13 x Django 5.2, 6.0, 6.1 x SQLite and PostgreSQL, then the branch coverage of
the primary cell and its PostgreSQL twin against its fail_under; .ci/run runs it.
Extra arguments go to every pytest run. Both build the sdist and the wheel and run `twine
check` on them (tests/test_packaging.py), as `release` does.

Only the standard library is used here, so it works on a fresh machine with Python 3.11+.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def run(*args: str | Path, allowed: tuple[int, ...] = (), **env: str) -> None:
    """Run one command in the project's folder; stop with its exit code unless 0 or ``allowed``."""
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env={**os.environ, **env}, check=False)  # noqa: S603 (our own fixed commands)
    if result.returncode and result.returncode not in allowed:
        sys.exit(result.returncode)


#: What each command needs in .venv: the example shop runs on the package and the example's own
#: requirements; every other command needs the development set (test tools, linters, docs, nox).
#: The development set holds the shop's, so a .venv made by `test` serves `shop` as it is.
INSTALLS = {
    "shop": ["-e", ".", "-r", "example_project/requirements.txt"],
    "dev": ["-e", ".[dev]", "-r", "example_project/requirements.txt"],
}


def _wanted(purpose: str) -> str:
    sources = (ROOT / "pyproject.toml").read_bytes() + (ROOT / "example_project" / "requirements.txt").read_bytes()
    return f"{purpose} {hashlib.sha256(sources).hexdigest()}"


def ensure_environment(venv_dir: Path = VENV, python: str | None = None, purpose: str = "dev") -> Path:
    """Create ``venv_dir`` and install what ``purpose`` (a key of INSTALLS) needs, unless already there.

    Reinstalls when pyproject.toml or the example's requirements changed; a ``shop`` environment
    is completed to ``dev`` the first time a development command runs.
    """
    bin_dir = venv_dir / ("Scripts" if os.name == "nt" else "bin")
    venv_python = bin_dir / "python"
    stamp = venv_dir / ".installed-from"
    installed = stamp.read_text() if stamp.exists() and venv_python.exists() else ""
    if installed in (_wanted(purpose), _wanted("dev")):
        return venv_python
    if not venv_python.exists():
        print(f"Creating virtual environment in {venv_dir}", flush=True)
        if python is None:
            venv.create(venv_dir, with_pip=True)
        else:
            run(python, "-m", "venv", venv_dir)
    run(venv_python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(venv_python, "-m", "pip", "install", "--quiet", *INSTALLS[purpose])
    stamp.write_text(_wanted(purpose))
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
    quiet = "1"  # NO_MKDOCS_2_WARNING: Material's banner about its successor, printed on every build
    if "--serve" in extra:
        options = [argument for argument in extra if argument != "--serve"]
        if "--dev-addr" not in options:  # mkdocs' own default, port 8000, is the example shop's
            options += ["--dev-addr", "127.0.0.1:8001"]
        run(BIN / "mkdocs", "serve", "--strict", *options, NO_MKDOCS_2_WARNING=quiet)
    else:
        run(BIN / "mkdocs", "build", "--strict", "--clean", *extra, NO_MKDOCS_2_WARNING=quiet)


#: The local loop's suite: every test, on two workers, each with its own live servers, SQLite
#: file and PostgreSQL test database; a file's tests stay on one worker (they share fixtures).
LOOP = ["-m", "pytest", "-n", "2", "--dist", "loadfile"]
POSTGRES_URL_VARIABLE = "DOKU_TEST_POSTGRES_URL"


#: The static checks, each a command of .venv/bin: ruff's rules and format, then mypy (strict on
#: the package). .pre-commit-config.yaml runs the same commands as its hooks.
LINT = (
    ("ruff", "check", "."),
    ("ruff", "format", "--check", "."),
    ("mypy", "django_doku_checkout", "tests", "noxfile.py", "dev.py"),
)


def lint() -> None:
    """Run LINT's commands; stop at the first that fails."""
    for tool, *arguments in LINT:
        run(BIN / tool, *arguments)


def test(extra: list[str]) -> None:
    """The local loop (the whole suite on .venv's Python and Django), or with ``--matrix`` every cell."""
    matrix = "--matrix" in extra
    pytest_arguments = [argument for argument in extra if argument != "--matrix"]
    ensure_system_packages()
    started = time.monotonic()
    lint()
    docs([])
    if matrix:
        # nox's own virtual environments live in .nox/ and are reused from one run to the next.
        run(BIN / "nox", "--", *pytest_arguments)
        return
    print(f"Linters and the docs build: {time.monotonic() - started:.0f} s", flush=True)
    databases = [("SQLite", "sqlite:///:memory:"), ("PostgreSQL", os.environ.get(POSTGRES_URL_VARIABLE, ""))]
    for name, url in databases:
        if not url:
            print(f"PostgreSQL skipped: set {POSTGRES_URL_VARIABLE}=postgres://user:pass@host/db", flush=True)
            continue
        suite_started = time.monotonic()
        # With -k or -m from the command line a run may select nothing (pytest's exit code 5).
        run(PYTHON, *LOOP, *pytest_arguments, DATABASE_URL=url, allowed=(5,) if pytest_arguments else ())
        print(f"The whole suite on {name}: {time.monotonic() - suite_started:.0f} s", flush=True)
    print(f"dev.py test: {time.monotonic() - started:.0f} s; the matrix is `python3 dev.py test --matrix`", flush=True)


def build_distributions(out: Path, python: str | Path = PYTHON) -> tuple[Path, Path]:
    """Build the sdist into ``out``, then the wheel from the unpacked sdist, as pip does from PyPI.

    Whatever the sdist lacks, the wheel then lacks too. No build isolation: hatchling comes
    from the environment, so nothing is downloaded.
    """
    out.mkdir(parents=True, exist_ok=True)

    def build(kind: str, source: Path) -> None:
        command = [str(python), "-m", "build", "--no-isolation", f"--{kind}", "--outdir", str(out), str(source)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 (our own project)
        if result.returncode:
            sys.exit(f"Building the {kind} failed:\n{result.stdout}{result.stderr}")

    build("sdist", ROOT)
    [sdist] = out.glob("*.tar.gz")
    with tempfile.TemporaryDirectory() as unpacked, tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
        [source] = Path(unpacked).iterdir()
        build("wheel", source)
    [wheel] = out.glob("*.whl")
    return sdist, wheel


def release(extra: list[str]) -> None:
    """Build and check what goes to PyPI, into a fresh dist/, and print the steps that publish it.

    Nothing is uploaded or tagged here: docs/releasing.md has the whole procedure.
    """
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    sdist, wheel = build_distributions(dist)
    run(BIN / "twine", "check", "--strict", sdist, wheel)
    print(
        f"\nBuilt and checked django-doku-checkout {version}:\n  {sdist.relative_to(ROOT)}\n  {wheel.relative_to(ROOT)}\n"
        "Once `python3 dev.py test --matrix` passed on this commit, publish and tag it:\n"
        f"  .venv/bin/twine upload {sdist.relative_to(ROOT)} {wheel.relative_to(ROOT)}\n"
        f"  git tag -a v{version} -m 'django-doku-checkout {version}' && git push origin v{version}",
        flush=True,
    )


def main() -> None:
    commands = {"shop": shop, "test": test, "screenshots": screenshots, "docs": docs, "release": release}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    ensure_environment(purpose="shop" if sys.argv[1] == "shop" else "dev")
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()

"""The wheel and sdist as PyPI would get them: built, inspected, installed in a clean venv."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

import dev

# Subprocesses and servers for seconds per test: the full cells of the matrix only (noxfile.py).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]
SHIPPED = [
    "django_doku_checkout/migrations/0001_initial.py",
    "django_doku_checkout/templates/django_doku_checkout/order_status.html",
    "django_doku_checkout/templates/admin/django_doku_checkout/order/change_form.html",
    "django_doku_checkout/static/django_doku_checkout/copy_link.js",
    "django_doku_checkout/locale/id/LC_MESSAGES/django.mo",
    "django_doku_checkout/locale/id/LC_MESSAGES/django.po",
    "django_doku_checkout/simulator/templates/doku_simulator/page.html",
    "django_doku_checkout/management/commands/doku_checkout_reconcile.py",
    "django_doku_checkout/py.typed",
]

#: Every migration a release ships, in order: nothing released depends on anything before 0001.
MIGRATIONS = ["0001_initial.py", "__init__.py"]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> dict[str, Path]:
    # As `python3 dev.py release` builds them: the wheel from the sdist, as pip does.
    sdist, wheel = dev.build_distributions(tmp_path_factory.mktemp("dist"), python=sys.executable)
    return {"sdist": sdist, "wheel": wheel}


def test_twine_check_passes_on_the_sdist_and_the_wheel(artifacts):
    # PyPI's own checks of the metadata and of the README it renders as the project's page.
    result = subprocess.run(  # noqa: S603 - twine on our own artifacts
        [sys.executable, "-m", "twine", "check", "--strict", str(artifacts["sdist"]), str(artifacts["wheel"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_wheel_holds_templates_static_locale_and_migrations_only(artifacts):
    names = zipfile.ZipFile(artifacts["wheel"]).namelist()
    for shipped in SHIPPED:
        assert shipped in names
    # 0.1.0 starts the schema with one initial migration; each later release appends its own here.
    migrations = sorted(name for name in names if name.startswith("django_doku_checkout/migrations/"))
    assert migrations == [f"django_doku_checkout/migrations/{name}" for name in MIGRATIONS]
    assert not [name for name in names if name.startswith(("tests/", "example_project/", "benchmarks/", "docs/"))]
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "django_doku_checkout.testing" in zipfile.ZipFile(artifacts["wheel"]).read(entry_points).decode()


def test_sdist_holds_the_package_and_its_documents(artifacts):
    with tarfile.open(artifacts["sdist"]) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    for shipped in [*SHIPPED, "README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml"]:
        assert shipped in names
    assert not [name for name in names if name.startswith(("tests/", "example_project/", ".ci/"))]


def test_wheel_installs_in_a_clean_virtual_environment(artifacts, tmp_path):
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run(  # noqa: S603
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(artifacts["wheel"])],
        check=True,
        capture_output=True,
    )
    probe = (
        "import importlib.resources as r, django_doku_checkout as p;"
        "root = r.files(p);"
        "print(root.joinpath('locale/id/LC_MESSAGES/django.mo').is_file(),"
        " root.joinpath('templates/django_doku_checkout/base.html').is_file(),"
        " root.joinpath('migrations/0001_initial.py').is_file())"
    )
    result = subprocess.run([str(python), "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path)  # noqa: S603
    assert result.stdout.split() == ["True", "True", "True"]

"""dev.py and the hooks around it: what `shop` installs, and pre-commit running `test`'s linters."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

import dev

ROOT = Path(__file__).parents[1]


def _name(requirement: str) -> str:
    """The distribution a requirement names, normalized as PyPI does (``django_environ>=1`` -> ``django-environ``)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]).lower()


def _example_imports() -> set[str]:
    """The distributions the example shop imports, besides the standard library, the package and its own modules."""
    modules = set()
    for path in (ROOT / "example_project").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.partition(".")[0])
    assert "django_doku_checkout" in modules  # the package itself, installed by `-e .`
    own = {"shop", "example_project", "django_doku_checkout", "__future__"}
    third_party = modules - own - set(sys.stdlib_module_names)
    distributions = packages_distributions()
    return {_name(distributions[module][0]) for module in third_party}


def test_the_shop_installs_the_package_and_what_the_example_imports_and_nothing_else():
    # `python3 dev.py shop` on a fresh clone: the package (its own dependencies) and the example's
    # requirements file; no extra, so none of the test, lint or docs tools of `.[dev]`.
    install = dev.INSTALLS["shop"]
    assert install == ["-e", ".", "-r", "example_project/requirements.txt"]
    with (ROOT / "pyproject.toml").open("rb") as file:
        package = {_name(requirement) for requirement in tomllib.load(file)["project"]["dependencies"]}
    lines = (ROOT / "example_project" / "requirements.txt").read_text().splitlines()
    example = {_name(line) for line in lines if line.strip() and not line.startswith("#")}
    assert example == _example_imports() - package


@pytest.fixture
def environment(tmp_path, monkeypatch):
    """A virtual environment folder whose pip installs are recorded instead of run."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").touch()
    installs: list[list[str]] = []
    monkeypatch.setattr(dev, "run", lambda *args, **env: installs.append([str(a) for a in args[3:]]))
    return tmp_path, installs


def test_an_environment_made_for_the_shop_is_completed_by_the_first_development_command(environment):
    venv_dir, installs = environment
    dev.ensure_environment(venv_dir, purpose="shop")
    assert installs[-1] == ["install", "--quiet", *dev.INSTALLS["shop"]]
    installs.clear()
    dev.ensure_environment(venv_dir, purpose="shop")
    assert installs == []  # reused as it is
    dev.ensure_environment(venv_dir, purpose="dev")  # `python3 dev.py test` after `shop`
    assert installs[-1] == ["install", "--quiet", "-e", ".[dev]", "-r", "example_project/requirements.txt"]
    installs.clear()
    dev.ensure_environment(venv_dir, purpose="shop")  # the development set holds the shop's
    dev.ensure_environment(venv_dir, purpose="dev")
    assert installs == []


def test_pre_commit_runs_the_linters_of_dev_py_test():
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    assert re.findall(r"^\s+- repo: (\S+)", config, re.M) == ["local"]  # nothing to download
    entries = re.findall(r"^\s+entry: (.+)$", config, re.M)
    assert entries == [" ".join([f".venv/bin/{tool}", *arguments]) for tool, *arguments in dev.LINT]

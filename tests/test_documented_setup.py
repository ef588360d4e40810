"""The documentation's recipes work as written, pasted into a fresh ``django-admin startproject``.

The blocks are read from the Markdown, never copied here: a code block whose fence has
``title="settings.py"`` is appended to the new project's settings, ``title="urls.py"`` to its
URLconf, and so on, exactly as a newcomer pastes them. The standalone simulator commands the
pages show are parsed with the simulator's own options and compared with what the pasted
settings make of them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from django_doku_checkout.simulator.__main__ import argument_parser

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
LOCAL_DEVELOPMENT = ROOT / "docs" / "local-development.md"
SIMULATOR_PAGE = ROOT / "docs" / "simulator.md"
INTEGRATION = ROOT / "docs" / "integration.md"

FENCE = re.compile(
    r'^(?P<indent>[ ]*)```\w*[^\n]*?title="(?P<title>[^"]+)"[^\n]*\n(?P<body>.*?)^(?P=indent)```[ ]*$',
    re.MULTILINE | re.DOTALL,
)
SIMULATOR_COMMAND = re.compile(r"^python -m django_doku_checkout\.simulator .*$", re.MULTILINE)

#: What the new project prints about itself once the blocks are in: the URLs the app's
#: pages resolve to, and the settings as the app reads them.
REPORT = """
import json, uuid
from django.core.management import call_command
from django.urls import reverse
from django_doku_checkout.conf import get_config
from django_doku_checkout.simulator.merchants import merchants

call_command("check")  # as `manage.py check` does: raises on an error, prints what it found
config = get_config()
some_order = uuid.uuid4()
report = {
    "notification": reverse("doku_checkout:notification"),
    "pay": reverse("doku_checkout:pay", args=[some_order]),
    "return": reverse("doku_checkout:return", args=[some_order]),
    "order_uuid": str(some_order),
    "client_id": config.client_id,
    "secret_key": config.secret_key,
    "api_base_url": config.api_base_url,
    "site_url": config.site_url,
}
try:
    report["simulator_api"] = reverse("doku_simulator:checkout_payment")
    report["simulator_notifies"] = merchants()[config.client_id].notification_url
except Exception as err:
    report["simulator_api"] = repr(err)
print("REPORT" + json.dumps(report))
"""


def titled_blocks(*documents: Path) -> dict[str, str]:
    """Every titled code block of the documents, by title; a title shown twice shows the same code."""
    blocks: dict[str, str] = {}
    for document in documents:
        for match in FENCE.finditer(document.read_text(encoding="utf-8")):
            title, code = match.group("title"), textwrap.dedent(match.group("body"))
            assert blocks.setdefault(title, code) == code, f"{document.name} shows another {title!r} than the README"
    return blocks


def documented_simulator_commands(document: Path) -> list[list[str]]:
    commands = [shlex.split(line)[3:] for line in SIMULATOR_COMMAND.findall(document.read_text(encoding="utf-8"))]
    assert commands, f"{document.name} shows no standalone simulator command"
    return commands


@pytest.fixture(scope="module")
def blocks() -> dict[str, str]:
    return titled_blocks(README, LOCAL_DEVELOPMENT, INTEGRATION)


def documented_names(blocks: dict[str, str]) -> tuple[str, str]:
    """The project's and the app's names in the page's ``startproject`` and ``startapp`` commands."""
    terminal = blocks["terminal"]
    project = re.search(r"^django-admin startproject (\w+) \.$", terminal, re.MULTILINE)
    app = re.search(r"^python manage\.py startapp (\w+)$", terminal, re.MULTILINE)
    assert project, terminal
    assert app, terminal
    return project.group(1), app.group(1)


@pytest.fixture(scope="module")
def app_name(blocks) -> str:
    return documented_names(blocks)[1]


@pytest.fixture(scope="module")
def fresh_project(tmp_path_factory, blocks) -> Path:
    """``django-admin startproject mysite .`` and ``manage.py startapp <app>``, as the page says."""
    project_name, app_name = documented_names(blocks)
    project = tmp_path_factory.mktemp("pristine")
    subprocess.run([sys.executable, "-m", "django", "startproject", project_name, str(project)], check=True)  # noqa: S603
    subprocess.run([sys.executable, "manage.py", "startapp", app_name], cwd=project, check=True)  # noqa: S603
    return project


@pytest.mark.slow
@pytest.mark.parametrize("project_name", ["mysite", "shop", "myshop", "toko"])
def test_the_documented_app_name_works_beside_a_project_named_as_a_newcomer_names_one(blocks, project_name, tmp_path):
    """``startapp`` refuses a name a project already took: the page's app must not be one a shop's project is called."""
    app_name = documented_names(blocks)[1]
    subprocess.run([sys.executable, "-m", "django", "startproject", project_name, str(tmp_path)], check=True)  # noqa: S603
    started = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "startapp", app_name], cwd=tmp_path, capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr


def newcomer_environment() -> dict[str, str]:
    """This machine's environment without what the test suite sets for itself."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DOKU_", "DJANGO_", "PYTEST_")) and name not in ("SITE_URL", "DATABASE_URL")
    }


def paste(fresh_project: Path, into: Path, blocks: dict[str, str], *titles: str, files: dict[str, str] = {}) -> Path:  # noqa: B006 - read only
    """A copy of the fresh project with the named blocks appended and ``files`` written."""
    project = into / "project"
    shutil.copytree(fresh_project, project)
    for title in titles:
        assert title in blocks, f"the documentation has no block titled {title!r}"
        target = project / "mysite" / title.split(" ")[0]
        target.write_text(target.read_text() + "\n" + blocks[title])
    for path, title in files.items():
        (project / path).write_text(blocks[title])
    return project


def manage(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=project,
        env=newcomer_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def checked_report(project: Path, imports: str) -> dict[str, str]:
    """The system checks pass without a single message; then what the project says about itself.

    One process does both (``check`` as ``manage.py check`` runs it, then the documented
    imports and the report): a Django start-up costs a second or two on a busy machine.
    """
    shell = manage(project, "shell", "--no-imports", "-c", imports + REPORT)
    assert shell.returncode == 0, shell.stdout + shell.stderr
    assert "System check identified no issues" in shell.stdout, shell.stdout + shell.stderr
    return json.loads(shell.stdout.split("REPORT", 1)[1])


def assert_app_urls_resolve(report: dict[str, str]) -> None:
    assert report["notification"] == "/doku/notification/"
    assert report["pay"] == f"/doku/pay/{report['order_uuid']}/"
    assert report["return"] == f"/doku/return/{report['order_uuid']}/"


VARIANTS = {
    "os.environ": (["settings.py"], ["urls.py"]),
    "django-environ": (["settings.py (django-environ)"], ["urls.py"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_the_settings_block_passes_check_in_a_fresh_startproject_with_the_standalone_simulator(
    variant, blocks, fresh_project, tmp_path
):
    settings_titles, urls_titles = VARIANTS[variant]
    project = paste(fresh_project, tmp_path, blocks, *settings_titles, *urls_titles)
    report = checked_report(project, blocks["imports"])
    assert_app_urls_resolve(report)
    assert report["simulator_api"].startswith("NoReverseMatch")  # the simulator runs alone

    # The simulator commands the pages show match what the shop pasted.
    shop = urlsplit(report["site_url"])
    for document in (README, LOCAL_DEVELOPMENT, SIMULATOR_PAGE):
        for command in documented_simulator_commands(document):
            simulator = argument_parser().parse_args(command)
            where = f"{document.name}: {shlex.join(command)}"
            assert (simulator.client_id, simulator.secret_key) == (report["client_id"], report["secret_key"]), where
            assert simulator.notification_url == f"{shop.scheme}://{shop.netloc}{report['notification']}", where
            assert report["api_base_url"] == f"http://{simulator.host}:{simulator.port}", where
            assert simulator.port != shop.port, where


@pytest.mark.slow
def test_the_mounted_simulator_passes_check_and_calls_the_shop_back(blocks, fresh_project, tmp_path):
    project = paste(
        fresh_project,
        tmp_path,
        blocks,
        "settings.py",
        "settings.py (mounted simulator)",
        "urls.py",
        "urls.py (mounted simulator)",
    )
    report = checked_report(project, blocks["imports"])
    assert_app_urls_resolve(report)
    # The shop's client calls its own /doku-simulator/, which notifies the shop's notification URL.
    api = urlsplit(report["api_base_url"])
    shop = urlsplit(report["site_url"])
    assert api.netloc == shop.netloc
    assert report["simulator_api"] == api.path + "/checkout/v1/payment"
    assert report["simulator_notifies"] == f"{report['site_url']}{report['notification']}"


@pytest.mark.slow
def test_the_local_development_receivers_and_pytest_example_pass_as_written(blocks, app_name, fresh_project, tmp_path):
    project = paste(
        fresh_project,
        tmp_path,
        blocks,
        "settings.py",
        "settings.py (receivers)",
        "urls.py",
        files={
            f"{app_name}/receivers.py": f"{app_name}/receivers.py",
            f"{app_name}/apps.py": f"{app_name}/apps.py",
            f"{app_name}/tests.py": f"{app_name}/tests.py",
            "conftest.py": "conftest.py",
            "pytest.ini": "pytest.ini",
        },
    )
    result = subprocess.run(  # noqa: S603 - pytest on the pasted project
        # As the page says: plain `pytest`, which must find startapp's <app>/tests.py by itself.
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=newcomer_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"^2 passed", result.stdout, re.MULTILINE), result.stdout[-3000:] + result.stderr[-2000:]


def test_every_relative_link_in_the_readme_names_a_file_of_the_repository():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\((?!https?:|#|mailto:)([^)\s#]+)", text)
    assert targets, "the README links into the documentation"
    missing = [target for target in targets if not (ROOT / target).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_the_readme_lists_every_url_name_of_the_app_with_its_path():
    from django_doku_checkout import urls

    listed = dict(re.findall(r"^\| `doku_checkout:(\w+)` \| `([^`]*)` \|", README.read_text(), re.MULTILINE))
    served = {pattern.name: re.sub(r"<\w+:", "<", str(pattern.pattern)) for pattern in urls.urlpatterns}
    assert listed == served

"""MkDocs hooks: pages that live elsewhere in the repository, and the settings table, included rather than copied.

``CHANGELOG.md``, ``CONTRIBUTING.md`` and the benchmarks' ``README.md`` and ``RESULTS.md`` are written (and
regenerated, for RESULTS.md) where they are. Each becomes a page of the site under the name
below, its relative links rewritten so that a link that works on the repository (such as
``../docs/reliability.md`` from ``benchmarks/README.md``) works on the site too; the docs' own
pages' links to them (``../benchmarks/README.md``) are rewritten the same way. A link to a
file that is not on the site is left as it is, and the strict build reports it.

The table of ``DOKU_CHECKOUT``'s keys on the settings page is generated from their
declaration (``django_doku_checkout/settings_table.py``) where the page says
``<!-- settings-table -->``: a key, its default, its rule or its help is written once.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django_doku_checkout.settings_table import SETTINGS, Setting

if TYPE_CHECKING:  # MkDocs is a documentation tool: the tests read settings_table() without it
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent

#: Repository path -> path on the site.
INCLUDED = {
    "CHANGELOG.md": "changelog.md",
    "CONTRIBUTING.md": "contributing.md",
    "benchmarks/README.md": "benchmarks/README.md",
    "benchmarks/RESULTS.md": "benchmarks/RESULTS.md",
}

LINK = re.compile(r"\]\((?!#|/|[a-z][a-z0-9+.-]*:)([^)\s#]+)(#[^)\s]*)?\)")


def site_path(repository_path: str) -> str | None:
    """Where a repository file is on the site: ``docs/x.md`` is ``x.md``, included files as above."""
    if repository_path in INCLUDED:
        return INCLUDED[repository_path]
    if repository_path.startswith("docs/"):
        return repository_path.removeprefix("docs/")
    return None


def rewrite_links(markdown: str, repository_path: str, page_path: str) -> str:
    """Relative links of ``repository_path``'s text, made relative to ``page_path`` on the site."""

    def rewrite(match: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(repository_path), match.group(1)))
        on_site = site_path(target)
        if on_site is None:
            return match.group(0)
        relative = posixpath.relpath(on_site, posixpath.dirname(page_path) or ".")
        return f"]({relative}{match.group(2) or ''})"

    return LINK.sub(rewrite, markdown)


def on_files(files: Files, config: Any) -> Files:
    from mkdocs.structure.files import File

    for repository_path, page_path in INCLUDED.items():
        text = (ROOT / repository_path).read_text(encoding="utf-8")
        files.append(File.generated(config, page_path, content=rewrite_links(text, repository_path, page_path)))
    return files


#: Where the settings page shows the table of keys.
SETTINGS_TABLE = "<!-- settings-table -->"


def _default(setting: Setting) -> str:
    if setting.required:
        return "required"
    if setting.shown is not None:
        return setting.shown
    if isinstance(setting.default, str):
        return f'`"{setting.default}"`'
    return f"`{setting.default!r}`"


def settings_table() -> str:
    """The Markdown table of every key: default, what the check accepts (and its id), meaning."""
    rows = [
        "| key | default | accepted (check) | meaning |",
        "|---|---|---|---|",
        *(f"| `{s.key}` | {_default(s)} | {s.rule.expected} ({s.check_id}) | {s.help} |" for s in SETTINGS),
    ]
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Page, config: Any, files: Files) -> str:
    if page.file.src_uri not in INCLUDED.values():  # those were rewritten as they were included
        # A docs page links a file elsewhere in the repository as the repository has it
        # (``../benchmarks/README.md``): on the site, where it was included.
        markdown = rewrite_links(markdown, f"docs/{page.file.src_uri}", page.file.src_uri)
    if page.file.src_uri == "settings.md":
        return markdown.replace(SETTINGS_TABLE, settings_table())
    return markdown

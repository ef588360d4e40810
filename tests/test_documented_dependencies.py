"""The runtime dependencies the installation page names are the package's, no more and no fewer."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_installation_page_names_exactly_the_runtime_dependencies():
    page = (ROOT / "docs" / "installation.md").read_text(encoding="utf-8")
    sentence = re.search(r"runtime\s+dependencies:(?P<names>.*?)and nothing else\.", page, re.DOTALL)
    assert sentence, "installation.md no longer lists the runtime dependencies"
    documented = re.findall(r"`([^`]+)`", sentence.group("names"))

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]

    assert sorted(documented) == sorted(declared)

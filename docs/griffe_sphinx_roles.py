"""Griffe extension: the code's docstrings are reStructuredText-flavoured, the site is Markdown.

Sphinx cross-reference roles (``:class:`DokuValidationError```) become code spans, and a
paragraph ending in ``::`` (reST's "a literal block follows") ends in one colon; the
indented block after it is already a Markdown code block.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:mod|class|func|meth|attr|data|exc|obj|const):`~?\.?([^`]+)`")
LITERAL_BLOCK = re.compile(r"(?<=\S)::$", re.MULTILINE)


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = LITERAL_BLOCK.sub(":", ROLE.sub(r"`\1`", obj.docstring.value))

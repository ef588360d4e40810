"""System checks for ``DOKU_CHECKOUT``; the ids are listed in the README and never reused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.checks import Warning as CheckWarning

from django_doku_checkout.conf import Problem, find_deployment_problems, find_problems


def _as_messages(problems: list[Problem]) -> list[CheckMessage]:
    return [
        (Error if problem.level == "error" else CheckWarning)(problem.message, hint=problem.hint, id=problem.id)
        for problem in problems
    ]


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    return _as_messages(find_problems(getattr(settings, "DOKU_CHECKOUT", None), debug=settings.DEBUG))


def check_deployment(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    return _as_messages(find_deployment_problems(getattr(settings, "DOKU_CHECKOUT", None), debug=settings.DEBUG))

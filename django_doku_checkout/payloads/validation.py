"""The engine that checks a JSON body against a table of field rules (DOKU's rules are in :mod:`.rules`).

A rule names a field by its path (``order.amount``, or ``name`` inside a line item) and what
its value must be. The engine never raises on odd input: any JSON value is read, and every
problem is reported at once, in DOKU's own wording style (``order.amount must greater than 0``),
each message once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django_doku_checkout.exceptions import DokuValidationError

#: The largest amount DOKU takes: 12 digits.
MAX_AMOUNT = 999_999_999_999

#: Stands for a field the body does not have (``None`` is a value DOKU may refuse).
MISSING: Any = object()


@dataclass
class ValidationResult:
    """Every problem found in a body: ``errors`` block sending, ``warnings`` do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def raise_for_errors(self) -> None:
        if self.errors:
            raise DokuValidationError(self.errors)


def get(node: object, path: str) -> Any:
    """The value at a dotted ``path`` in nested objects, or :data:`MISSING`."""
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


def is_int(value: object) -> bool:
    """Whether ``value`` is a JSON whole number (``true`` is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_blank(value: object) -> bool:
    return value is MISSING or value is None or (isinstance(value, str) and not value.strip())


class Checker:
    """Collects the problems of one body; each message is reported once."""

    def __init__(self) -> None:
        self.result = ValidationResult()

    def error(self, message: str) -> None:
        if message not in self.result.errors:
            self.result.errors.append(message)

    def warn(self, message: str) -> None:
        self.result.warnings.append(message)

    def filled(self, name: str, value: object) -> bool:
        if is_blank(value):
            self.error(f"{name} must be filled")
            return False
        return True


@dataclass(frozen=True)
class FieldRule:
    """What one field's value must be; ``key`` is its path in the object the rule is applied to."""

    key: str
    required: bool = False

    def check(self, checker: Checker, name: str, value: object, *, required: bool = False) -> bool:
        """Report what is wrong with ``value`` (the field called ``name``); True when it is present and valid.

        ``required`` makes the field mandatory where the rule alone does not.
        """
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Text(FieldRule):
    """A string; a blank one counts as absent."""

    max_length: int | None = None
    exact_length: int | None = None
    pattern: re.Pattern[str] | None = None
    #: What ``pattern`` asks, as DOKU would say it after the field's name.
    pattern_rule: str = ""

    def check(self, checker: Checker, name: str, value: object, *, required: bool = False) -> bool:
        if is_blank(value):
            if required or self.required:
                checker.error(f"{name} must be filled")
            return False
        if not isinstance(value, str):
            checker.error(f"{name} must be a string")
            return False
        problems = []
        if self.exact_length is not None and len(value) != self.exact_length:
            problems.append(f"{name} must be exactly {self.exact_length} characters")
        if self.max_length is not None and len(value) > self.max_length:
            problems.append(f"{name} must be at most {self.max_length} characters")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            problems.append(f"{name} {self.pattern_rule}")
        for problem in problems:
            checker.error(problem)
        return not problems


@dataclass(frozen=True)
class Url(FieldRule):
    """An absolute http(s) URL of at most 2,000 characters."""

    def check(self, checker: Checker, name: str, value: object, *, required: bool = False) -> bool:
        valid = Text(self.key, required=self.required, max_length=2000).check(checker, name, value, required=required)
        if isinstance(value, str) and value.strip():
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                checker.error(f"{name} must be an absolute http(s) URL")
                return False
        return valid


@dataclass(frozen=True, kw_only=True)
class WholeNumber(FieldRule):
    """A whole number from ``low`` to ``high``."""

    low: int
    high: int

    def check(self, checker: Checker, name: str, value: object, *, required: bool = False) -> bool:
        if value is MISSING or value is None:
            if required or self.required:
                checker.error(f"{name} must be filled")
            return False
        if not is_int(value):
            checker.error(f"{name} must be a whole number")
            return False
        assert isinstance(value, int)  # noqa: S101  (narrowing for mypy)
        if not self.low <= value <= self.high:
            checker.error(f"{name} must be between {self.low} and {self.high}")
            return False
        return True


@dataclass(frozen=True)
class Boolean(FieldRule):
    """``true`` or ``false``."""

    def check(self, checker: Checker, name: str, value: object, *, required: bool = False) -> bool:
        if value is MISSING or value is None:
            if required or self.required:
                checker.error(f"{name} must be filled")
            return False
        if not isinstance(value, bool):
            checker.error(f"{name} must be true or false")
            return False
        return True


@dataclass(frozen=True)
class Amount(FieldRule):
    """An amount of rupiah: always required, a whole number above zero of at most 12 digits."""

    required: bool = True

    def check(self, checker: Checker, name: str, value: object, *, required: bool = True) -> bool:
        if value is MISSING or value is None:
            checker.error(f"{name} must be filled")
            return False
        if not is_int(value):
            checker.error(f"{name} must be a whole number of rupiah (no decimals)")
            return False
        assert isinstance(value, int)  # noqa: S101
        if value <= 0:
            checker.error(f"{name} must greater than 0")
            return False
        if value > MAX_AMOUNT:
            checker.error(f"{name} must be at most 12 digits")
            return False
        return True


def check_fields(
    checker: Checker,
    prefix: str,
    values: Mapping[str, Any],
    table: Iterable[FieldRule],
    *,
    required: Iterable[str] = (),
) -> set[str]:
    """Apply every rule of ``table`` to ``values``; ``required`` adds to the rules' own. Returns the valid keys."""
    wanted = set(required)
    return {
        rule.key
        for rule in table
        if rule.check(checker, prefix + rule.key, get(values, rule.key), required=rule.key in wanted)
    }


def check_object(
    checker: Checker, name: str, value: object, table: Iterable[FieldRule], *, required: Iterable[str] = ()
) -> None:
    """Check the object ``name``: its ``required`` keys first (sorted), then every rule of ``table``."""
    wanted = sorted(set(required))
    if value is MISSING or value is None:
        for key in wanted:
            checker.error(f"{name}.{key} must be filled")
        return
    if not isinstance(value, Mapping):
        checker.error(f"{name} must be an object")
        return
    for key in wanted:
        checker.filled(f"{name}.{key}", value.get(key, MISSING))
    check_fields(checker, f"{name}.", value, table)


#: A rule that ties fields together: ``(checker, body, context)``, reporting through the checker.
Step = Callable[[Checker, Mapping[str, Any], Any], None]


def apply(
    checker: Checker,
    body: Mapping[str, Any],
    steps: Sequence[FieldRule | Step],
    context: object = None,
    *,
    required: Iterable[str] = (),
) -> None:
    """Check ``body`` against ``steps`` in order: field rules at their paths, and the functions that tie fields together.

    ``required`` names the paths the context makes mandatory besides the rules' own.
    """
    wanted = set(required)
    for step in steps:
        if isinstance(step, FieldRule):
            step.check(checker, step.key, get(body, step.key), required=step.key in wanted)
        else:
            step(checker, body, context)

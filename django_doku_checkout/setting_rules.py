"""How a ``DOKU_CHECKOUT`` key is declared (:class:`Setting`) and what its value may be (a :class:`Rule`).

A rule says what it expects (the words the system check prints: "... must be <expected>,
not <value>."), whether a value is acceptable, and how an acceptable value is read into
the settings object. The keys themselves are declared once, each with its rule, in
:mod:`django_doku_checkout.settings_table`. Every check speaks Django's ``CheckMessage``
(:func:`check_message`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from django.core.checks import CheckMessage, Error
from django.core.checks import Warning as CheckWarning
from django.utils.module_loading import import_string

from django_doku_checkout.payloads import HEX_COLOUR


@dataclass(frozen=True)
class Rule:
    """A kind of value; subclasses say which. ``expected`` completes "must be ..."."""

    expected: str

    def accepts(self, value: object) -> bool:
        raise NotImplementedError

    def read(self, value: Any) -> Any:
        """An accepted value as the settings object holds it."""
        return value


def _number(value: object) -> float | None:
    """A number as a float; None for anything else, ``True`` and ``False`` included."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Text(Rule):
    """A string with something in it, at most ``max_length`` characters."""

    expected: str = "a non-empty string"
    max_length: int | None = None

    def accepts(self, value: object) -> bool:
        if not isinstance(value, str) or not value.strip():
            return False
        return self.max_length is None or len(value.strip()) <= self.max_length


@dataclass(frozen=True)
class OffWhenEmpty(Text):
    """A :class:`Text`, or ``""`` read as None (off): what ``os.environ.get`` gives for ``NAME=`` in an env file."""

    def accepts(self, value: object) -> bool:
        return value == "" or super().accepts(value)

    def read(self, value: Any) -> Any:
        return value or None


@dataclass(frozen=True)
class Choice(Rule):
    """One of a few strings."""

    choices: tuple[str, ...] = ()

    def accepts(self, value: object) -> bool:
        return value in self.choices


def choice(*choices: str) -> Choice:
    """``choice("a", "b", "c")`` expects "'a', 'b' or 'c'"."""
    quoted = [repr(option) for option in choices]
    return Choice(f"{', '.join(quoted[:-1])} or {quoted[-1]}", choices)


@dataclass(frozen=True)
class Flag(Rule):
    expected: str = "True or False"

    def accepts(self, value: object) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class WholeNumber(Rule):
    """An ``int`` (never a ``bool``) from ``low`` to ``high``."""

    low: int = 0
    high: int = 0

    def accepts(self, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high


def whole_number(low: int, high: int, expected: str | None = None) -> WholeNumber:
    return WholeNumber(expected or f"a whole number from {low} to {high}", low, high)


@dataclass(frozen=True)
class Seconds(Rule):
    """A number of seconds, whole or not, from ``low`` to ``high``; read as a ``float``."""

    low: float = 0
    high: float = 0

    def accepts(self, value: object) -> bool:
        number = _number(value)
        return number is not None and self.low <= number <= self.high

    def read(self, value: Any) -> float:
        return float(value)


def seconds(low: float, high: float) -> Seconds:
    return Seconds(f"a number of seconds from {low:g} to {high:g}", low, high)


def timeouts(value: object) -> tuple[float, float] | None:
    """(connect, read) seconds from a positive number or a pair of them, or None when invalid."""
    number = _number(value)
    if number is not None:
        return (number, number) if number > 0 else None
    if isinstance(value, list | tuple) and len(value) == 2:
        pair = [timeouts(v) for v in value]
        if pair[0] and pair[1]:
            return (pair[0][0], pair[1][0])
    return None


@dataclass(frozen=True)
class Timeouts(Rule):
    """Connect and read timeouts: one positive number for both, or a (connect, read) pair."""

    expected: str = "a positive number of seconds or a (connect, read) pair of them"

    def accepts(self, value: object) -> bool:
        return timeouts(value) is not None

    def read(self, value: Any) -> tuple[float, float]:
        return timeouts(value) or (0.0, 0.0)


def is_http_url(value: object) -> bool:
    if not isinstance(value, str) or not value:
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and not parts.query and not parts.fragment


@dataclass(frozen=True)
class HttpUrl(Rule):
    """An absolute http(s) URL without a query; a base URL is read without its trailing slash."""

    expected: str = "an http(s) URL with a host and no query string"
    base: bool = False

    def accepts(self, value: object) -> bool:
        return is_http_url(value)

    def read(self, value: Any) -> Any:
        return value.rstrip("/") if self.base and value else value


@dataclass(frozen=True)
class UrlPath(Rule):
    expected: str = "a URL path starting with '/' and without a query string"

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and value.startswith("/") and "?" not in value


@dataclass(frozen=True)
class Strings(Rule):
    """A list or tuple of non-empty strings; read as a tuple."""

    def accepts(self, value: object) -> bool:
        return isinstance(value, list | tuple) and all(isinstance(item, str) and item for item in value)

    def read(self, value: Any) -> tuple[str, ...]:
        return tuple(value)


@dataclass(frozen=True)
class Colours(Rule):
    """A dict of hex colours under the given keys; read as a new dict."""

    keys: Collection[str] = ()

    def accepts(self, value: object) -> bool:
        return isinstance(value, Mapping) and all(
            key in self.keys and isinstance(colour, str) and HEX_COLOUR.fullmatch(colour)
            for key, colour in value.items()
        )

    def read(self, value: Any) -> dict[str, str]:
        return dict(value)


def colours(*keys: str) -> Colours:
    return Colours(f"a dict of hex colours with the keys {', '.join(keys)}", keys)


@dataclass(frozen=True)
class CallablePath(Rule):
    expected: str = "the dotted path of a callable that can be imported"

    def accepts(self, value: object) -> bool:
        if not isinstance(value, str) or "." not in value:
            return False
        try:
            return callable(import_string(value))
        except ImportError:
            return False


@dataclass(frozen=True)
class Name(Rule):
    """A name or dotted path: a string with something in it and no spaces (whether it resolves is W007's)."""

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and bool(value.strip()) and " " not in value


def setting_name(key: str) -> str:
    """How messages name a key: ``DOKU_CHECKOUT['KEY']``."""
    return f"DOKU_CHECKOUT[{key!r}]"


def check_message(level: Literal["error", "warning"], check_id: str, message: str, hint: str) -> CheckMessage:
    """A system check's message with the package's id, ``django_doku_checkout.<check_id>``."""
    kind = Error if level == "error" else CheckWarning
    return kind(message, hint=hint, id=f"django_doku_checkout.{check_id}")


@dataclass(frozen=True, eq=False)
class Setting:
    """One key of ``DOKU_CHECKOUT``: everything the app, the checks and the docs know about it.

    ``default`` None means the key is optional (None is accepted) unless ``required``;
    ``fallback`` computes the value of an unset optional key from the keys read before it.
    ``hint`` is the fix the check suggests (the default is added to it); ``shown`` is the
    default as the docs table shows it, when ``repr()`` would not say it well.
    """

    key: str
    default: Any
    rule: Rule
    check_id: str
    help: str
    hint: str = ""
    required: bool = False
    secret: bool = False
    fallback: Callable[[Mapping[str, Any]], Any] | None = None
    shown: str | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not None and not self.required

    @property
    def optional(self) -> bool:
        """None is accepted: the key has no default and is not required."""
        return self.default is None and not self.required

    def problem(self, raw: Mapping[str, Any]) -> CheckMessage | None:
        """The check's error for this key's value in ``raw``, or None when the value is acceptable."""
        value = raw.get(self.key, self.default)
        if (value is None and self.optional) or self.rule.accepts(value):
            return None
        found = "" if self.secret else f", not {value!r}"
        hint = " ".join(filter(None, [self.hint, f"The default is {self.default!r}." if self.has_default else ""]))
        return check_message(
            "error", self.check_id, f"{setting_name(self.key)} must be {self.rule.expected}{found}.", hint
        )

    def read(self, raw: Mapping[str, Any], before: Mapping[str, Any]) -> Any:
        """The acceptable value in ``raw`` as the settings object holds it; ``before``: keys read so far."""
        value = raw.get(self.key, self.default)
        if value is None and self.fallback is not None:
            value = self.fallback(before)
        return None if value is None else self.rule.read(value)

    def field(self, part: int | None = None) -> Any:
        """The dataclass field this key is read into (``part``: one item of a pair, as for TIMEOUT)."""
        metadata = {"setting": self, "part": part}
        if self.required:
            return field(metadata=metadata, repr=not self.secret)
        value = self.read({}, {})
        if part is not None:
            value = value[part]
        if isinstance(value, dict):
            return field(default_factory=lambda: dict(value), metadata=metadata, repr=not self.secret)
        return field(default=value, metadata=metadata, repr=not self.secret)

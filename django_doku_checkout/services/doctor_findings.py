"""What the going-live doctor found: each finding with its status and what to do, and the report of them all."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

OK, WARNING, PROBLEM = "ok", "warning", "problem"

#: Each check's title, in the order the report lists them.
TITLES = {
    "settings": "Settings",
    "credentials": "Client-Id and secret key",
    "cleanup": "The doctor's payment link",
    "clock": "Clock",
    "notification_url": "Notification URL",
    "callback_urls": "Return URLs",
    "csp": "Content Security Policy",
    "deploy": "Going live",
}

#: The shortest secret scrubbed from the report's text.
_SCRUBBED_LENGTH = 6

#: Where a finding's further lines start: under its title, past the widest status.
_INDENT = " " * (len(PROBLEM) + 2)


@dataclass(frozen=True)
class Finding:
    """One check's outcome: ``status`` is ok, warning or problem; ``action`` is the next step, if any."""

    check: str
    status: str
    summary: str
    action: str = ""
    details: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The finding as the command prints it: its status and title, then its details and what to do."""
        lines = [f"{self.status:<{len(_INDENT)}}{TITLES[self.check]}: {self.summary}"]
        lines += [_INDENT + detail for detail in self.details]
        if self.action:
            lines.append(f"{_INDENT}What to do: {self.action}")
        return lines


def mask(client_id: str) -> str:
    """The Client-Id as the doctor shows it: enough to recognise it, not to copy it."""
    if len(client_id) >= 12:
        return f"{client_id[:4]}****{client_id[-4:]}"
    return f"{client_id[:2]}****"


@dataclass(frozen=True)
class DoctorReport:
    """Every finding, and what was examined: the environment, DOKU's address, the masked Client-Id."""

    environment: str
    api_base_url: str
    client_id: str
    findings: Sequence[Finding]
    #: What must never be shown (the secret keys, the whole Client-Id): scrubbed from any text.
    _hidden: Sequence[tuple[str, str]] = field(default=(), repr=False)

    @classmethod
    def of(
        cls,
        findings: Iterable[Finding],
        *,
        environment: str = "",
        api_base_url: str = "",
        client_id: str = "",
        secrets: Iterable[str] = (),
    ) -> DoctorReport:
        # Only keys long enough not to be found by chance in ordinary words.
        hidden = [(secret, "[redacted]") for secret in secrets if len(secret) >= _SCRUBBED_LENGTH]
        # A simulator's Client-Id opens no account: the command that starts one shows it whole.
        if client_id and environment != "simulator":
            hidden.append((client_id, mask(client_id)))
        return cls(environment, api_base_url, mask(client_id) if client_id else "", tuple(findings), tuple(hidden))

    def count(self, status: str) -> int:
        return sum(finding.status == status for finding in self.findings)

    @property
    def ok(self) -> bool:
        """Whether nothing stands in the way of going live (warnings may still)."""
        return self.count(PROBLEM) == 0

    def _scrubbed(self, text: str) -> str:
        # A safety net: no finding is written with a secret, but DOKU's error texts are its own.
        for secret, shown in self._hidden:
            text = text.replace(secret, shown)
        return text

    def as_text(self) -> str:
        """The report for people: a heading, each finding, and the count of problems and warnings."""
        lines = [f"DOKU doctor: {self.environment} at {self.api_base_url}, Client-Id {self.client_id}"]
        if not self.environment:
            lines = ["DOKU doctor"]
        for finding in self.findings:
            lines += finding.lines()
        problems, warnings = self.count(PROBLEM), self.count(WARNING)
        if problems:
            lines.append(f"{_plural(problems, 'problem')}, {_plural(warnings, 'warning')}: fix the problems first.")
        else:
            lines.append(f"No problems, {_plural(warnings, 'warning')}.")
        return self._scrubbed("\n".join(lines))

    def as_json(self) -> str:
        """The report for monitors and scripts."""
        data: dict[str, Any] = {
            "ok": self.ok,
            "environment": self.environment,
            "api_base_url": self.api_base_url,
            "client_id": self.client_id,
            "problems": self.count(PROBLEM),
            "warnings": self.count(WARNING),
            "findings": [{**asdict(finding), "details": list(finding.details)} for finding in self.findings],
        }
        return self._scrubbed(json.dumps(data, indent=2))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"

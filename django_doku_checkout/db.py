"""Short transactions that survive SQLite's single-writer lock (placeholder, replaced by the helper's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import transaction

T = TypeVar("T")


def atomic_with_retry(func: Callable[[], T], *, using: str | None = None) -> T:
    with transaction.atomic(using=using):
        return func()

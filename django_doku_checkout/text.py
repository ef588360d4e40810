"""DOKU's values as text every database stores: the one place that makes an answer's value a column's text."""

from __future__ import annotations


def storable(value: object, max_length: int | None = None) -> str:
    """``value`` (text or a whole number) as text to store; any other value is ``""``.

    NUL characters are replaced (PostgreSQL refuses them) and the text is cut to the column's
    ``max_length``. A boolean, a list or an object in DOKU's answer where text belongs is
    stored as nothing rather than as Python's spelling of it (the raw body is kept elsewhere).
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    text = str(value).replace("\x00", "\ufffd")
    return text[:max_length] if max_length is not None else text

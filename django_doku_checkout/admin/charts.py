"""The dashboard's charts as SVG geometry, computed here and drawn by the template.

No script and no style: every bar is a ``<rect>`` whose position and size are attributes,
coloured by a class of the app's stylesheet, so the page passes a Content Security Policy
with neither ``'unsafe-inline'`` nor a script source. Each bar carries its figure as the
text of a ``<title>`` (a tooltip, and what a screen reader reads); the panels show the same
figures in a table beside the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: The drawing's coordinate system (``viewBox``): the stylesheet scales it to the panel's width.
WIDTH = 400
HEIGHT = 100
#: The horizontal bars' row height, the room between a label, its bar and its figure, and the
#: least room a bar keeps when labels and figures are long (they are shortened past it).
ROW = 22
GAP = 8
BAR = 60
#: The size of the charts' text (``.doku-chart text`` in the stylesheet), in the drawing's units.
FONT = 12
#: Upper bounds of the characters' widths, in ems: DejaVu Sans's (Linux's sans-serif, wider than
#: Arial, Helvetica, Roboto and Segoe UI), so a text measured here is never wider in a browser.
NARROW = frozenset(" '(),-./:;IJ[\\]fijlrt|")
WIDE = frozenset("#%&+<=>@MW^mw~")
ELLIPSIS = "\u2026"


@dataclass(frozen=True)
class Bar:
    """One ``<rect>``: where it is, how big, what its ``<title>`` says, and its link (or ``""``)."""

    x: float
    y: float
    width: float
    height: float
    title: str
    href: str = ""
    label: str = ""
    value: str = ""
    #: The label and the figure as drawn: shortened when they do not fit whole.
    shown_label: str = ""
    shown_value: str = ""

    @property
    def text_y(self) -> float:
        """The baseline of a row's label and figure, inside the row."""
        return round(self.y + self.height - 4, 2)

    @property
    def label_x(self) -> float:
        """Where a row's label ends: just left of its bar."""
        return round(self.x - GAP, 2)

    @property
    def value_x(self) -> float:
        """Where a row's figure starts: just right of its bar."""
        return round(self.x + self.width + GAP, 2)


@dataclass(frozen=True)
class Chart:
    """A drawing: its size, its bars, and the scale's top figure as text."""

    width: int
    height: int
    bars: list[Bar]
    top: str = ""


def columns(
    values: Sequence[int], titles: Sequence[str], hrefs: Sequence[str] = (), *, top: str = "", height: int = HEIGHT
) -> Chart:
    """Vertical bars side by side, one per value, scaled to the largest (an empty chart is flat)."""
    highest = max(values, default=0) or 1
    slot = WIDTH / max(len(values), 1)
    gap = min(2.0, slot / 4)
    bars = []
    for index, value in enumerate(values):
        tall = round(value / highest * (height - 2), 2)
        bars.append(
            Bar(
                x=round(index * slot + gap / 2, 2),
                y=round(height - tall, 2),
                width=round(slot - gap, 2),
                height=tall,
                title=titles[index],
                href=hrefs[index] if hrefs else "",
            )
        )
    return Chart(width=WIDTH, height=height, bars=bars, top=top)


def text_width(text: str) -> float:
    """At most how wide ``text`` is drawn, in the drawing's units (see :data:`NARROW`)."""
    ems = 0.0
    for character in text:
        if character in NARROW:
            ems += 0.4
        elif character in WIDE or not character.isascii():
            ems += 1.0
        elif character.isupper():
            ems += 0.8
        else:
            ems += 0.64
    return ems * FONT


def fit(text: str, room: float) -> str:
    """``text``, or as much of it as fits ``room`` followed by an ellipsis."""
    if text_width(text) <= room:
        return text
    while text and text_width(text + ELLIPSIS) > room:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


def rows(values: Sequence[int], labels: Sequence[str], shown: Sequence[str], hrefs: Sequence[str] = ()) -> Chart:
    """Horizontal bars, one row each: the label left, the bar, its figure right of the bar.

    The columns fit the texts: the figures' column their widest, the labels' the rest but
    :data:`BAR`, up to their widest; a text wider than its column is shortened (the bar's
    ``<title>`` and the panel's table say it whole).
    """
    highest = max(values, default=0) or 1
    figures = min(max((text_width(text) for text in shown), default=0), WIDTH - BAR - 2 * GAP)
    label_room = min(max((text_width(text) for text in labels), default=0), WIDTH - BAR - 2 * GAP - figures)
    room = WIDTH - label_room - figures - 2 * GAP
    bars = [
        Bar(
            x=round(label_room + GAP, 2),
            y=index * ROW + 3,
            width=round(value / highest * room, 2),
            height=ROW - 6,
            title=f"{labels[index]}: {shown[index]}",
            href=hrefs[index] if hrefs else "",
            label=labels[index],
            value=shown[index],
            shown_label=fit(labels[index], label_room),
            shown_value=fit(shown[index], figures),
        )
        for index, value in enumerate(values)
    ]
    return Chart(width=WIDTH, height=max(len(bars), 1) * ROW, bars=bars)

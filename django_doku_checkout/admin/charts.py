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
#: The horizontal bars' row height and the room left of them for their labels.
ROW = 22
LABEL = 130


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

    @property
    def text_y(self) -> float:
        """The baseline of a row's label and figure, inside the row."""
        return round(self.y + self.height - 4, 2)

    @property
    def value_x(self) -> float:
        """Where a row's figure starts: just right of its bar."""
        return round(self.x + self.width + 6, 2)


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


def rows(values: Sequence[int], labels: Sequence[str], shown: Sequence[str], hrefs: Sequence[str] = ()) -> Chart:
    """Horizontal bars, one row each: the label left, the bar, its figure right of the bar."""
    highest = max(values, default=0) or 1
    room = WIDTH - LABEL - 140  # the figure's text after the longest bar
    bars = [
        Bar(
            x=LABEL,
            y=index * ROW + 3,
            width=round(value / highest * room, 2),
            height=ROW - 6,
            title=f"{labels[index]}: {shown[index]}",
            href=hrefs[index] if hrefs else "",
            label=labels[index],
            value=shown[index],
        )
        for index, value in enumerate(values)
    ]
    return Chart(width=WIDTH, height=max(len(bars), 1) * ROW, bars=bars)

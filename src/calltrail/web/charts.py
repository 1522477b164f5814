"""Stacked bar charts laid out for inline SVG, each with the table that is its text alternative.

Pure: no I/O. The figures come from the usage API's pre-computed series; this module only
scales them. The template draws the SVG (hidden from assistive technology as one image named by
its caption) and the table beside it, with the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 1000
HEIGHT = 260
LEFT = 56
RIGHT = 8
TOP = 10
BOTTOM = 28
GRID_LINES = 4
MAX_X_LABELS = 12


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    color: int
    title: str


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    """A stacked bar chart: geometry for the SVG, and rows for its table."""

    title: str
    unit: str
    series: tuple[str, ...]
    colors: tuple[int, ...]
    segments: tuple[Segment, ...]
    grid: tuple[Label, ...]
    x_labels: tuple[Label, ...]
    table: tuple[tuple[str, tuple[str, ...], str], ...]
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT


def nice_step(value: float, *, whole: bool) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value``; at least 1 and
    never 2.5 for ``whole`` numbers (a count axis ticks at whole numbers)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        if step >= value and not (whole and (step < 1 or step != int(step))):
            return float(step)
    return float(max(10 * power, 1))


def number(value: float, decimals: int) -> str:
    """``1,234`` or ``1,234.5`` (trailing zeros dropped)."""
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def stacked(
    title: str,
    unit: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    decimals: int = 0,
    colors: Sequence[int] = (),
) -> Chart:
    """One bar per label, stacked by series (values are read in the series' order); series
    ``i`` is drawn in palette colour ``colors[i]`` (default ``i``)."""
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    top = nice_step(max(totals, default=0) / GRID_LINES, whole=decimals == 0) * GRID_LINES
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(labels), 1)
    bar = max(slot * 0.75, 1.0)
    segments: list[Segment] = []
    for i, label in enumerate(labels):
        base = 0.0
        x = round(LEFT + i * slot + (slot - bar) / 2, 2)
        for index, (name, values) in enumerate(series):
            value = values[i]
            if value <= 0:
                continue
            height = value / top * plot_height
            y = TOP + plot_height - (base + value) / top * plot_height
            text = f"{label}: {name} {number(value, decimals)} {unit}"
            color = colors[index] if index < len(colors) else index
            segments.append(Segment(x, round(y, 2), round(bar, 2), round(height, 2), color, text))
            base += value
    grid = tuple(
        Label(LEFT - 6, round(TOP + plot_height - k / GRID_LINES * plot_height, 2), number(top * k / GRID_LINES, 2))
        for k in range(GRID_LINES + 1)
    )
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    x_labels = tuple(
        Label(round(LEFT + i * slot + slot / 2, 2), HEIGHT - 8, label)
        for i, label in enumerate(labels)
        if i % every == 0
    )
    table = tuple(
        (
            label,
            tuple(number(values[i], decimals) for _, values in series),
            number(totals[i], decimals),
        )
        for i, label in enumerate(labels)
    )
    names = tuple(name for name, _ in series)
    palette = tuple(colors[i] if i < len(colors) else i for i in range(len(series)))
    return Chart(title, unit, names, palette, tuple(segments), grid, x_labels, table)

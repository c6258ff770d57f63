"""Chart geometry in pixels: axis ticks, polyline paths and threshold lines.

Pure numbers in, numbers and short labels out; templates only place them, so every
label still passes through the template's escaping.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from dashboards.data import MetricData
from dashboards.markers import Marker
from renderers.fmt import fmt_number, fmt_threshold, fmt_time

MIN_BAND_PX = 3.0  # a minute-long fault stays visible at a week's range
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Tick:
    pos: float  # pixels along the axis
    label: str


@dataclass(frozen=True)
class Line:
    d: str  # SVG path data; "" when the metric has no data in range
    index: int  # colour slot
    label: str
    metric_id: str


@dataclass(frozen=True)
class Band:
    """A marker shaded over the plot: an alert episode or a fault."""

    x: float
    width: float
    kind: str  # alert | fault
    label: str  # what and when, shown on hover


@dataclass(frozen=True)
class ThresholdLine:
    y: float
    label: str
    label_y: float  # baseline of the label: above the line, or below when crowded


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    unit: str
    xticks: tuple[Tick, ...]
    yticks: tuple[Tick, ...]
    lines: tuple[Line, ...]
    thresholds: tuple[ThresholdLine, ...]
    bands: tuple[Band, ...] = ()
    start: float = 0.0  # the time at ``left``
    end: float = 0.0  # the time at ``right``
    ts: str = ""  # the points' times, comma-separated, for values on hover
    values: tuple[str, ...] = ()  # per line: its values at ``ts`` ("" where none)
    spacing: float = 0.0  # seconds between points (0 with fewer than two)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 2.5, 5 × 10^k steps)."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0, 1.0]
    if hi - lo < 1e-12:
        pad = abs(hi) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    v = first
    while v < hi + step * 0.999:
        ticks.append(round(v, 10))
        v += step
    return ticks


def time_ticks(start: float, end: float, count: int = 6) -> list[tuple[float, str]]:
    """Tick instants on whole hours or days, labelled for the span shown."""
    span = end - start
    steps = [300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400]
    step = next((s for s in steps if span / s <= count), 7 * 86400)
    first = math.ceil(start / step) * step
    out = []
    for ts in np.arange(first, end + 1, step):
        dt = datetime.fromtimestamp(float(ts), UTC)
        if step >= 86400 or (dt.hour == 0 and dt.minute == 0):  # a new day shows its date
            label = dt.strftime("%a %d")
        else:
            label = dt.strftime("%H:%M")
        out.append((float(ts), label))
    return out


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    """Polyline path; a NaN breaks the line so gaps show as gaps."""
    parts: list[str] = []
    pen_down = False
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        if math.isnan(y):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
    return "".join(parts)


def _csv(values: np.ndarray, fmt: str) -> str:
    return ",".join("" if math.isnan(v) else format(v, fmt) for v in values.tolist())


def _bands(markers: Sequence[Marker], metrics: Sequence[MetricData], start: float,
           end: float, x_px: Callable[[float], float]) -> tuple[Band, ...]:
    shown = {m.id for m in metrics}
    out = []
    for mk in markers:
        until = mk.until(end)
        if not shown.intersection(mk.metrics) or until < start or mk.start > end:
            continue
        x0, x1 = x_px(max(mk.start, start)), x_px(min(until, end))
        when = f"{fmt_time(mk.start)} – {fmt_time(mk.end) if mk.end is not None else 'now'}"
        out.append(Band(x0, max(x1 - x0, MIN_BAND_PX), mk.kind, f"{mk.label}: {when}"))
    return tuple(out)


def build_chart(metrics: Sequence[MetricData], start: float, end: float,
                width: float = 600, height: float = 200,
                markers: Sequence[Marker] = ()) -> Chart:
    left, right, top, bottom = 52.0, width - 12.0, 10.0, height - 24.0
    finite = [m.values[~np.isnan(m.values)] for m in metrics]
    data = np.concatenate(finite) if finite else np.empty(0)
    limits = [m.threshold.value for m in metrics if m.threshold is not None]
    pool = np.concatenate([data, np.asarray(limits, dtype=float)])
    lo, hi = (float(pool.min()), float(pool.max())) if len(pool) else (0.0, 1.0)
    # Non-negative quantities start at zero unless that squashes the detail (e.g. 99.9x%).
    # Counts (regions, items) start at zero too, so a flat 3 of 3 reads as full.
    whole = len(pool) > 0 and bool(np.all(pool == np.round(pool)))
    if lo >= 0 and (lo < (hi - lo) * 1.5 or whole):
        lo = 0.0
    yt = nice_ticks(lo, hi)
    y0, y1 = yt[0], yt[-1]

    def y_px(v: np.ndarray | float) -> np.ndarray | float:
        return bottom - (np.asarray(v) - y0) / (y1 - y0) * (bottom - top)

    def x_px(t: np.ndarray | float) -> np.ndarray | float:
        return left + (np.asarray(t) - start) / max(end - start, 1e-9) * (right - left)

    unit = metrics[0].unit if metrics else ""
    lines = tuple(
        Line(_path(np.asarray(x_px(m.ts)), np.asarray(y_px(m.values))), i, m.title, m.id)
        for i, m in enumerate(metrics)
    )
    seen: set[float] = set()
    thresholds: list[ThresholdLine] = []
    for m in sorted((m for m in metrics if m.threshold is not None),
                    key=lambda m: -m.threshold.value):  # type: ignore[union-attr]
        target = m.threshold
        assert target is not None
        if target.value in seen:
            continue
        seen.add(target.value)
        y = float(y_px(target.value))
        label_y = y - 4
        # Below the line when the label would leave the plot or sit on the one above.
        if label_y - 10 < top or any(abs(label_y - t.label_y) < 12 for t in thresholds):
            label_y = y + 13
        thresholds.append(ThresholdLine(y, fmt_threshold(target, m.unit), label_y))
    return Chart(
        width=width, height=height, left=left, right=right, top=top, bottom=bottom,
        unit=unit,
        xticks=tuple(Tick(float(x_px(t)), label) for t, label in time_ticks(start, end)
                     if left <= x_px(t) <= right),
        yticks=tuple(Tick(float(y_px(v)), fmt_number(v)) for v in yt),
        lines=lines, thresholds=tuple(thresholds),
        bands=_bands(markers, metrics, start, end, lambda t: float(x_px(t))),
        start=start, end=end, ts=_csv(metrics[0].ts, ".0f") if metrics else "",
        values=tuple(_csv(m.values, ".6g") for m in metrics),
        spacing=float(metrics[0].ts[1] - metrics[0].ts[0]) if metrics and len(metrics[0].ts) > 1
        else 0.0,
    )


def spark_path(metric: MetricData, width: float = 200, height: float = 40) -> str:
    """A label-free line for stat panels, scaled to its own min and max."""
    vals = metric.values
    ok = ~np.isnan(vals)
    if not ok.any():
        return ""
    lo, hi = float(vals[ok].min()), float(vals[ok].max())
    span = hi - lo or 1.0
    xs = np.linspace(0, width, len(vals))
    ys = height - 2 - (vals - lo) / span * (height - 4)
    return _path(xs, ys)


def sparkline(values: np.ndarray, width: int = 16) -> str:
    """Unicode block sparkline of ``width`` characters; blanks where there is no data."""
    if len(values) == 0:
        return " " * width
    buckets = np.array_split(np.asarray(values, dtype=float), min(width, len(values)))
    means = np.array([np.nanmean(b) if (~np.isnan(b)).any() else np.nan for b in buckets])
    ok = ~np.isnan(means)
    if not ok.any():
        return " " * len(means)
    lo, hi = float(means[ok].min()), float(means[ok].max())
    span = hi - lo
    out = []
    for v in means:
        if math.isnan(v):
            out.append(" ")
        else:
            level = 0 if span == 0 else round((v - lo) / span * (len(SPARK_BLOCKS) - 1))
            out.append(SPARK_BLOCKS[level])
    return "".join(out)

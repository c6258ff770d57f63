"""SVG charts for the report: one metric over the week, fault windows shaded.

Geometry is computed here (pure numbers); ``templates/chart.svg.j2`` only places it.
A week of minutes is drawn as 10-minute means with a min-max band, so a one-minute
spike stays visible without 10,080 points per line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dashboards.report.model import SeriesData, Window
from monitoring.catalog import Metric
from monitoring.groundtruth import FaultRecord
from renderers.charts import nice_ticks, time_ticks
from renderers.report.fmt import fmt_number, fmt_target

BUCKET_S = 600
WIDTH, HEIGHT = 900, 300
LEFT, RIGHT, TOP, BOTTOM = 64.0, WIDTH - 32.0, 40.0, HEIGHT - 44.0
LABEL_GAP_PX = 120.0  # fault labels closer than this go on the next line
MIN_SHADE_PX = 3.0  # a one-minute fault is still a visible stripe


@dataclass(frozen=True)
class Shade:
    x: float
    width: float
    label: str
    label_y: float


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class ChartGeometry:
    title: str
    unit: str
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    line: str  # SVG path of the bucket means
    band: str  # SVG path of the min-max band (closed polygon pieces)
    xticks: tuple[Tick, ...]
    yticks: tuple[Tick, ...]
    shades: tuple[Shade, ...]
    target_y: float | None
    target_label: str


def buckets(series: SeriesData, window: Window, size: float = BUCKET_S
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(centre, mean, min, max) per bucket; NaN where a bucket holds no sample."""
    n = max(math.ceil((window.end - window.start) / size), 1)
    idx = np.clip(((series.ts - window.start - 1e-9) // size).astype(int), 0, n - 1)
    total = np.bincount(idx, weights=series.values, minlength=n)
    count = np.bincount(idx, minlength=n)
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    np.minimum.at(lo, idx, series.values)
    np.maximum.at(hi, idx, series.values)
    empty = count == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(empty, np.nan, total / np.maximum(count, 1))
    lo[empty] = np.nan
    hi[empty] = np.nan
    centre = window.start + (np.arange(n) + 0.5) * size
    return centre, mean, lo, hi


def _runs(ok: np.ndarray) -> list[tuple[int, int]]:
    out, start = [], None
    for i, good in enumerate([*ok.tolist(), False]):
        if good and start is None:
            start = i
        elif not good and start is not None:
            out.append((start, i))
            start = None
    return out


def _line(xs: np.ndarray, ys: np.ndarray) -> str:
    parts = []
    for a, b in _runs(np.isfinite(ys)):
        pts = [f"{x:.1f},{y:.1f}" for x, y in zip(xs[a:b], ys[a:b], strict=True)]
        parts.append("M" + "L".join(pts))
    return "".join(parts)


def _band(xs: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> str:
    parts = []
    for a, b in _runs(np.isfinite(lo) & np.isfinite(hi)):
        top = [f"{x:.1f},{y:.1f}" for x, y in zip(xs[a:b], hi[a:b], strict=True)]
        bottom = [f"{x:.1f},{y:.1f}" for x, y in zip(xs[a:b][::-1], lo[a:b][::-1], strict=True)]
        parts.append("M" + "L".join(top + bottom) + "Z")
    return "".join(parts)


def chart_geometry(metric: Metric, series: SeriesData, window: Window,
                   faults: Sequence[FaultRecord]) -> ChartGeometry:
    centre, mean, lo, hi = buckets(series, window)
    finite = series.values[np.isfinite(series.values)]
    pool = list(finite.tolist())
    if metric.target is not None:
        pool.append(metric.target.value)
    vmin, vmax = (min(pool), max(pool)) if pool else (0.0, 1.0)
    if vmin >= 0 and vmin < (vmax - vmin) * 1.5:  # start at zero unless it hides the detail
        vmin = 0.0
    yt = nice_ticks(vmin, vmax)
    y0, y1 = yt[0], yt[-1]

    def ypx(v: np.ndarray) -> np.ndarray:
        return BOTTOM - (np.asarray(v, dtype=float) - y0) / max(y1 - y0, 1e-12) * (BOTTOM - TOP)

    def xpx(t: np.ndarray | float) -> np.ndarray:
        span = max(window.end - window.start, 1e-9)
        return LEFT + (np.asarray(t, dtype=float) - window.start) / span * (RIGHT - LEFT)

    xs = xpx(centre)
    shades: list[Shade] = []
    for f in sorted(faults, key=lambda f: f.start):
        a = float(xpx(max(f.start, window.start)))
        b = float(xpx(min(f.end, window.end)))
        if b <= LEFT or a >= RIGHT:
            continue
        w = max(b - a, MIN_SHADE_PX)
        row = 0
        if shades and a - shades[-1].x < LABEL_GAP_PX:
            row = int((shades[-1].label_y - TOP - 12) / 12) + 1
        shades.append(Shade(a, w, f"{f.kind} {f.target}", TOP + 12 + 12 * (row % 3)))
    target_y = None
    if metric.target is not None:
        target_y = float(ypx(metric.target.value))
    unit = "" if metric.unit in ("count", "regions") else metric.unit
    return ChartGeometry(
        title=metric.title, unit=unit, width=WIDTH, height=HEIGHT,
        left=LEFT, right=RIGHT, top=TOP, bottom=BOTTOM,
        line=_line(xs, ypx(mean)), band=_band(xs, ypx(lo), ypx(hi)),
        xticks=tuple(Tick(float(xpx(t)), label) for t, label in
                     time_ticks(window.start, window.end, count=8)
                     if LEFT <= float(xpx(t)) <= RIGHT),
        yticks=tuple(Tick(float(ypx(v)), fmt_number(v)) for v in yt),
        shades=tuple(shades), target_y=target_y,
        target_label=("target " + fmt_target(metric.target, metric.unit)
                      if metric.target else ""),
    )

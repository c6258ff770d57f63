"""Every figure in the report is spelled here, so tables, text and tests agree."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from monitoring.durations import format_duration
from renderers.fmt import MISSING, fmt_number, fmt_threshold, with_unit

NOT_AVAILABLE = "n/a"
fmt_target = fmt_threshold  # objectives are spelled the same everywhere


def _number_for(value: float, unit: str) -> str:
    # Availability lives in the last decimals (99.95 vs 99.99): show three.
    if unit == "%" and 99 <= value < 100:
        return f"{math.floor(value * 1000) / 1000:.3f}"
    # A mean of 2.998 regions must not read as 3 when the target is 3.
    if unit == "regions" and not float(value).is_integer():
        return f"{math.floor(value * 1000) / 1000:.3f}"
    return fmt_number(value)


def fmt_value(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return MISSING
    return with_unit(_number_for(value, unit), unit)


def fmt_change(change: float | None, kind: str, unit: str = "") -> str:
    """A week-over-week change: percentage points for % metrics, else relative %."""
    if change is None or not math.isfinite(change):
        return NOT_AVAILABLE
    if kind == "pp":
        return f"{change:+.2f} pp"
    if kind == "rel":
        return f"{change:+.1f}%"
    sign = "+" if change >= 0 else "-"
    return sign + fmt_value(abs(change), unit)


def fmt_share(ratio: float | None) -> str:
    """A 0..1 share of minutes, precise enough for objectives like 99.95%."""
    if ratio is None or not math.isfinite(ratio):
        return MISSING
    pct = ratio * 100
    if pct in (0.0, 100.0):
        return f"{pct:.0f}%"
    return f"{math.floor(pct * 100) / 100:.2f}%"


def fmt_time(ts: float | None) -> str:
    if ts is None:
        return MISSING
    return datetime.fromtimestamp(ts, UTC).strftime("%a %d %b %H:%M")


def fmt_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    return format_duration(max(round(seconds), 0)) if seconds >= 1 else "0s"


def week_label(start: float) -> str:
    year, week, _ = datetime.fromtimestamp(start, UTC).isocalendar()
    return f"{year}-W{week:02d}"


def fmt_budget(share: float | None) -> str:
    """A share of an SLO window's error budget: 12.34%; above 100% when overspent."""
    if share is None or not math.isfinite(share):
        return MISSING
    return "0%" if share == 0 else f"{share * 100:.2f}%"

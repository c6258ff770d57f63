"""Every figure in the report is spelled here, so tables, text and tests agree."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from monitoring.catalog import Target
from monitoring.durations import format_duration

MISSING = "—"
NOT_AVAILABLE = "n/a"
_OP = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}
# Units the title already implies ("Regions up 3", "L1 items 480") are not repeated.
_SILENT_UNITS = ("count", "regions")


def fmt_number(value: float | None) -> str:
    """Three significant digits or more, thousands separated, never scientific."""
    if value is None or not math.isfinite(value):
        return MISSING
    a = abs(value)
    if a == 0:
        return "0"
    if float(value).is_integer() and a < 1e6:
        return f"{int(value):,d}"
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.1f}"
    if a >= 1:
        return f"{value:.2f}"
    text = f"{value:.3g}"
    if "e" in text:  # below 0.0001: fixed notation reads better than 1.2e-05
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return text if text not in ("0", "-0") else "0"
    return text


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
    text = _number_for(value, unit)
    if unit in _SILENT_UNITS:
        return text
    if unit == "per s":
        return f"{text}/s"
    return f"{text}%" if unit == "%" else f"{text} {unit}"


def fmt_target(target: Target | None, unit: str) -> str:
    if target is None:
        return MISSING
    value = f"{target.value:g}"  # objectives are written round: show them as written
    if unit in _SILENT_UNITS:
        return f"{_OP[target.op]} {value}"
    if unit == "per s":
        return f"{_OP[target.op]} {value}/s"
    return f"{_OP[target.op]} {value}{'%' if unit == '%' else ' ' + unit}"


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

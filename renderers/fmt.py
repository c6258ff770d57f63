"""Number, time and status spelling shared by every human-facing renderer."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from monitoring.catalog import Target

STATUS_LABEL = {"ok": "OK", "breach": "BREACH", "nodata": "NO DATA", "info": "INFO"}
MISSING = "—"
_OP_SIGN = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}


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


# Units a reader infers from the title ("Regions up", "L1 items") are not repeated.
_SILENT_UNITS = ("count", "regions")


def with_unit(text: str, unit: str) -> str:
    """``text`` followed by its unit, as people write it: 12 ms, 0.5/s, 99.9%."""
    if text == MISSING or unit in _SILENT_UNITS:
        return text
    if unit == "per s":
        return f"{text}/s"
    return f"{text}%" if unit == "%" else f"{text} {unit}"


def fmt_value(value: float | None, unit: str) -> str:
    return with_unit(fmt_number(value), unit)


def fmt_percent(ratio: float | None) -> str:
    """A 0..1 share as a percentage with the precision SLO shares need."""
    if ratio is None:
        return MISSING
    pct = ratio * 100
    return f"{pct:.0f}%" if pct in (0.0, 100.0) else f"{pct:.2f}%"


def fmt_threshold(target: Target | None, unit: str) -> str:
    if target is None:
        return MISSING
    # Objectives are written round (50, 99.95): show them exactly as written.
    return f"{_OP_SIGN[target.op]} {with_unit(f'{target.value:g}', unit)}"


def fmt_time(ts: float | None, with_date: bool = True) -> str:
    if ts is None:
        return MISSING
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%d %H:%M UTC" if with_date else "%H:%M")


def fmt_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_range(start: float, end: float) -> str:
    return f"{fmt_time(start)} → {fmt_time(end)}"

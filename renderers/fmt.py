"""Number, time and status spelling shared by every human-facing renderer."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from monitoring.catalog import Target
from monitoring.durations import format_duration

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


# --- error budgets ----------------------------------------------------------------

def fmt_window(seconds: float) -> str:
    """A burn-rate window as SLO tooling spells it: 5m, 1h, 3d."""
    return format_duration(seconds)


def fmt_burn(rate: float | None) -> str:
    """A burn rate as a multiple of the sustainable one: 0.31×, 14.4×."""
    if rate is None or not math.isfinite(rate):
        return MISSING
    # Two decimals below 10 (1.00× is the line that matters), fewer above.
    text = "0" if rate == 0 else f"{rate:.2f}" if rate < 10 else (
        f"{rate:.1f}" if rate < 100 else f"{rate:,.0f}")
    return f"{text}×"


def fmt_remaining(remaining: float | None) -> str:
    """Budget left as a percentage of the window's budget; negative when overspent."""
    if remaining is None or not math.isfinite(remaining):
        return MISSING
    return f"{remaining * 100:.1f}%"


def fmt_exhaustion(seconds: float | None) -> str:
    """Time until the budget is gone at the current burn."""
    if seconds is None or not math.isfinite(seconds):
        return "not burning"
    if seconds <= 0:
        return "exhausted"
    # Whole minutes, hours or days: the burn rate is not precise enough for more.
    unit = 86400 if seconds >= 2 * 86400 else 3600 if seconds >= 2 * 3600 else 60
    return format_duration(max(round(seconds / unit), 1) * unit)


def safe_url(url: str) -> str | None:
    """``url`` fit for an href: http(s) or relative, unsafe characters percent-encoded;
    None for any other scheme (``javascript:`` must never become a link)."""
    url = url.strip()
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("", "http", "https"):
        return None
    return quote(url, safe=":/#?&=%.-_~+@,;!$*'")

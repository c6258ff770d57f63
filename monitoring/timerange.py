"""Time ranges from the command line: --range 24h, --start/--end as ISO dates or epochs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitoring.durations import parse_duration

WEEK_S = 7 * 86400


def parse_instant(text: str) -> float:
    """Epoch seconds from '2026-11-16', '2026-11-16T08:00', '...Z' or a bare epoch."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected a date like 2026-11-16 or 2026-11-16T08:00Z, got {text!r}"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def week_start(ts: float) -> float:
    """Monday 00:00 UTC of the ISO week holding ``ts``."""
    day = datetime.fromtimestamp(ts, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (day - timedelta(days=day.weekday())).timestamp()


def last_complete_week(now: float) -> tuple[float, float]:
    end = week_start(now)
    return end - WEEK_S, end


def iso_week(text: str) -> tuple[float, float]:
    """[start, end) of an ISO week written 'YYYY-Www'."""
    try:
        start = datetime.strptime(text + "-1", "%G-W%V-%u").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ValueError(f"expected an ISO week like 2026-W47, got {text!r}") from None
    return start, start + WEEK_S


def resolve_range(now: float, range_: str | None, start: str | None, end: str | None
                  ) -> tuple[float, float]:
    """The [start, end] a command should cover; ``range_`` counts back from ``end``."""
    t_end = parse_instant(end) if end else now
    t_start = parse_instant(start) if start else t_end - parse_duration(range_ or "24h")
    if t_start >= t_end:
        raise ValueError("the range's start must be before its end")
    return t_start, t_end


def fmt_ts(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")

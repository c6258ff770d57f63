"""Dashboard data for a terminal: rich tables, unicode sparklines, coloured status.

Rendered into a string at a fixed width so the same call serves a terminal, a pager
or a file; colour only when the caller says the terminal supports it.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dashboards.alertview import AlertView
from dashboards.data import BudgetView, DashboardData, MetricData
from monitoring.durations import format_duration
from renderers.charts import sparkline
from renderers.fmt import (
    STATUS_LABEL,
    fmt_burn,
    fmt_exhaustion,
    fmt_percent,
    fmt_range,
    fmt_remaining,
    fmt_threshold,
    fmt_time,
    fmt_value,
    fmt_window,
)

WIDTH = 100
STATUS_STYLE = {"ok": "green", "breach": "bold red", "nodata": "yellow", "info": "cyan"}
STATUS_MARK = {"ok": "✔", "breach": "✖", "nodata": "?", "info": "·"}
ALERT_STYLE = {"firing": "bold red", "pending": "yellow", "resolved": "green"}
SPARK_WIDTH = 12
CHART_WIDTH = 44


def _status(status: str) -> Text:
    return Text(f"{STATUS_MARK[status]} {STATUS_LABEL[status]}", style=STATUS_STYLE[status])


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                 show_edge=False, pad_edge=False, header_style="dim")


def _stat_table(title: str, metrics: list[MetricData]) -> Table:
    """Now against target, the range's worst and share met: the stat panels of a row."""
    t = _table(title)
    t.add_column("Metric", no_wrap=True, overflow="ellipsis", max_width=24)
    t.add_column("Now", justify="right", no_wrap=True)
    t.add_column("Target", no_wrap=True)
    t.add_column("Status", no_wrap=True)
    t.add_column("Worst", justify="right", no_wrap=True)
    t.add_column("Met", justify="right", no_wrap=True)
    t.add_column("Trend", no_wrap=True)
    for m in metrics:
        s = m.stats
        t.add_row(
            Text(m.title), Text(fmt_value(s.current, m.unit), style="bold"),
            fmt_threshold(m.threshold, m.unit), _status(m.status),
            fmt_value(s.min if m.good == "up" else s.max, m.unit), fmt_percent(s.met_ratio),
            Text(sparkline(m.values, SPARK_WIDTH), style=STATUS_STYLE[m.status]),
        )
    return t


def _trend_table(title: str, metrics: list[MetricData], span: str) -> Table:
    """A chart panel in a terminal: a wide sparkline per metric with its scale."""
    t = _table(title)
    t.add_column("Metric", no_wrap=True, overflow="ellipsis", max_width=24)
    t.add_column("Now", justify="right", no_wrap=True)
    t.add_column("Mean", justify="right", no_wrap=True)
    t.add_column("Max", justify="right", no_wrap=True)
    t.add_column(f"Trend over {span}", no_wrap=True)
    for m in metrics:
        s = m.stats
        t.add_row(Text(m.title), Text(fmt_value(s.current, m.unit), style="bold"),
                  fmt_value(s.mean, m.unit), fmt_value(s.max, m.unit),
                  Text(sparkline(m.values, CHART_WIDTH), style=STATUS_STYLE[m.status]))
    return t


def _alerts_table(title: str, alerts: tuple[AlertView, ...]) -> Table | Text:
    if not alerts:
        return Text.assemble((title, "bold"), "\n", ("  no alerts", "green"), "\n")
    t = _table(title)
    t.add_column("State", no_wrap=True)
    t.add_column("Severity", no_wrap=True)
    t.add_column("Alert", overflow="fold", max_width=28)
    t.add_column("Since", no_wrap=True)
    t.add_column("Summary", overflow="fold")
    for a in alerts:
        # Silenced alerts are still shown, dimmed: recorded, just not notified.
        state = Text(f"{a.state} (silenced)" if a.silenced else a.state,
                     style="dim" if a.silenced else ALERT_STYLE[a.state])
        summary = f"{a.summary} · runbook: {a.runbook_url}" if a.runbook_url else a.summary
        t.add_row(state, Text(a.severity), Text(a.name), fmt_time(a.since), Text(summary))
    return t


def _budget_table(title: str, budgets: tuple[BudgetView, ...]) -> Table | Text:
    if not budgets:
        return Text.assemble((title, "bold"), "\n", ("  no SLOs configured", "yellow"), "\n")
    windows = [w for w, _ in budgets[0].budget.burn]
    t = _table(f"{title} (left of the window's budget; burn rate per window, 1× = on budget)")
    t.add_column("SLO", no_wrap=True, overflow="ellipsis", max_width=16)
    t.add_column("Objective", justify="right", no_wrap=True)
    t.add_column("Left", justify="right", no_wrap=True)
    for w in windows:
        t.add_column(fmt_window(w), justify="right", no_wrap=True)
    t.add_column("Runs out", justify="right", no_wrap=True)
    for v in budgets:
        b = v.budget
        t.add_row(Text(b.slo), f"{b.objective:g}% {fmt_window(b.window_s)}",
                  Text(fmt_remaining(b.remaining), style=STATUS_STYLE[v.status]),
                  *(fmt_burn(b.burn_at(w)) for w in windows), fmt_exhaustion(b.exhaustion_s))
    return t


def _runbooks(budgets: tuple[BudgetView, ...]) -> Text:
    lines = [f"  {v.budget.slo}: {v.runbook_url}" for v in budgets if v.runbook_url]
    return Text("Runbooks\n" + "\n".join(lines), style="dim")


def render_text(data: DashboardData, *, color: bool = False, width: int = WIDTH) -> str:
    """The dashboard as terminal text of at most ``width`` columns."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system="standard" if color else None,
                      force_terminal=color, no_color=not color, highlight=False,
                      emoji=False, markup=False, legacy_windows=False)
    head = Text.assemble(
        ("ION Monitoring · ", "dim"), (data.title, "bold"), "  ",
        _status(data.status), "\n",
        (f"{fmt_range(data.start, data.end)}  ·  firing alerts: {len(data.firing)}", "dim"),
    )
    console.print(head)
    span = format_duration(data.end - data.start)
    for row in data.rows:
        parts: list[Table | Text] = []
        stats = [p.metrics[0] for p in row.panels if p.kind == "stat"]
        if stats:
            parts.append(_stat_table(row.title, stats))
        for p in row.panels:
            if p.kind == "alerts":
                parts.append(_alerts_table(p.title, p.alerts))
            elif p.kind == "budget":
                parts.append(_budget_table(p.title, p.budgets))
                if any(v.runbook_url for v in p.budgets):
                    parts.append(_runbooks(p.budgets))
            elif p.kind != "stat":
                parts.append(_trend_table(p.title, list(p.metrics), span) if p.kind == "timeseries"
                             else _stat_table(p.title, list(p.metrics)))
        for part in parts:
            console.print()
            console.print(part)
    return buf.getvalue()

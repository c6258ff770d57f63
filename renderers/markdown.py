"""Dashboard data as GitHub-flavoured Markdown, to paste into a ticket or chat.

Every name and label goes through ``escape`` so a ``|`` cannot split a table cell and
``<script>`` or backticks render as text.
"""

from __future__ import annotations

import re

from dashboards.alertview import AlertView
from dashboards.data import BudgetView, DashboardData, MetricData, PanelData
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
    safe_url,
)

STATUS_MARK = {"ok": "✅", "breach": "❌", "nodata": "⚠️", "info": "ℹ️"}
ALERT_MARK = {"firing": "🔥", "pending": "⏳", "resolved": "✅"}
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!~|])")


def escape(text: str) -> str:
    """Inert inline text: HTML entities for &, <, >; backslash for Markdown syntax."""
    text = " ".join(str(text).split())  # a newline would end the table row
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def _status(status: str) -> str:
    return f"{STATUS_MARK[status]} {STATUS_LABEL[status]}"


def _table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(":---" if a == "l" else "---:" if a == "r" else ":---:"
                          for a in align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


_METRIC_HEADER = ["Metric", "Now", "Target", "Status", "Min", "Mean", "p95", "Max", "Target met"]


def _metric_row(m: MetricData) -> list[str]:
    s = m.stats
    return [escape(m.title), fmt_value(s.current, m.unit),
            escape(fmt_threshold(m.threshold, m.unit)),
            _status(m.status), fmt_value(s.min, m.unit), fmt_value(s.mean, m.unit),
            fmt_value(s.p95, m.unit), fmt_value(s.max, m.unit), fmt_percent(s.met_ratio)]


def _metrics_table(metrics: list[MetricData]) -> list[str]:
    return _table(_METRIC_HEADER, [_metric_row(m) for m in metrics], "lrlcrrrrr")


def link(text: str, url: str) -> str:
    """A Markdown link, or the escaped URL as text when it is not a safe link."""
    href = safe_url(url)
    if href is None:
        return escape(url) if url else "—"
    # Percent-encoded, so no ``(``, ``)`` or space can end the link early.
    return f"[{escape(text)}]({href.replace('(', '%28').replace(')', '%29')})"


def _state(a: AlertView) -> str:
    mark = f"{ALERT_MARK[a.state]} {a.state}"
    return f"{mark} · 🔕 silenced" if a.silenced else mark


def _alert_rows(alerts: tuple[AlertView, ...]) -> list[str]:
    if not alerts:
        return ["_No alerts._"]
    rows = [[_state(a), escape(a.severity), escape(a.name), fmt_time(a.since),
             escape(a.summary), link("runbook", a.runbook_url)] for a in alerts]
    return _table(["State", "Severity", "Alert", "Since", "Summary", "Runbook"], rows, "llllll")


def _budget_rows(budgets: tuple[BudgetView, ...]) -> list[str]:
    if not budgets:
        return ["_No SLOs configured._"]
    windows = [w for w, _ in budgets[0].budget.burn]
    header = ["SLO", "Objective", "Window", "Budget left", *(f"Burn {fmt_window(w)}"
                                                         for w in windows),
              "Runs out", "Runbook"]
    rows = []
    for v in budgets:
        b = v.budget
        rows.append([f"{STATUS_MARK[v.status]} {escape(b.title)}", f"{b.objective:g}%",
                     fmt_window(b.window_s), fmt_remaining(b.remaining),
                     *(fmt_burn(b.burn_at(w)) for w in windows), fmt_exhaustion(b.exhaustion_s),
                     link("runbook", v.runbook_url)])
    return _table(header, rows, "lrrr" + "r" * len(windows) + "rl")


def _panel(p: PanelData) -> list[str]:
    lines = [f"### {escape(p.title)}", ""]
    if p.description:
        lines += [escape(p.description), ""]
    if p.kind == "alerts":
        lines += _alert_rows(p.alerts)
    elif p.kind == "budget":
        lines += _budget_rows(p.budgets)
    else:
        lines += _metrics_table(list(p.metrics))
    return [*lines, ""]


def render_markdown(data: DashboardData) -> str:
    lines = [
        f"# {escape(data.title)} — {_status(data.status)}",
        "",
        f"{escape(data.description)}",
        "",
        f"**Range:** {fmt_range(data.start, data.end)} · "
        f"**Generated:** {fmt_time(data.generated_at)} · "
        f"**Firing alerts:** {len(data.firing)}",
        "",
    ]
    for row in data.rows:
        lines += [f"## {escape(row.title)}", ""]
        # Stat panels of a row read best as one table, one line per metric.
        stats = [p.metrics[0] for p in row.panels if p.kind == "stat"]
        if stats:
            lines += [*_metrics_table(stats), ""]
        for p in row.panels:
            if p.kind != "stat":
                lines += _panel(p)
    return "\n".join(lines).rstrip() + "\n"

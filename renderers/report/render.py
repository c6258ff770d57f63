"""Format a ``Report`` as Markdown (plus its SVG charts) and as a standalone HTML page.

Only formatting happens here: figures come from ``model``, their spelling from ``fmt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt

from dashboards.report.model import Change, Report, SeriesData, Status
from monitoring.catalog import CATALOG
from monitoring.groundtruth import FaultRecord
from renderers.report import fmt
from renderers.report.charts import chart_geometry

TEMPLATES = Path(__file__).parent / "templates"
STATUS = {"met": "✓ MET", "missed": "✗ MISSED", "info": "· INFO", "nodata": "NO DATA"}
REGION_IDS = ("latency_p95_us", "latency_p95_eu", "latency_p95_asia")
CACHE_IDS = ("l1_hit_rate", "l2_hit_rate", "cache_hit_rate", "l1_items", "cache_evictions",
             "l2_memory")
DATABASE_IDS = ("db_query_p95", "db_pool_utilisation", "db_slow_queries",
                "replication_lag_eu", "replication_lag_asia")


@dataclass(frozen=True)
class WrittenReport:
    markdown: Path
    charts: tuple[Path, ...]


def _change(change: Change | None, unit: str) -> str:
    text = fmt.fmt_change(None if change is None else change.value,
                          "rel" if change is None else change.kind, unit)
    if change is None or change.better is None:
        return text
    return f"{text} ({'better' if change.better else 'worse'})"


def _cell(text: object) -> str:
    # A pipe would end the table cell early.
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fault(f: FaultRecord) -> str:
    return f"{f.kind} on {f.target}"


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html.j2", "svg.j2"]),
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(
        value=fmt.fmt_value, target=fmt.fmt_target, share=fmt.fmt_share,
        when=fmt.fmt_time, duration=fmt.fmt_duration, date=fmt.fmt_date,
        change=_change, cell=_cell, fault=_fault, number=fmt.fmt_number,
        budget=fmt.fmt_budget,
        status=lambda s: STATUS[s],
    )
    env.globals.update(CATALOG=CATALOG, REGION_IDS=REGION_IDS, CACHE_IDS=CACHE_IDS,
                       DATABASE_IDS=DATABASE_IDS)
    return env


def status_line(report: Report) -> str:
    h = report.highlights
    if h.objectives == 0:
        return "NO DATA"
    if not h.missed:
        return f"✓ ALL {h.objectives} OBJECTIVES MET"
    return f"⚠ {len(h.missed)} OF {h.objectives} OBJECTIVES MISSED"


def render_markdown(report: Report, chart_dir: str = "charts") -> str:
    return _env().get_template("report.md.j2").render(
        r=report, h=report.highlights, status=status_line(report), chart_dir=chart_dir,
        statuses=STATUS)


def render_chart(report: Report, metric_id: str, series: SeriesData,
                 faults: tuple[FaultRecord, ...]) -> str:
    metric = CATALOG[metric_id]
    geo = chart_geometry(metric, series, report.window, faults)
    return _env().get_template("chart.svg.j2").render(g=geo, week=report.week)


def write_report(report: Report, current: dict[str, SeriesData], out_dir: str | Path
                 ) -> WrittenReport:
    """``report.md`` and ``charts/<metric>.svg`` in ``out_dir``; files are replaced whole."""
    out = Path(out_dir)
    (out / "charts").mkdir(parents=True, exist_ok=True)
    faults = tuple(i.fault for i in report.incidents)
    charts = []
    for mid in report.charts:
        path = out / "charts" / f"{mid}.svg"
        series = current.get(mid, SeriesData.empty()).within(report.window)
        _atomic_write(path, render_chart(report, mid, series, faults))
        charts.append(path)
    md = out / "report.md"
    _atomic_write(md, render_markdown(report))
    return WrittenReport(md, tuple(charts))


def markdown_to_html(markdown: str, title: str) -> str:
    """The Markdown report as one HTML page (tables enabled, raw HTML off)."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return _env().get_template("report.html.j2").render(title=title, body=body)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


__all__ = ["Status", "WrittenReport", "markdown_to_html", "render_markdown", "write_report"]

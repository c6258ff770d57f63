"""The core commands: backfill, scrape, query, metrics, serve."""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING

import click
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from monitoring import catalog
from monitoring.app.cli.context import Context, fail, pass_ctx, warn_partial_backfills
from monitoring.durations import parse_duration
from monitoring.store.base import StoreError
from monitoring.timerange import fmt_ts, parse_instant, resolve_range, week_start

if TYPE_CHECKING:
    from monitoring.app.config import Config
    from monitoring.store.sqlite import SQLiteStore


if TYPE_CHECKING:
    from monitoring.groundtruth import FaultLog


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
        console=console, disable=not enabled, transient=False,
    )


def open_backfill_range(config: Config, days: int, end_text: str | None, replace: bool
                        ) -> tuple[SQLiteStore, FaultLog, float, float, bool]:
    """The embedded store and fault log, prepared for the range to fill: ``days`` before
    this week's Monday 00:00 UTC on to the current minute, or the ``days`` ending at
    ``--end`` (a Monday). The last value says whether anything is missing. A bad
    ``--end`` or stored data the range cannot resume from ends the command with exit 2."""
    from monitoring.app.backfill import backfill_range, prepare_range
    from monitoring.groundtruth import FaultLog
    from monitoring.store.sqlite import SQLiteStore

    try:
        end = week_start(parse_instant(end_text)) if end_text else None
    except ValueError as exc:
        fail(f"--end: {exc}", 2)
    start, end = backfill_range(time.time(), days, config.scrape.interval, end)
    store = SQLiteStore(config.store.path, retention_s=None)
    faultlog = FaultLog(config.store.path)
    try:
        missing = prepare_range(store, faultlog, start, end, replace, config.scrape.interval)
    except StoreError as exc:
        store.close()
        faultlog.close()
        fail(str(exc), 2)
    return store, faultlog, start, end, missing


@click.command()
@click.option("--days", type=click.IntRange(1, 56), default=None,
              help="Days to model before this week's Monday (or --end), the range's fault "
                   "schedule starting at the first (default: backfill.days in config).")
@click.option("--end", "end_text", default=None,
              help="Where the backfill ends, a Monday (default: the current minute, after "
                   "the --days before this week's Monday 00:00 UTC).")
@click.option("--replace", is_flag=True,
              help="Rebuild the range; without it only what is missing is filled.")
@click.option("--seed", type=int, default=None,
              help="Engine and traffic seed (default: engine.seed in config).")
@click.option("--faults", "faults_text", default="config", show_default=True,
              help="Faults to inject: 'config' (backfill.faults), 'none', or 'random:N' "
                   "(N faults drawn from the seed: kinds, targets, times, severities).")
@click.option("--progress/--no-progress", default=True, show_default=True)
@pass_ctx
def backfill(ctx: Context, days: int | None, end_text: str | None, replace: bool,
             seed: int | None, faults_text: str, progress: bool) -> None:
    """Drive the real engine through modelled weeks and on to now, minute by minute,
    filling only what the store is missing (all of it with --replace)."""
    from monitoring.app.backfill import prepare_range, run_backfill, with_faults

    config = ctx.config
    days = days or config.backfill.days
    try:
        config = with_faults(config, faults_text, seed, days)
    except ValueError as exc:
        fail(f"--faults: {exc}", 2)
    if config.store.backend != "sqlite":
        fail("backfill writes the embedded store: set store.backend to sqlite "
             "(load a backfill into Prometheus with 'ionmon export-openmetrics')", 2)
    store, faultlog, start, end, missing = open_backfill_range(config, days, end_text, replace)
    console = Console(stderr=True)
    if not missing:
        store.close()
        faultlog.close()
        console.print(f"store {config.store.path} already holds {fmt_ts(start)} → "
                      f"{fmt_ts(end)} UTC: nothing to fill")
        return
    began = time.perf_counter()
    with _progress(console, progress) as bar:
        task = bar.add_task(f"backfill {fmt_ts(start)} → {fmt_ts(end)}",
                            total=int((end - start) // config.scrape.interval), rate="")

        def on_minute(done: int, total: int) -> None:
            if done % 60 == 0 or done == total:
                wall = time.perf_counter() - began
                virtual = done * config.scrape.interval
                bar.update(task, completed=done,
                           rate=f"{virtual / max(wall, 1e-9):,.0f} virtual s/s")

        summary = run_backfill(config, store, faultlog, start, days, on_minute, end=end)
        # The wall clock moved on while the range was filled: fill the minutes since, so
        # the store ends at the current minute (each pass is shorter than the last).
        while end_text is None and (now_end := _current_minute(config)) > end:
            prepare_range(store, faultlog, start, now_end, False, config.scrape.interval)
            more = run_backfill(config, store, faultlog, start, days, end=now_end)
            summary.cycles += more.cycles
            summary.requests += more.requests
            summary.points += more.points
            summary.faults += more.faults
            summary.metrics_seen |= more.metrics_seen
            end = now_end
    wall = time.perf_counter() - began
    stats = store.stats()
    store.close()
    faultlog.close()
    console.print(
        f"backfilled {summary.cycles} scrapes every {summary.step_s:g} s "
        f"({fmt_ts(start)} → {fmt_ts(end)} UTC) in {wall:.1f} s wall "
        f"({summary.cycles * summary.step_s / wall:,.0f} virtual s per wall s): "
        f"{summary.requests:,} requests, {summary.points:,} points for "
        f"{len(summary.metrics_seen & set(catalog.CATALOG))} metrics and "
        f"{len(summary.metrics_seen & set(catalog.SLI_SERIES))} SLI series and "
        f"{len(summary.metrics_seen & set(catalog.REGION_SERIES))} region series, "
        f"{len(summary.faults)} faults injected; "
        f"store {config.store.path}: {stats['bytes'] / max(stats['samples'], 1):.2f} bytes/sample"
    )


def _current_minute(config: Config) -> float:
    step = config.scrape.interval
    return math.floor(time.time() / step) * step


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "—"
    return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"


@click.command()
@click.argument("metric_id")
@click.option("--range", "range_", default=None, help="How far back from --end (default 24h).")
@click.option("--start", "start_text", default=None, help="Start (date or epoch).")
@click.option("--end", "end_text", default=None, help="End (date or epoch; default now).")
@click.option("--step", default="1m", show_default=True, help="Resolution of the result.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@pass_ctx
def query(ctx: Context, metric_id: str, range_: str | None, start_text: str | None,
          end_text: str | None, step: str, fmt: str) -> None:
    """Print one catalog metric over a range."""
    from monitoring.app.stores import open_store

    try:
        metric = catalog.get(metric_id)
    except KeyError as exc:
        fail(exc.args[0], 2)
    try:
        start, end = resolve_range(time.time(), range_, start_text, end_text)
        step_s = parse_duration(step)
        if step_s <= 0:
            raise ValueError("--step must be positive")
    except ValueError as exc:
        fail(str(exc), 2)
    if (end - start) / step_s > 200_000:
        fail(f"--step {step} gives too many points for the range; use a larger step", 2)
    store = open_store(ctx.config)
    try:
        series = store.read(metric.id, start, end, step=step_s)
        warn_partial_backfills(store, start, end)
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    rows = list(zip(series.ts.tolist(), series.values.tolist(), strict=True))
    if fmt == "json":
        click.echo(json.dumps({
            "metric": metric.id, "unit": metric.unit, "step_s": step_s,
            "points": [[ts, None if math.isnan(v) else v] for ts, v in rows],
        }))
        return
    if fmt == "csv":
        click.echo(f"timestamp,{metric.id}_{metric.unit.replace('/', '_per_').replace(' ', '_')}")
        for ts, v in rows:
            click.echo(f"{fmt_ts(ts)},{'' if math.isnan(v) else repr(v)}")
        return
    table = Table(title=f"{metric.title} ({metric.unit}) {fmt_ts(start)} → {fmt_ts(end)} UTC")
    table.add_column("time (UTC)")
    table.add_column(metric.unit, justify="right")
    for ts, v in rows:
        table.add_row(fmt_ts(ts), _format_value(v))
    values = series.values[~np.isnan(series.values)]
    console = Console()
    console.print(table)
    if len(values):
        console.print(f"{len(values)} points · min {_format_value(values.min())} · "
                      f"mean {_format_value(values.mean())} · max {_format_value(values.max())}"
                      f" {metric.unit}")
    else:
        console.print("no data in this range")


@click.command(name="metrics")
@click.option("--promql", is_flag=True, help="Show each metric's PromQL.")
def metrics_cmd(promql: bool) -> None:
    """List the 25 catalog metrics, the SLI series recorded for the objectives and the
    region series recorded for the alert rules."""
    console = Console()
    for title, metrics in (("Metric catalog", catalog.CATALOG),
                           ("SLI series (recorded for the SLOs)", catalog.SLI_SERIES),
                           ("Region series (recorded for the alert rules)",
                            catalog.REGION_SERIES)):
        table = Table(title=title)
        for col in ("id", "title", "unit", "group", "target",
                    *(["promql"] if promql else [])):
            table.add_column(col, overflow="fold")
        for metric in metrics.values():
            row = [metric.id, metric.title, metric.unit, metric.group,
                   str(metric.target) if metric.target else "—"]
            table.add_row(*row, *([metric.promql()] if promql else []))
        console.print(table)


COMMANDS = [backfill, query, metrics_cmd]

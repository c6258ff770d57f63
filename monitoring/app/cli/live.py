"""``ionmon serve``, ``scrape`` and ``status``: the live run and its scheduled jobs."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from monitoring.app.cli.context import Context, fail, parse_positive_duration, pass_ctx
from monitoring.store.base import StoreError


@click.command()
@click.option("--duration", "duration_text", default=None,
              help="Stop after this long, e.g. 10m (default: until interrupted).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port for the dashboards on 127.0.0.1 (default: serve.port, 8080).")
@click.option("--scrape-interval", "interval_text", default=None,
              help="Scrape this often (default: scrape.interval).")
@pass_ctx
def serve(ctx: Context, duration_text: str | None, port: int | None,
          interval_text: str | None) -> None:
    """Run the engine live, scrape it, run the scheduled jobs and serve the dashboards."""
    from monitoring.app.live.serve import ServeError, run_serve

    duration = parse_positive_duration(duration_text, "--duration") if duration_text else None

    interval = (parse_positive_duration(interval_text, "--scrape-interval")
                if interval_text else None)
    try:
        run_serve(ctx.config, port=port, duration_s=duration, scrape_interval_s=interval,
                  echo=lambda msg: click.echo(msg, err=True))
    except ServeError as exc:
        fail(str(exc))


@click.command()
@click.option("--window", "window_text", default="5s", show_default=True,
              help="Traffic between the two scrapes.")
@click.option("--write/--no-write", default=True, show_default=True,
              help="Write the derived metrics to the store.")
@click.option("--traffic-scale", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Multiply the modelled request rate.")
@pass_ctx
def scrape(ctx: Context, window_text: str, write: bool, traffic_scale: float) -> None:
    """One live cycle: start the engine over HTTP, scrape, send traffic, scrape again."""
    from monitoring.app.live.engine import scrape_once
    from monitoring.catalog import CATALOG
    from renderers.report.fmt import fmt_number

    window = parse_positive_duration(window_text, "--window")

    try:
        outcome = scrape_once(ctx.config, window, write=write, traffic_scale=traffic_scale)
    except StoreError as exc:
        fail(str(exc))
    console = Console()
    values = Table(title=f"Derived metrics over {window_text} ({outcome.requests} requests sent)")
    for col in ("metric", "value", "unit"):
        values.add_column(col, justify="right" if col == "value" else "left")
    for mid, metric in CATALOG.items():
        v = outcome.cycle.values.get(mid)
        values.add_row(mid, fmt_number(v) if v is not None else "—", metric.unit)
    console.print(values)
    health = Table(title="Targets")
    for col in ("target", "up", "reason", "samples", "duration"):
        health.add_column(col)
    for h in outcome.cycle.health:
        health.add_row(h.target, "yes" if h.up else "no", h.reason or "", str(h.samples),
                       f"{h.duration_s * 1000:.0f} ms")
    console.print(health)
    if write:
        console.print(f"wrote {len(outcome.cycle.values)} points to {ctx.config.store.path}")


@click.command()
@pass_ctx
def status(ctx: Context) -> None:
    """The scheduled jobs' last run, duration and outcome, as the scheduler recorded them."""
    from monitoring.app.scheduler import JobStateDB

    state_path = ctx.config.scheduler_state_path

    if not Path(state_path).exists():
        fail(f"{state_path}: no scheduler state yet (start 'ionmon serve')")
    db = JobStateDB(state_path)
    try:
        rows = db.jobs()
        targets = db.targets()
    finally:
        db.close()
    console = Console()
    t = Table(title=f"Jobs ({state_path})")
    for col in ("job", "last run (UTC)", "duration", "outcome", "runs", "failures", "next run",
                "detail"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r.job, _ts(r.last_start), f"{r.last_duration_s:.2f} s", r.last_outcome,
                  str(r.runs), str(r.failures), _ts(r.next_run), r.last_detail)
    console.print(t)
    if targets:
        h = Table(title="Targets at the last scrape")
        for col in ("target", "up", "reason", "at (UTC)"):
            h.add_column(col)
        for target, up, reason, at in targets:
            h.add_row(target, "yes" if up else "no", reason or "", _ts(at))
        console.print(h)


def _ts(ts: float | None) -> str:
    return "—" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


COMMANDS = [serve, scrape, status]

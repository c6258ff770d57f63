"""``ionmon dashboard`` and ``ionmon dashboards``: render dashboards from the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from dashboards.definitions import DASHBOARDS
from monitoring.app.cli.context import Context, fail, pass_ctx
from monitoring.clock import WallClock
from monitoring.store.base import Store, StoreError
from monitoring.timerange import resolve_range
from renderers import FORMATS

if TYPE_CHECKING:
    from dashboards.data import DashboardData


def _range(range_: str, end: str | None) -> tuple[float, float]:
    try:
        return resolve_range(WallClock().now(), range_, None, end)
    except ValueError as exc:
        fail(str(exc), code=2)


def _open(ctx: Context) -> Store:
    from monitoring.app.stores import open_store

    try:
        return open_store(ctx.config)
    except (StoreError, NotImplementedError) as exc:
        fail(str(exc))


def _load(ctx: Context, store: Store, name: str, start: float, end: float) -> DashboardData:
    from dashboards.loader import load_configured
    from monitoring.app.stores import recorded_faults

    try:
        data = load_configured(ctx.config.alerting, DASHBOARDS[name], store, start, end,
                               ctx.config.scrape.interval,
                               faults=recorded_faults(ctx.config, start, end))
    except StoreError as exc:
        fail(str(exc))
    if all(m.stats.samples == 0 for p in data.panels for m in p.metrics):
        # Most often a store not filled yet, or history that ends before "now".
        click.echo(f"warning: dashboard {name}: no samples in range; fill the store "
                   "(ionmon backfill) or pass --end inside its history", err=True)
    return data


def _render(fmt: str, data: DashboardData, color: bool = False) -> str:
    from renderers.formats import renderer
    from renderers.text import render_text

    if fmt == "text":
        return render_text(data, color=color)
    return renderer(fmt)(data)


@click.command("dashboard")
@click.argument("name", type=click.Choice(list(DASHBOARDS)))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--range", "range_", default="24h", show_default=True,
              help="How far back from --end.")
@click.option("--end", default=None, help="End of the range (ISO date or epoch; default now).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of stdout.")
@pass_ctx
def dashboard(ctx: Context, name: str, fmt: str, range_: str, end: str | None,
              out: Path | None) -> None:
    """Render dashboard NAME over a time range."""
    start, stop = _range(range_, end)
    store = _open(ctx)
    try:
        data = _load(ctx, store, name, start, stop)
    finally:
        store.close()
    text = _render(fmt, data, color=out is None and sys.stdout.isatty())
    if out is None:
        click.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


@click.command("dashboards")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the files (default: <output_dir>/dashboards).")
@click.option("--range", "range_", default="7d", show_default=True)
@click.option("--end", default=None, help="End of the range (ISO date or epoch; default now).")
@pass_ctx
def dashboards(ctx: Context, out_dir: Path | None, range_: str, end: str | None) -> None:
    """Render every dashboard in every format into one directory."""
    from renderers import EXTENSIONS

    start, stop = _range(range_, end)

    out_dir = out_dir or Path(ctx.config.output_dir) / "dashboards"
    out_dir.mkdir(parents=True, exist_ok=True)
    store = _open(ctx)
    progress = Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                        console=Console(stderr=True), transient=False)
    try:
        with progress:
            task = progress.add_task("dashboards", total=len(DASHBOARDS) * len(FORMATS))
            for name in DASHBOARDS:
                data = _load(ctx, store, name, start, stop)
                for fmt in FORMATS:
                    progress.update(task, description=f"{name} · {fmt}")
                    path = out_dir / f"{name}.{EXTENSIONS[fmt]}"
                    path.write_text(_render(fmt, data), encoding="utf-8")
                    progress.advance(task)
    finally:
        store.close()
    click.echo(f"wrote {len(DASHBOARDS) * len(FORMATS)} files to {out_dir}", err=True)


COMMANDS = [dashboard, dashboards]

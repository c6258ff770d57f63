"""``ionmon report``: the weekly status report from the store."""

from __future__ import annotations

import time
from pathlib import Path

import click

from monitoring.app.cli.context import Context, fail, pass_ctx
from monitoring.store.base import StoreError
from monitoring.timerange import iso_week, last_complete_week


@click.command()
@click.option("--week", default=None,
              help="ISO week like 2026-W47 (default: the last complete one).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for report.md and charts/ (default: <output_dir>/reports/<week>).")
@pass_ctx
def report(ctx: Context, week: str | None, out_dir: Path | None) -> None:
    """Write the weekly status report from the store."""
    from monitoring.app.report import generate
    from monitoring.app.stores import open_store

    config = ctx.config

    try:
        start = iso_week(week)[0] if week else last_complete_week(time.time())[0]
    except ValueError as exc:
        fail(f"--week: {exc}", 2)
    try:
        store = open_store(config)
    except (StoreError, NotImplementedError) as exc:
        fail(str(exc))
    try:
        result, written = generate(config, store, start, out_dir)
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    if result.samples == 0:
        click.echo(f"warning: no samples in week {result.week}; run 'ionmon backfill' or pass "
                   "--week inside the store's history", err=True)
    click.echo(f"wrote {written.markdown} ({len(written.charts)} charts)", err=True)


COMMANDS = [report]

"""Commands for working with a Prometheus server beside the embedded store."""

from __future__ import annotations

import time
from pathlib import Path

import click

from monitoring.app.cli.context import Context, fail, pass_ctx


@click.command(name="export-openmetrics")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="OpenMetrics file to write (gzip-compressed when its "
                                  "name ends in .gz).")
@click.option("--days", type=click.IntRange(1, 56), default=None,
              help="Days to model (default: backfill.days in config).")
@click.option("--end", "end_text", default=None,
              help="Where the backfill ends, a date (default: this week's Monday 00:00 UTC).")
@click.option("--replace", is_flag=True, help="Rebuild a range the embedded store holds.")
@click.option("--blocks", "blocks_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Also turn the file into TSDB blocks here with promtool, "
                                 "with blocks of the SLO recording rules over the same range "
                                 "(copy them into a Prometheus server's storage path).")
@pass_ctx
def export_openmetrics(ctx: Context, out_path: Path, days: int | None, end_text: str | None,
                       replace: bool, blocks_dir: Path | None) -> None:
    """Backfill the embedded store and write the raw scrapes as OpenMetrics, in one run.

    One run fills both, so the embedded store (store.path) and a Prometheus server loaded
    from the file hold the same week: the engine's latencies are measured, not replayed.
    """
    from alerts.slo_export import slo_rules_yaml
    from monitoring.app.backfill import run_backfill
    from monitoring.app.cli.data import open_backfill_range
    from monitoring.app.promconfig import JOB, PromtoolError, create_rule_blocks
    from monitoring.openmetrics import OpenMetricsRecorder, write_file
    from monitoring.timerange import fmt_ts

    config = ctx.config
    days = days or config.backfill.days
    store, faultlog, start, end, missing = open_backfill_range(config, days, end_text, replace)
    if not missing:
        store.close()
        faultlog.close()
        fail(f"store {config.store.path} already holds the whole range: pass --replace to "
             "record it again", 2)
    recorder = OpenMetricsRecorder({"job": JOB})
    began = time.perf_counter()
    click.echo(f"backfilling {fmt_ts(start)} → {fmt_ts(end)} UTC ({days} days) ...", err=True)
    try:
        run_backfill(config, store, faultlog, start, days, end=end,
                     on_cycle=lambda cycle: recorder.add_results(cycle.results))
        recorder.add_faults(faultlog.between(start, end), config.scrape.interval)
    finally:
        store.close()
        faultlog.close()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    summary = write_file(recorder, out_path)
    click.echo(f"wrote {out_path}: {summary.samples:,} samples of {summary.series:,} series "
               f"in {summary.families} families ({time.perf_counter() - began:.1f} s); "
               f"embedded store {config.store.path} holds the same range", err=True)
    if blocks_dir is not None:
        try:
            blocks = _blocks_from(out_path, blocks_dir)
            # Prometheus never evaluates rules over imported history: the SLO series
            # for the range come as blocks too (evaluated on the scrape grid).
            if config.slos:
                blocks += create_rule_blocks(
                    blocks_dir, [slo_rules_yaml(config.slos, config.alerts.runbook_base_url)],
                    start, end, eval_interval_s=config.scrape.interval)
        except PromtoolError as exc:
            fail(str(exc))
        click.echo(f"created {len(blocks)} blocks in {blocks_dir}: copy them into the "
                   "server's --storage.tsdb.path (with a --storage.tsdb.retention.time "
                   "that reaches back to them) and restart it", err=True)


def _blocks_from(path: Path, blocks_dir: Path) -> list[Path]:
    """promtool reads plain text only: a ``.gz`` export is unpacked beside it first."""
    import gzip
    import shutil

    from monitoring.app.promconfig import create_blocks

    if not path.name.endswith(".gz"):
        return create_blocks(path, blocks_dir)
    plain = path.with_name(path.name[: -len(".gz")] + ".unpacked")
    try:
        with gzip.open(path, "rb") as src, plain.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        return create_blocks(plain, blocks_dir)
    finally:
        plain.unlink(missing_ok=True)


def _targets(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not name or not url:
            fail(f"--target: expected NAME=URL (e.g. us=http://127.0.0.1:9101), got {pair!r}", 2)
        out[name] = url
    return out


@click.command(name="prometheus-config")
@click.option("--target", "target_pairs", multiple=True, metavar="NAME=URL",
              help="An engine endpoint, e.g. us=http://127.0.0.1:9101 (repeat for edge and "
                   "every region; 'ionmon serve' and the engine print their URLs).")
@click.option("--rules", "rules_files", multiple=True,
              help="Rules file to load, as written by 'ionmon export prometheus --out'.")
@click.option("--alertmanager", "alertmanager_url", default=None, metavar="URL",
              help="Alertmanager to send alerts to "
                   "(default: alerts.channels.alertmanager.url).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write here instead of stdout.")
@pass_ctx
def prometheus_config(ctx: Context, target_pairs: tuple[str, ...], rules_files: tuple[str, ...],
                      alertmanager_url: str | None, out_path: Path | None) -> None:
    """Write a prometheus.yml that scrapes the engine's regions and edge, loads the rules
    and sends alerts to the Alertmanager."""
    from engine.cluster import EDGE
    from monitoring.app.promconfig import prometheus_yml

    config = ctx.config
    targets = _targets(target_pairs)
    needed = [EDGE, *config.engine.regions]
    missing = [n for n in needed if n not in targets]
    if missing:
        fail(f"--target missing for {', '.join(missing)}: the engine serves each of "
             f"{', '.join(needed)} on its own port", 2)
    extra = {t.name: t.url for t in config.scrape.targets if t.kind == "exposition"}
    am = config.alerts.channels.alertmanager
    alertmanager_url = alertmanager_url or (am.url if am else None)
    if alertmanager_url is None:
        click.echo("no Alertmanager (--alertmanager or alerts.channels.alertmanager.url): "
                   "this Prometheus will evaluate alerts but notify nobody", err=True)
    try:
        text = prometheus_yml(
            {n: targets[n] for n in [*needed, *targets]}, extra_targets=extra,
            rules_files=rules_files,
            scrape_interval_s=config.scrape.interval, scrape_timeout_s=config.scrape.timeout,
            evaluation_interval_s=config.schedule.evaluate_interval,
            alertmanager_url=alertmanager_url)
    except ValueError as exc:
        fail(str(exc), 2)
    if out_path:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(text)
        click.echo(f"wrote {out_path}", err=True)
    else:
        click.echo(text, nl=False)


COMMANDS: list[click.Command] = [export_openmetrics, prometheus_config]

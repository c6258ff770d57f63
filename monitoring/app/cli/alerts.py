"""``ionmon tune``, ``ionmon alerts`` and ``ionmon export``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from monitoring.app.cli.context import Context, fail, pass_ctx, warn_partial_backfills
from monitoring.durations import format_duration, parse_duration
from monitoring.store.base import StoreError
from monitoring.timerange import parse_instant

if TYPE_CHECKING:
    from alerts.backtest import BacktestResult, Detection, WeekScore
    from alerts.baseline import History
    from alerts.retune import Scored
    from alerts.rules import RuleSpec
    from alerts.tuner import Proposal
    from monitoring.app.config import Config


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def _ttd(r: BacktestResult) -> str:
    return "-" if r.mean_ttd_s is None else format_duration(r.mean_ttd_s)


def _threshold_text(p: Proposal) -> str:
    parts = []
    for b in p.rule.bounds:
        if b.hourly is None:
            parts.append(f"{b.metric} {b.op} {b.value:g}")
        else:
            parts.append(f"{b.metric} {b.op} hourly {min(b.hourly):g}..{max(b.hourly):g}")
    return "\n".join(parts)


def proposal_table(proposals: list[Proposal]) -> Table:
    t = Table(title="Proposed rules (back-tested on the baseline)")
    for col in ("rule", "for", "k", "threshold", "seasonal", "fires", "false/day",
                "precision", "recall", "ttd"):
        t.add_column(col)
    for p in proposals:
        c = p.chosen
        seasonal = ", ".join(f"{mb.metric} {mb.baseline.explained:.0%}"
                             for mb in p.baselines if mb.baseline.seasonal) or "no"
        k = "target" if c.k is None else f"{c.k:g}"
        if p.status != "chosen":
            k = f"{k} ({p.status})"
        t.add_row(p.spec.id, format_duration(p.spec.for_s), k, _threshold_text(p),
                  seasonal, str(c.fires), _fmt(c.false_alarms_per_day),
                  _fmt(c.precision), _fmt(c.recall), _ttd(c))
    return t


def tradeoff_table(proposals: list[Proposal]) -> Table:
    t = Table(title="k versus false alarms and detections")
    for col in ("rule", "k", "fires", "false/day", "detected", "ttd", ""):
        t.add_column(col)
    for p in proposals:
        for r in p.tradeoff:
            t.add_row(p.spec.id, f"{r.k:g}", str(r.fires), _fmt(r.false_alarms_per_day),
                      f"{r.detected}/{r.faults}", _ttd(r), "chosen" if r is p.chosen else "")
    return t


def _caught(d: Detection) -> str:
    return "-" if not d.faults else f"{d.caught}/{d.faults}"


def _week_cells(w: WeekScore | None) -> list[str]:
    if w is None:
        return ["-"] * 5
    ttd = "/".join("-" if d.mean_ttd_s is None else format_duration(d.mean_ttd_s)
                   for d in (w.loud, w.subtle))
    return [str(w.fires), _fmt(w.false_alarms_per_day), _caught(w.loud), _caught(w.subtle),
            ttd]


def backtest_table(scored: list[Scored], held_out: str | None) -> Table:
    """In-sample and held-out scores of the proposed thresholds, side by side."""
    title = ("Back-test: in sample (the baseline) | held out (" + held_out + ")"
             if held_out else "Back-test: in sample (the baseline); no held-out week")
    t = Table(title=title)
    t.add_column("rule")
    t.add_column("k")
    for week in ("in", "held"):
        for col in ("fires", "false/day", "loud", "subtle", "ttd loud/subtle"):
            t.add_column(f"{week}\n{col}", justify="right")
    for s in scored:
        k = "target" if s.proposal.rule.k is None else f"{s.proposal.rule.k:g}"
        if s.proposal.status != "chosen":
            k = f"{k} ({s.proposal.status})"
        t.add_row(s.proposal.spec.id, k, *_week_cells(s.in_sample), *_week_cells(s.held_out))
    return t


def _held_out_history(path: str, span: float, baseline: History, same_store: bool,
                      step: float) -> History:
    """The newest ``span`` of the store at ``path`` and its recorded faults; exits with a
    clear error when there is no such store or it would overlap the baseline."""
    from alerts.baseline import read_history
    from alerts.retune import RULE_METRICS
    from monitoring.groundtruth import FaultLog
    from monitoring.store.sqlite import SQLiteStore

    if not Path(path).is_file():
        fail(f"--heldout: no store at {path} (write one with 'ionmon --config X backfill "
             "--seed 7 --faults random:12', X naming another store.path)", 2)
    store = SQLiteStore(path, retention_s=None)
    faults = FaultLog(path)
    try:
        end = _newest_sample(store, f"--heldout: the store at {path}")
        start = end - span
        if same_store and start < float(baseline.ts[-1]) and end > float(baseline.ts[0]):
            fail(f"--heldout: {path} is the baseline's store and its newest "
                 f"{format_duration(span)} overlap the baseline: a held-out week must "
                 "be one the fit never saw", 2)
        return read_history(store, RULE_METRICS, start, end, faults, step=step)
    except StoreError as exc:
        fail(f"--heldout: {exc}")
    finally:
        store.close()
        faults.close()


@click.command()
@click.option("--baseline", "baseline_text", default=None,
              help="History to tune on, e.g. 7d (default: alerts.baseline, 7d).")
@click.option("--end", "end_text", default=None,
              help="End of the baseline (default: the newest sample in the store).")
@click.option("--apply", "apply_", is_flag=True, help="Write the rules file for the evaluator.")
@click.option("--tradeoff/--no-tradeoff", default=True, show_default=True,
              help="Also print the k trade-off table.")
@click.option("--heldout", "heldout_path", type=click.Path(dir_okay=False), default=None,
              help="A store holding a held-out week (e.g. written by 'ionmon --config X "
                   "backfill --seed 7 --faults random:12'): the picked thresholds are also "
                   "scored on its newest baseline span, which the fit never saw.")
@pass_ctx
def tune(ctx: Context, baseline_text: str | None, end_text: str | None, apply_: bool,
         tradeoff: bool, heldout_path: str | None) -> None:
    """Propose thresholds from a baseline, back-test them in sample and on a held-out
    week, and optionally apply them."""
    from alerts.baseline import read_history
    from alerts.retune import RULE_METRICS, commit_proposals, propose, score_weeks
    from alerts.rules import RULE_SPECS
    from monitoring.app.stores import open_store
    from monitoring.groundtruth import open_faultlog

    config = ctx.config

    settings = config.alerts
    try:
        baseline = parse_duration(baseline_text) if baseline_text else settings.baseline
        end = parse_instant(end_text) if end_text else None
    except ValueError as exc:
        fail(f"--baseline/--end: {exc}", 2)
    # The side-by-side back-test needs room: wider than a pipe's 80 columns.
    console = Console(width=max(Console().width, 140))
    try:
        store = open_store(config)
        if end is None:
            end = _newest_sample(store)
        faults = open_faultlog(config.store.path)
        history = read_history(store, RULE_METRICS, end - baseline, end, faults,
                               step=config.scrape.interval)
        warn_partial_backfills(store, end - baseline, end)
    except StoreError as exc:
        fail(str(exc))
    if history.empty:
        fail(f"no data in the store between {end - baseline:.0f} and {end:.0f}: "
             "run 'ionmon backfill' or collect for a while first")
    held_out = None
    if heldout_path is not None:
        same = (config.store.backend == "sqlite"
                and Path(heldout_path).resolve() == Path(config.store.path).resolve())
        held_out = _held_out_history(heldout_path, baseline, history, same,
                                     config.scrape.interval)
        if held_out.empty:
            fail(f"--heldout: {heldout_path} holds no samples of the rules' metrics")
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=Console(stderr=True)) as progress:
        task = progress.add_task("tuning", total=len(RULE_SPECS))

        def started(spec: RuleSpec) -> None:
            if progress.tasks[task].description != "tuning":
                progress.advance(task)
            progress.update(task, description=f"tuning {spec.id}")

        proposals = propose(history, settings, started, config.weekend_clocks)
        progress.update(task, completed=len(RULE_SPECS), description="tuned")
    console.print(f"baseline {format_duration(baseline)} ending "
                  f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(end))} UTC, "
                  f"{len(history.faults)} recorded fault(s)")
    scored = score_weeks(proposals, history, held_out)
    console.print(proposal_table(proposals))
    if tradeoff:
        console.print(tradeoff_table(proposals))
    if held_out is not None:
        console.print(f"held-out week: {heldout_path}, "
                      f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(held_out.ts[0]))} → "
                      f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(held_out.ts[-1]))} UTC, "
                      f"{len(held_out.faults)} recorded fault(s)")
    console.print(backtest_table(scored, heldout_path))
    if apply_:
        changes = commit_proposals(settings, proposals, end, baseline,
                                   config.tuning_log_path, applied=True, scored=scored,
                                   held_out=heldout_path)
        console.print(f"wrote {len(proposals)} rules to {settings.rules_path}; "
                      f"{len(changes)} threshold changes appended to {config.tuning_log_path}")
    else:
        console.print("not applied (use --apply to write the rules file)")


def _newest_sample(store, what: str = "the store") -> float:
    from alerts.rules import RULE_SPECS

    newest = 0.0

    for spec in RULE_SPECS:
        for m in spec.metrics:
            s = store.read(m, 0, 4e9)
            if len(s):
                newest = max(newest, float(s.ts[-1]))
    if not newest:
        fail(f"{what} holds no samples of the rules' metrics: run 'ionmon backfill' first")
    return newest


@click.command()
@click.option("--evaluate", "evaluate_now", is_flag=True,
              help="Run one evaluation now (or at --at) and notify changes.")
@click.option("--at", "at_text", default=None, help="Evaluate at this time instead of now.")
@click.option("--history", "history_n", type=int, default=0,
              help="Also show the last N state changes.")
@click.option("--replay", is_flag=True,
              help="Evaluate every minute of the stored history on its virtual clock, as "
                   "'serve' would have, recording alert state and history.")
@click.option("--since", "since_text", default=None,
              help="Where --replay starts (default: the start of the backfilled range).")
@click.option("--notify", "notify", type=click.Choice(["log", "configured"]), default="log",
              show_default=True,
              help="Channels --replay notifies: the log only, or every configured one.")
@pass_ctx
def alerts(ctx: Context, evaluate_now: bool, at_text: str | None, history_n: int,
           replay: bool, since_text: str | None, notify: str) -> None:
    """Show the alerts' current state; --evaluate runs one evaluation first, --replay
    evaluates the stored history."""
    from alerts.cycle import run_cycle
    from alerts.state import AlertStore
    from monitoring.app.stores import open_store

    config = ctx.config

    settings = config.alerts
    console = Console()
    if replay:
        _replay(config, since_text, notify, console)
    if evaluate_now:
        try:
            now = parse_instant(at_text) if at_text else time.time()
        except ValueError as exc:
            fail(f"--at: {exc}", 2)
        store = open_store(config)
        # Tuned rules when 'ionmon tune --apply' wrote them; SLO burn-rate rules always.
        result = run_cycle(config.alerting, store, now)
        if result.rules_error:
            console.print(f"{result.rules_error} (SLO rules were evaluated)", markup=False)
        elif not Path(settings.rules_path).exists():
            console.print(f"no tuned rules at {settings.rules_path} ('ionmon tune --apply'): "
                          "evaluated the SLO burn-rate rules only", markup=False)
    states_db = AlertStore(settings.state_path)
    states = states_db.load()
    t = Table(title="Alerts")
    for col in ("rule", "state", "since", "metric", "value", "severity", "health"):
        t.add_column(col)
    for rule_id, s in sorted(states.items()):
        since = next((t for t in (s.resolved_at, s.fired_at, s.active_since) if t is not None),
                     None)
        t.add_row(rule_id, s.state,
                  "-" if since is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(since)),
                  s.metric or "-", _fmt(s.value, ".4g"), s.severity, s.health)
    console.print(t)
    if history_n:
        h = Table(title="State changes")
        for col in ("at", "rule", "old", "new", "value"):
            h.add_column(col)
        for row in states_db.history(limit=history_n):
            h.add_row(time.strftime("%Y-%m-%d %H:%M", time.gmtime(row["at"])), row["rule"],
                      row["old"], row["new"], _fmt(row["value"], ".4g"))
        console.print(h)


def _replay(config: Config, since_text: str | None, notify: str, console: Console) -> None:
    from alerts.notify.dispatch import channels_from
    from alerts.notify.log import LogNotifier
    from alerts.replay import replay
    from monitoring.app.stores import open_store

    settings = config.alerts
    try:
        since = parse_instant(since_text) if since_text else None
    except ValueError as exc:
        fail(f"--since: {exc}", 2)
    try:
        store = open_store(config)
    except StoreError as exc:
        fail(str(exc))
    try:
        end = _newest_sample(store)
        start = since if since is not None else _backfilled_since(store, end)
        channels = ([LogNotifier()] if notify == "log" else
                    channels_from(settings, Path(settings.state_path).parent))
        began = time.perf_counter()
        with Progress(TextColumn("[bold]replaying alerts"), BarColumn(), MofNCompleteColumn(),
                      console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("replay", total=None)

            def on_step(done: int, total: int) -> None:
                if done % 600 == 0 or done == total:
                    progress.update(task, completed=done, total=total)

            result = replay(config.alerting, store, start, end, channels, on_step=on_step)
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    if result.rules_error:
        console.print(f"{result.rules_error} (SLO rules were replayed)", markup=False)
    elif not Path(settings.rules_path).exists():
        console.print(f"no tuned rules at {settings.rules_path} ('ionmon tune --apply'): "
                      "replayed the SLO burn-rate rules only", markup=False)
    span = (f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(result.start))} → "
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(result.end))} UTC")
    if result.evaluations == 0:
        console.print(f"alerts already evaluated up to {span.split(' → ')[1]}: nothing to replay")
        return
    console.print(f"replayed {result.rules} rules over {span}: {result.evaluations:,} "
                  f"evaluations, {result.changes} state changes, {result.fired} firings, "
                  f"{result.sent} notifications ({notify}) in "
                  f"{time.perf_counter() - began:.1f} s", markup=False)


def _backfilled_since(store, end: float) -> float:
    """The start of the backfilled range holding ``end``, else the alerts baseline before it."""
    runs = getattr(store, "backfill_status", None)
    starts = [r.start for r in runs(end - 1, end)] if runs is not None else []
    if starts:
        return min(starts)
    return end - 7 * 86400


@click.command()
@click.argument("what", type=click.Choice(["prometheus", "alertmanager", "slo"]))
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write here instead of stdout.")
@click.option("--webhook-url", default=None,
              help="Alertmanager receiver URL (default: alerts.channels.webhook.url).")
@pass_ctx
def export(ctx: Context, what: str, out_path: str | None, webhook_url: str | None) -> None:
    """Write a Prometheus rules file or an Alertmanager config from the tuned rules, or
    the SLOs' recording and burn-rate alerting rules (slo)."""
    from alerts.export import alertmanager_config, prometheus_rules
    from alerts.rules import RulesFileError, read_rules
    from alerts.slo_export import slo_rules_yaml

    settings = ctx.config.alerts

    if what == "slo":
        text = slo_rules_yaml(ctx.config.slos, settings.runbook_base_url)
    elif what == "prometheus":
        try:
            text = prometheus_rules(read_rules(settings.rules_path),
                                    runbook_base=settings.runbook_base_url)
        except RulesFileError as exc:
            fail(f"{exc} (run 'ionmon tune --apply' to write one)")
    else:
        hook = settings.channels.webhook
        url = webhook_url or (hook.url if hook else None)
        if not url:
            fail("no webhook URL: pass --webhook-url or set alerts.channels.webhook.url", 2)
        text = alertmanager_config(url)
    if out_path:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        Path(out_path).write_text(text)
        click.echo(f"wrote {out_path}", err=True)
    else:
        click.echo(text, nl=False)


COMMANDS = [tune, alerts, export]

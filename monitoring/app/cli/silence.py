"""``ionmon silence add|list|expire``: maintenance windows from the command line."""

from __future__ import annotations

import getpass
import time
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from monitoring.app.cli.context import Context, fail, pass_ctx
from monitoring.durations import parse_duration
from monitoring.timerange import parse_instant

if TYPE_CHECKING:
    from alerts.notify.am_silences import AlertmanagerSilences
    from alerts.silence import Silence


def _remote(ctx: Context) -> AlertmanagerSilences | None:
    from alerts.notify.am_silences import AlertmanagerSilences

    am = ctx.config.alerts.channels.alertmanager

    if am is None:
        return None
    return AlertmanagerSilences(am.url, am.timeout)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


@click.group()
def silence() -> None:
    """Mute alerts for a while (maintenance windows); also in Alertmanager when configured."""


@silence.command("add")
@click.argument("matchers", nargs=-1, required=True)
@click.option("--duration", "duration_text", default="2h", show_default=True)
@click.option("--start", "start_text", default=None, help="Start (default: now).")
@click.option("--comment", default="", help="Why: a ticket, a maintenance window.")
@click.option("--author", default=None, help="Who (default: the login name).")
@pass_ctx
def add(ctx: Context, matchers: tuple[str, ...], duration_text: str, start_text: str | None,
        comment: str, author: str | None) -> None:
    """Silence alerts whose labels equal MATCHERS, e.g. alertname=slo_availability_page."""
    from alerts.notify.am_silences import SilenceSyncError
    from alerts.silence import SilenceStore, parse_matchers

    try:
        labels = parse_matchers(matchers)
        start = parse_instant(start_text) if start_text else time.time()
        end = start + parse_duration(duration_text)
    except ValueError as exc:
        fail(str(exc), 2)
    store = SilenceStore(ctx.config.alerting.silence_path)
    try:
        s = store.add(labels, start, end, author or getpass.getuser(), comment)
        remote = _remote(ctx)
        if remote is not None:
            try:
                store.set_remote(s.id, remote.create(s))
            except SilenceSyncError as exc:
                click.echo(f"warning: not mirrored to Alertmanager: {exc}", err=True)
    finally:
        store.close()
    click.echo(f"silence {s.id}: {_fmt_matchers(s)} until {_when(end)} UTC")


def _fmt_matchers(s: Silence) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(s.matchers.items()))


@silence.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
@pass_ctx
def list_(ctx: Context, show_all: bool) -> None:
    """Active silences (all with --all)."""
    from alerts.silence import SilenceStore

    store = SilenceStore(ctx.config.alerting.silence_path)

    try:
        items = store.all()
    finally:
        store.close()
    now = time.time()
    t = Table(title="Silences")
    for col in ("id", "matchers", "starts", "ends", "state", "by", "comment", "alertmanager"):
        t.add_column(col, no_wrap=col in ("id", "state"))
    for s in items:
        state = "active" if s.active(now) else ("pending" if s.starts_at > now else "expired")
        if state == "expired" and not show_all:
            continue
        t.add_row(s.id, _fmt_matchers(s), _when(s.starts_at), _when(s.ends_at), state,
                  s.created_by, s.comment, s.remote_id or "-")
    Console().print(t)


@silence.command("expire")
@click.argument("silence_id")
@pass_ctx
def expire(ctx: Context, silence_id: str) -> None:
    """End a silence now; held notifications go out at the next evaluation."""
    from alerts.notify.am_silences import SilenceSyncError
    from alerts.silence import SilenceStore

    store = SilenceStore(ctx.config.alerting.silence_path)
    try:
        try:
            s = store.expire(silence_id, time.time())
        except KeyError as exc:
            fail(str(exc.args[0]))
        remote = _remote(ctx)
        if remote is not None and s.remote_id:
            try:
                remote.expire(s.remote_id)
            except SilenceSyncError as exc:
                click.echo(f"warning: not expired in Alertmanager: {exc}", err=True)
    finally:
        store.close()
    click.echo(f"silence {silence_id} expired")


COMMANDS = [silence]

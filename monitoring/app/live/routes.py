"""The live pages: dashboards rendered from the store at request time, silences, status,
and the process's own ``/metrics``.

A dashboard's range is in its URL, so a pasted link opens the same view: ``?range=6h``
(a preset or any duration, counted back from now), ``?range=week`` (the report's week)
or ``?from=...&to=...`` (ISO dates or epochs, UTC; ``to`` defaults to now).
"""

from __future__ import annotations

import html
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from alerts.notify.am_silences import AlertmanagerSilences, SilenceSyncError
from alerts.runbooks import RUNBOOKS_PATH, runbooks_markdown
from alerts.silence import SilenceStore
from dashboards.definitions import DASHBOARDS
from dashboards.loader import load_configured
from monitoring.app.config import Config
from monitoring.app.live.server import Page, text_page
from monitoring.app.live.silence_page import handle_post, silences_html
from monitoring.app.scheduler import JobStateDB
from monitoring.app.stores import recorded_faults
from monitoring.clock import WallClock
from monitoring.durations import parse_duration
from monitoring.store.base import Store
from monitoring.timerange import last_complete_week, parse_instant
from renderers.html import RANGE_PRESETS, LiveView, render_html

log = logging.getLogger(__name__)
DEFAULT_RANGE = "6h"
MAX_RANGE_S = 90 * 86400
READ_POINTS = 7 * 1440  # up to a week is read at the scrape interval; longer, coarser


@dataclass(frozen=True)
class ViewRange:
    start: float
    end: float
    step: float
    preset: str | None  # None for a custom from/to
    query: tuple[tuple[str, str], ...]  # how the URL names it


def view_range(query: str, now: float, interval: float) -> ViewRange:
    """The range a dashboard URL's query asks for; ValueError naming what is wrong."""
    q = parse_qs(query, keep_blank_values=True)
    given = {k: v[-1].strip() for k, v in q.items() if k in ("range", "from", "to")}
    if "range" in given and ("from" in given or "to" in given):
        raise ValueError("give either range= or from=/to=, not both")
    if "to" in given and "from" not in given:
        raise ValueError("to= needs a from=")
    if "from" in given:
        start = _instant("from", given["from"])
        end = _instant("to", given["to"]) if given.get("to") else now
        preset, named = None, (("from", given["from"]), *((("to", given["to"]),)
                                                           if given.get("to") else ()))
    else:
        preset = given.get("range") or DEFAULT_RANGE
        if preset == "week":
            start, end = last_complete_week(now)
        else:
            try:
                span = parse_duration(preset)
            except ValueError as exc:
                raise ValueError(f"range={preset!r}: {exc} (presets: "
                                 f"{', '.join(RANGE_PRESETS)})") from None
            start, end = now - span, now
        named = (("range", preset),)
    if start >= end:
        raise ValueError("the range's start must be before its end")
    if end - start > MAX_RANGE_S:
        raise ValueError(f"the range spans {(end - start) / 86400:.0f} days; at most "
                         f"{MAX_RANGE_S // 86400} are shown")
    step = interval * max(1, math.ceil((end - start) / (interval * READ_POINTS)))
    return ViewRange(start, end, step, preset, named)


def _instant(name: str, text: str) -> float:
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise ValueError(f"{name}=: {exc}") from None


def _status_page(state: JobStateDB,
                 notifications: Callable[[], dict[str, dict[str, Any]]] | None = None) -> str:
    def ts(v: float | None) -> str:
        return "—" if v is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(v))

    rows = "".join(
        f"<tr><td>{html.escape(j.job)}</td><td>{ts(j.last_start)}</td>"
        f"<td>{j.last_duration_s:.2f} s</td><td class='{html.escape(j.last_outcome)}'>"
        f"{html.escape(j.last_outcome or '—')}</td><td>{j.runs}</td><td>{j.failures}</td>"
        f"<td>{ts(j.next_run)}</td><td>{html.escape(j.last_detail)}</td></tr>"
        for j in state.jobs())
    targets = "".join(
        f"<tr><td>{html.escape(t)}</td><td>{'up' if up else 'down'}</td>"
        f"<td>{html.escape(reason or '')}</td><td>{ts(at)}</td></tr>"
        for t, up, reason, at in state.targets())
    channels = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{c['delivered']}</td><td>{c['retried']}</td>"
        f"<td>{c['duplicated_by_timeout']}</td><td class='{'error' if c['dropped'] else ''}'>"
        f"{c['dropped']}</td><td>{c.get('queued', '—')}</td>"
        f"<td>{html.escape(str(c['last_drop_reason']))}</td></tr>"
        for name, c in (notifications() if notifications else {}).items())
    return (
        "<!doctype html><meta charset='utf-8'><meta http-equiv='refresh' content='10'>"
        "<title>ION Monitoring status</title><style>body{font:14px sans-serif;margin:24px}"
        "table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;"
        "text-align:left}.error{color:#c00;font-weight:bold}.ok{color:#070}</style>"
        "<h1>Jobs</h1><table><tr><th>job</th><th>last run (UTC)</th><th>duration</th>"
        f"<th>outcome</th><th>runs</th><th>failures</th><th>next run</th><th>detail</th></tr>"
        f"{rows}</table><h1>Targets</h1><table><tr><th>target</th><th>state</th>"
        f"<th>reason</th><th>at</th></tr>{targets}</table>"
        "<h1>Notifications</h1><table><tr><th>channel</th><th>delivered</th><th>retried</th>"
        "<th>duplicated by timeout</th><th>dropped</th><th>queued</th>"
        f"<th>last drop</th></tr>{channels}</table>"
        "<p><a href='/'>dashboards</a> · <a href='/metrics'>/metrics</a></p>")


def make_router(config: Config, store: Store, state: JobStateDB, registry: CollectorRegistry,
                clock: WallClock,
                notifications: Callable[[], dict[str, dict[str, Any]]] | None = None
                ) -> Callable[[str], Page]:
    """Path in, page out: every page is rendered from the store at request time."""
    first = next(iter(DASHBOARDS))

    def route(target: str) -> Page:
        parts = urlsplit(target)
        path = parts.path
        if path == "/":
            return Page(302, f"/d/{first}" + (f"?{parts.query}" if parts.query else ""), b"")
        if path.startswith("/d/") and path[3:] in DASHBOARDS:
            return _dashboard_page(config, store, path[3:], parts.query, clock.now())
        if path == "/silences":
            return _silences_page(config, clock.now())
        if path == "/status":
            page = _status_page(state, notifications)
            return Page(200, "text/html; charset=utf-8", page.encode())
        if path == "/metrics":
            return Page(200, CONTENT_TYPE_LATEST, generate_latest(registry))
        if path == RUNBOOKS_PATH:  # what alerts' runbook_url links to
            return Page(200, "text/markdown; charset=utf-8", runbooks_markdown().encode())
        return Page(404, "text/plain; charset=utf-8", b"not found: try / or /status\n")

    return route


def _dashboard_page(config: Config, store: Store, name: str, query: str, now: float) -> Page:
    try:
        view = view_range(query, now, config.scrape.interval)
    except ValueError as exc:
        return text_page(400, f"bad range: {exc}")
    data = load_configured(config.alerting, DASHBOARDS[name], store, view.start, view.end,
                           view.step, faults=recorded_faults(config, view.start, view.end))
    live = LiveView(view.query, view.preset)
    page = render_html(data, refresh_s=int(config.scrape.interval), link_pattern="/d/{name}",
                       live=live)
    return Page(200, "text/html; charset=utf-8", page.encode())


def _silences_page(config: Config, now: float, notice: str = "", status: int = 200) -> Page:
    silences = SilenceStore(config.alerting.silence_path)
    try:
        items = silences.all()
    finally:
        silences.close()
    page = silences_html(items, now, notice, token_required=config.serve.token is not None)
    return Page(status, "text/html; charset=utf-8", page.encode())


def make_post_router(config: Config, clock: WallClock
                     ) -> Callable[[str, dict[str, list[str]]], Page]:
    """Form posts to /silences (create) and /silences/expire; mirrored to Alertmanager
    when one is configured. The server has checked the token and body size already."""
    def post(path: str, form: dict[str, list[str]]) -> Page:
        now = clock.now()
        silences = SilenceStore(config.alerting.silence_path)
        try:
            outcome, changed = handle_post(silences, path, form, now)
            am = config.alerts.channels.alertmanager
            if outcome.status == 200 and changed is not None and am is not None:
                _mirror(silences, changed, path, am)
        finally:
            silences.close()
        if outcome.status != 200:
            return text_page(outcome.status, outcome.message)
        return _silences_page(config, now, outcome.message)

    return post


def _mirror(silences: Any, changed: Any, path: str, am: Any) -> None:
    """Best effort: the local silence holds whether or not Alertmanager answers."""
    remote = AlertmanagerSilences(am.url, am.timeout)
    try:
        if path == "/silences":
            silences.set_remote(changed.id, remote.create(changed))
        elif changed.remote_id:
            remote.expire(changed.remote_id)
    except SilenceSyncError as exc:
        log.warning("silence %s not mirrored to Alertmanager: %s", changed.id, exc)

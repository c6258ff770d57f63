"""Silences on the live page: list the active ones, create and expire them from a form.

``silences_html`` is pure (silences in, HTML out); ``handle_post`` turns a parsed form
into a change in the silence store and answers with a status and a one-line reason, so
bad input is a 400 with its reason, never a traceback. The HTTP server checks the token
and the body size before any of this runs.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alerts.silence import Silence, SilenceStore, parse_matchers
from monitoring.durations import parse_duration

MAX_SILENCE_S = 30 * 86400.0  # a longer "maintenance window" is a disabled rule
MAX_FIELD = 500  # characters per form field: matchers and comments are short


class FormError(ValueError):
    """A form that cannot be applied; the message says which field and why."""


@dataclass(frozen=True)
class Outcome:
    status: int
    message: str


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _matchers(s: Silence) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(s.matchers.items()))


def silences_html(silences: Sequence[Silence], now: float, notice: str = "",
                  token_required: bool = True) -> str:
    """The page: active and upcoming silences, each with an expire form, and a create form."""
    e = html.escape
    current = [s for s in silences if s.ends_at > now]
    rows = "".join(
        f"<tr data-silence='{e(s.id)}'><td><code>{e(s.id)}</code></td><td>{e(_matchers(s))}</td>"
        f"<td>{'active' if s.active(now) else 'pending'}</td><td>{_when(s.starts_at)}</td>"
        f"<td>{_when(s.ends_at)}</td><td>{e(s.created_by)}</td><td>{e(s.comment)}</td>"
        f"<td><form method='post' action='/silences/expire'>"
        f"<input type='hidden' name='id' value='{e(s.id)}'>{_token_field(token_required)}"
        f"<button>expire</button></form></td></tr>"
        for s in current)
    table = (f"<table><tr><th>id</th><th>matchers</th><th>state</th><th>starts</th>"
             f"<th>ends</th><th>by</th><th>comment</th><th></th></tr>{rows}</table>"
             if current else "<p class='none'>No active silences.</p>")
    note = f"<p class='notice'>{e(notice)}</p>" if notice else ""
    return (
        "<!doctype html><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; form-action 'self'\">"
        "<title>Silences · ION Monitoring</title><style>body{font:14px sans-serif;margin:24px}"
        "table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;"
        "text-align:left}.notice{background:#eef;padding:8px}label{display:block;margin:6px 0}"
        "</style><h1>Silences</h1>" + note + table +
        "<h2>New silence</h2><form method='post' action='/silences'>"
        "<label>Matchers (label=value, comma separated) <input name='matchers' size='60' "
        "placeholder='alertname=slo_availability_page' required></label>"
        "<label>Duration <input name='duration' value='2h' size='8'></label>"
        "<label>Comment <input name='comment' size='60'></label>"
        "<label>By <input name='created_by' size='20'></label>"
        f"{_token_field(token_required, visible=True)}<button>silence</button></form>"
        "<p><a href='/'>dashboards</a> · <a href='/status'>status</a></p>")


def _token_field(required: bool, visible: bool = False) -> str:
    if not required:
        return ""
    # Browsers cannot set an Authorization header on a form: the token travels in it.
    if visible:
        return "<label>Token <input type='password' name='token' required></label>"
    return "<input type='password' name='token' placeholder='token' size='10' required>"


def _field(form: Mapping[str, Sequence[str]], name: str, default: str = "") -> str:
    values = form.get(name) or [default]
    if len(values) > 1:
        raise FormError(f"{name}: given {len(values)} times, expected once")
    value = values[0].strip()
    if len(value) > MAX_FIELD:
        raise FormError(f"{name}: longer than {MAX_FIELD} characters")
    return value


def parse_create(form: Mapping[str, Sequence[str]], now: float) -> dict[str, Any]:
    """The new silence's fields from a form, checked."""
    text = _field(form, "matchers")
    if not text:
        raise FormError("matchers: required, e.g. alertname=slo_availability_page")
    try:
        matchers = parse_matchers([m for m in text.replace("\n", ",").split(",") if m.strip()])
        duration = parse_duration(_field(form, "duration", "2h"))
    except ValueError as exc:
        raise FormError(str(exc)) from None
    if not 0 < duration <= MAX_SILENCE_S:
        raise FormError(f"duration: between 1s and 30d, got {duration:g}s")
    return {"matchers": matchers, "starts_at": now, "ends_at": now + duration,
            "created_by": _field(form, "created_by") or "web",
            "comment": _field(form, "comment")}


def handle_post(store: SilenceStore, path: str, form: Mapping[str, Sequence[str]],
                now: float) -> tuple[Outcome, Silence | None]:
    """Apply one form to ``store``: 200 with what changed, or 4xx with why not."""
    try:
        if path == "/silences":
            fields = parse_create(form, now)
            s = store.add(**fields)
            return Outcome(200, f"silence {s.id} created: {_matchers(s)} until "
                                f"{_when(s.ends_at)}"), s
        if path == "/silences/expire":
            sid = _field(form, "id")
            if not sid:
                raise FormError("id: required")
            try:
                s = store.expire(sid, now)
            except KeyError:
                return Outcome(404, f"no silence {sid!r}"), None
            return Outcome(200, f"silence {s.id} expired"), s
    except ValueError as exc:  # FormError, or a silence the store refuses
        return Outcome(400, f"bad request: {exc}"), None
    return Outcome(404, f"not found: {path}"), None

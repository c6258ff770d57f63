"""Live runs: the engine over HTTP, modelled traffic at wall time, scrapes over HTTP.

``LiveEngine`` starts the cluster's HTTP endpoints and a ``TrafficReplayer`` that sends
the traffic model's requests to the edge port when their time comes. ``scrape_once``
is one measured cycle; ``run_serve`` adds the scheduler and the dashboard server.
"""

from __future__ import annotations

import hmac
import html
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from engine.cluster import EDGE, Cluster
from engine.traffic import Request, TrafficModel
from monitoring.clock import WallClock
from monitoring.config import Config
from monitoring.scheduler import (
    JobMetrics,
    JobRunner,
    JobStateDB,
    ScheduleSettings,
    start_scheduler,
)
from monitoring.scrape import CycleResult, Scraper
from monitoring.store.factory import open_store
from monitoring.targets import live_collectors

log = logging.getLogger(__name__)
SLICE_S = 1.0  # traffic is fetched from the model one second ahead
REQUEST_TIMEOUT_S = 10.0
DEFAULT_PORT = 8080
DASHBOARD_RANGE_S = 6 * 3600
WARMUP_S = 2.0
NOTIFY_DRAIN_S = 5.0  # at shutdown, how long channels may finish what they are sending


class TrafficReplayer:
    """Sends each modelled request to the edge at its own wall-clock time."""

    def __init__(self, model: TrafficModel, edge_url: str, clock: WallClock,
                 workers: int = 8) -> None:
        self.model = model
        self.edge_url = edge_url.rstrip("/")
        self.clock = clock
        self.sent = 0
        self.failed = 0
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="traffic")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="traffic", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        t = self.clock.now()
        while not self._stop.is_set():
            for req in self.model.requests_for(t, t + SLICE_S):
                delay = req.ts - self.clock.now()
                if delay > 0 and self._stop.wait(delay):
                    return
                self._pool.submit(self._send, req)
            t += SLICE_S
            ahead = t - self.clock.now()
            if ahead > 0 and self._stop.wait(ahead):
                return

    def _send(self, req: Request) -> None:
        # The edge port routes /<region>/v2/... to that region, as clients reach it.
        url = f"{self.edge_url}/{req.region}{req.path}"
        r = urllib.request.Request(url, data=req.body or None, method=req.method,
                                   headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(r, timeout=REQUEST_TIMEOUT_S) as resp:
                resp.read()
            ok = True
        except urllib.error.HTTPError as exc:  # 4xx/5xx are answers, still traffic
            exc.read()
            ok = True
        except OSError:
            ok = False
        with self._lock:
            self.sent += 1
            self.failed += 0 if ok else 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)


def _scaled(config: Config, scale: float) -> Config:
    """The config with the modelled request rate multiplied (short live runs need traffic)."""
    if scale == 1.0:
        return config
    t = config.engine.traffic
    traffic = t.model_copy(update={"peak_requests_per_minute": t.peak_requests_per_minute * scale})
    return config.model_copy(update={
        "engine": config.engine.model_copy(update={"traffic": traffic})})


class LiveEngine:
    """The engine on loopback ports, with traffic flowing and a scraper pointed at it."""

    def __init__(self, config: Config, traffic: bool = True, traffic_scale: float = 1.0
                 ) -> None:
        self.clock = WallClock()
        self.cluster = Cluster(config.engine, self.clock)
        try:
            self.urls = self.cluster.start_http()
            self.scraper = Scraper(live_collectors(config, self.clock, self.urls),
                                   parallel=True)
            self.traffic = (TrafficReplayer(TrafficModel(_scaled(config, traffic_scale).engine),
                                            self.urls[EDGE], self.clock) if traffic else None)
        except BaseException:
            self.cluster.close()
            raise

    def __enter__(self) -> LiveEngine:
        if self.traffic is not None:
            self.traffic.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.traffic is not None:
            self.traffic.stop()
        self.scraper.close()
        self.cluster.close()


@dataclass(frozen=True)
class ScrapeOutcome:
    cycle: CycleResult
    requests: int


def scrape_once(config: Config, window_s: float, write: bool = True,
                traffic_scale: float = 1.0) -> ScrapeOutcome:
    """Prime a scrape, let traffic run for ``window_s``, scrape again, store the values."""
    with LiveEngine(config, traffic_scale=traffic_scale) as live:
        # Labelled counters appear on their first request; a rate needs them in both scrapes.
        time.sleep(WARMUP_S)
        live.scraper.cycle(live.clock.now())
        time.sleep(window_s)
        cycle = live.scraper.cycle(live.clock.now())
        sent = live.traffic.sent if live.traffic else 0
    if write and cycle.values:
        store = open_store(config)
        try:
            store.write(cycle.points())
        finally:
            store.close()
    return ScrapeOutcome(cycle, sent)


# --- the dashboard server -------------------------------------------------------------

@dataclass(frozen=True)
class Page:
    status: int
    content_type: str
    body: bytes


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


def make_router(config: Config, store: Any, state: JobStateDB, registry: CollectorRegistry,
                clock: WallClock,
                notifications: Callable[[], dict[str, dict[str, Any]]] | None = None
                ) -> Callable[[str], Page]:
    """Path in, page out: every page is rendered from the store at request time."""
    from dashboards.alertsfeed import load_configured
    from dashboards.definitions import DASHBOARDS
    from renderers.html import render_html

    first = next(iter(DASHBOARDS))

    def route(path: str) -> Page:
        path = path.split("?", 1)[0]
        if path == "/":
            return Page(302, f"/d/{first}", b"")
        if path.startswith("/d/") and path[3:] in DASHBOARDS:
            now = clock.now()
            data = load_configured(config, DASHBOARDS[path[3:]], store,
                                   now - DASHBOARD_RANGE_S, now)
            page = render_html(data, refresh_s=int(config.scrape.interval),
                               link_pattern="/d/{name}")
            return Page(200, "text/html; charset=utf-8", page.encode())
        if path == "/silences":
            return _silences_page(config, clock.now())
        if path == "/status":
            page = _status_page(state, notifications)
            return Page(200, "text/html; charset=utf-8", page.encode())
        if path == "/metrics":
            return Page(200, CONTENT_TYPE_LATEST, generate_latest(registry))
        return Page(404, "text/plain; charset=utf-8", b"not found: try / or /status\n")

    return route


def _silences_page(config: Config, now: float, notice: str = "", status: int = 200) -> Page:
    from alerts.cycle import silence_path
    from alerts.silence import SilenceStore
    from monitoring.silence_page import silences_html

    silences = SilenceStore(silence_path(config))
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
    from alerts.cycle import silence_path
    from alerts.settings import alerts_settings
    from alerts.silence import SilenceStore
    from monitoring.silence_page import handle_post

    def post(path: str, form: dict[str, list[str]]) -> Page:
        now = clock.now()
        silences = SilenceStore(silence_path(config))
        try:
            outcome, changed = handle_post(silences, path, form, now)
            am = alerts_settings(config).channels.alertmanager
            if outcome.status == 200 and changed is not None and am is not None:
                _mirror(silences, changed, path, am)
        finally:
            silences.close()
        if outcome.status != 200:
            return _text(outcome.status, outcome.message)
        return _silences_page(config, now, outcome.message)

    return post


def _mirror(silences: Any, changed: Any, path: str, am: Any) -> None:
    """Best effort: the local silence holds whether or not Alertmanager answers."""
    from alerts.notify.am_silences import AlertmanagerSilences, SilenceSyncError

    remote = AlertmanagerSilences(am.url, am.timeout)
    try:
        if path == "/silences":
            silences.set_remote(changed.id, remote.create(changed))
        elif changed.remote_id:
            remote.expire(changed.remote_id)
    except SilenceSyncError as exc:
        log.warning("silence %s not mirrored to Alertmanager: %s", changed.id, exc)


MAX_REQUEST_BODY = 64 * 1024  # the dashboards take no uploads: anything bigger is refused
FORM_TYPE = "application/x-www-form-urlencoded"


def _text(status: int, reason: str) -> Page:
    return Page(status, "text/plain; charset=utf-8", f"{reason}\n".encode())


def serve_http(route: Callable[[str], Page], port: int, host: str = "127.0.0.1",
               token: str | None = None, max_body: int = MAX_REQUEST_BODY,
               post: Callable[[str, dict[str, list[str]]], Page] | None = None
               ) -> ThreadingHTTPServer:
    """Serve ``route`` on ``host`` (loopback unless told otherwise); with ``token``, every
    request must carry it. Bad requests get a 4xx and a one-line reason, never a traceback.
    ``post`` answers form posts; they always need the token (none set: refused)."""
    expected = f"Bearer {token}".encode() if token else None

    class Handler(BaseHTTPRequestHandler):
        def _authorized(self) -> bool:
            if expected is None:
                return True
            given = self.headers.get("Authorization", "").encode()
            query = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
            return (hmac.compare_digest(given, expected)
                    or hmac.compare_digest(f"Bearer {query}".encode(), expected))

        def _body_ok(self) -> Page | None:
            length = self.headers.get("Content-Length")
            if length is None:
                return None
            if not length.isdigit():
                return _text(400, "bad request: invalid Content-Length")
            if int(length) > max_body:
                return _text(413, f"request body of {length} bytes exceeds {max_body}")
            self.rfile.read(int(length))  # drained, so the connection stays in sync
            return None

        def do_GET(self) -> None:
            refused = self._body_ok()
            if refused is not None:
                self.close_connection = True
                self._send(refused)
            elif not self._authorized():
                self._send(_text(401, "unauthorized: send the dashboard token as "
                                      "'Authorization: Bearer <token>' or ?token=<token>"))
            else:
                try:
                    page = route(self.path)
                except Exception:  # one bad page must not stop the server
                    log.exception("rendering %s failed", self.path)
                    page = _text(500, "internal error: see the server log")
                self._send(page)

        def _refuse(self) -> None:
            self.close_connection = True
            self._send(_text(405, f"method {self.command} not allowed: the dashboards are "
                                  "read-only (GET)"))

        def do_POST(self) -> None:
            if post is None:
                return self._refuse()
            self.close_connection = True
            page = self._form_post()
            self._send(page)

        def _form_post(self) -> Page:
            length = self.headers.get("Content-Length", "")
            if not length.isdigit():
                return _text(411, "length required: send the form with a Content-Length")
            if int(length) > max_body:
                return _text(413, f"request body of {length} bytes exceeds {max_body}")
            body = self.rfile.read(int(length))
            if expected is None:
                return _text(403, "forbidden: changes need a token; set serve.token in "
                                  "config.yaml")
            if self.headers.get("Content-Type", "").split(";")[0].strip() != FORM_TYPE:
                return _text(415, f"unsupported media type: send {FORM_TYPE}")
            try:
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                max_num_fields=20)
            except (UnicodeDecodeError, ValueError) as exc:
                return _text(400, f"bad request: not a URL-encoded UTF-8 form ({exc})")
            given = f"Bearer {(form.pop('token', None) or [''])[0]}".encode()
            if not (self._authorized() or hmac.compare_digest(given, expected)):
                return _text(401, "unauthorized: send the token in the form's token field "
                                  "or as 'Authorization: Bearer <token>'")
            try:
                return post(urlsplit(self.path).path, form)
            except Exception:  # one bad request must not stop the server
                log.exception("handling POST %s failed", self.path)
                return _text(500, "internal error: see the server log")

        do_PUT = do_DELETE = do_PATCH = _refuse

        def _send(self, page: Page) -> None:
            self.send_response(page.status)
            if page.status == 302:
                self.send_header("Location", page.content_type)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if page.status == 405:
                self.send_header("Allow", "GET")
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
            self.end_headers()
            self.wfile.write(page.body)

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("http: " + fmt, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="dashboards", daemon=True).start()
    return server


def notification_workers(config: Config, registry: CollectorRegistry) -> Any:
    """The notification workers for the whole run, their counters on ``/metrics``."""
    try:
        from alerts.cycle import open_dispatcher
    except ImportError:
        return None
    dispatcher = open_dispatcher(config)
    registry.register(dispatcher.metrics.registry)
    return dispatcher


def run_serve(config: Config, port: int | None = None, duration_s: float | None = None,
              scrape_interval_s: float | None = None,
              echo: Callable[[str], None] = print) -> None:
    """Everything live until ``duration_s`` passes or the process is interrupted."""
    from monitoring.jobs import JobContext, build_jobs

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if scrape_interval_s is not None:
        config = config.model_copy(update={
            "scrape": config.scrape.model_copy(update={
                "interval": scrape_interval_s,
                "timeout": min(config.scrape.timeout, scrape_interval_s)})})
    settings = ScheduleSettings.from_config(config)
    serve_section = getattr(config, "serve", None)
    port = port if port is not None else getattr(serve_section, "port", DEFAULT_PORT)
    registry = CollectorRegistry()
    store = open_store(config)
    state = JobStateDB(settings.state_path)
    runner = JobRunner(state, JobMetrics(registry))
    dispatcher = notification_workers(config, registry)
    snapshot = dispatcher.metrics.snapshot if dispatcher is not None else None
    with LiveEngine(config) as live:
        live.scraper.cycle(live.clock.now())  # the first scrape only primes the rates
        ctx = JobContext(config, settings, store, state, live.scraper, dispatcher)
        sched = start_scheduler(build_jobs(ctx), runner, settings, live.clock.now)
        server = serve_http(make_router(config, store, state, registry, live.clock, snapshot),
                            port,
                            host=getattr(serve_section, "host", "127.0.0.1"),
                            token=getattr(serve_section, "token", None),
                            post=make_post_router(config, live.clock))
        echo(f"serving dashboards on http://{server.server_address[0]}:{server.server_port}/ "
             f"(status: /status, metrics: /metrics); engine at {live.urls[EDGE]}")
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                time.sleep(0.5 if left is None else min(0.5, left))
        except KeyboardInterrupt:
            echo("interrupted")
        finally:
            sched.shutdown(wait=True)
            if dispatcher is not None:
                dispatcher.close(drain_s=NOTIFY_DRAIN_S)  # outboxes keep what is left
            server.shutdown()
            server.server_close()
            sent = live.traffic.sent if live.traffic else 0
    store.close()
    state.close()
    ok = sum(r.ok for r in runner.history)
    echo(f"stopped: {len(runner.history)} job runs ({ok} ok), {sent} requests sent")


__all__ = ["LiveEngine", "ScrapeOutcome", "TrafficReplayer", "run_serve", "scrape_once"]

"""``ionmon serve``: the engine live, the scheduled jobs, the dashboard server, until told
to stop (``--duration``, Ctrl-C or SIGTERM)."""

from __future__ import annotations

import errno
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry

from alerts.cycle import open_dispatcher
from alerts.notify.dispatch import Dispatcher
from engine.cluster import EDGE
from monitoring.app.config import Config
from monitoring.app.jobs import JobContext, build_jobs
from monitoring.app.live.engine import LiveEngine, carry_on
from monitoring.app.live.routes import make_post_router, make_router
from monitoring.app.live.server import DashboardServer, Page, ServerLimits, serve_http, text_page
from monitoring.app.scheduler import JobMetrics, JobRunner, JobStateDB, start_scheduler
from monitoring.app.stores import open_store

log = logging.getLogger(__name__)
NOTIFY_DRAIN_S = 5.0  # at shutdown, how long channels may finish what they are sending


class ServeError(RuntimeError):
    """``serve`` cannot start; the message says why (nothing was started)."""


def _starting(path: str) -> Page:
    return text_page(503, "starting: the dashboards answer once the engine is up")


def open_server(config: Config, port: int) -> DashboardServer:
    """Bind the dashboard port first, so a port in use stops ``serve`` before the engine,
    the scheduler or anything else has started."""
    s = config.serve
    limits = ServerLimits(connection_limit=s.connection_limit,
                          idle_timeout_s=max(1, round(s.idle_timeout)),
                          header_timeout_s=max(1, round(s.header_timeout)), threads=s.threads)
    try:
        return serve_http(_starting, port, host=s.host, token=s.token, limits=limits,
                          cache_s=config.scrape.interval,
                          cacheable=lambda path: path.startswith("/d/"))
    except OSError as exc:
        what = "in use" if exc.errno == errno.EADDRINUSE else "not available"
        raise ServeError(f"serve.port: {s.host}:{port} is {what} ({exc.strerror}); stop "
                         f"what holds it or pick another with --port") from None


@contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """SIGTERM (a service manager's stop) ends the run as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def notification_workers(config: Config, registry: CollectorRegistry) -> Dispatcher:
    """The notification workers for the whole run, their counters on ``/metrics``."""
    dispatcher = open_dispatcher(config.alerting)
    registry.register(dispatcher.metrics.registry)
    return dispatcher


def run_serve(config: Config, port: int | None = None, duration_s: float | None = None,
              scrape_interval_s: float | None = None,
              echo: Callable[[str], None] = print) -> None:
    """Everything live until ``duration_s`` passes or the process is interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if scrape_interval_s is not None:
        config = config.model_copy(update={
            "scrape": config.scrape.model_copy(update={
                "interval": scrape_interval_s,
                "timeout": min(config.scrape.timeout, scrape_interval_s / 2)})})
    port = port if port is not None else config.serve.port
    server = open_server(config, port)  # a port in use fails before anything starts
    stop = threading.Event()
    try:
        carried = carry_on(config)  # after a backfill: its store filled on to now
        if carried is not None:
            echo(f"carrying the backfill on: {carried.cycles} minutes filled to the current "
                 f"minute, {carried.evaluations} alert evaluations replayed")
        warmup_s = config.backfill.warmup if carried is not None else 0.0
        with _stop_on_sigterm(stop):
            runner, sent = _run(config, server, duration_s, stop, echo, warmup_s)
    finally:
        server.shutdown()
        server.server_close()
    ok = sum(r.ok for r in runner.history)
    log.info("stopped")
    echo(f"stopped: {len(runner.history)} job runs ({ok} ok), {sent} requests sent")


def _run(config: Config, server: DashboardServer, duration_s: float | None,
         stop: threading.Event, echo: Callable[[str], None], warmup_s: float
         ) -> tuple[JobRunner, int]:
    registry = CollectorRegistry()
    store = open_store(config)
    state = JobStateDB(config.scheduler_state_path)
    runner = JobRunner(state, JobMetrics(registry))
    dispatcher = notification_workers(config, registry)
    try:
        # After a backfill the engine is warmed the way the backfill warmed it.
        with LiveEngine(config, warmup_s=warmup_s) as live:
            live.scraper.cycle(live.clock.now())  # the first scrape only primes the rates
            ctx = JobContext(config, store, state, live.scraper, dispatcher)
            sched = start_scheduler(build_jobs(ctx), runner, config.schedule, live.clock.now)
            server.app.post = make_post_router(config, live.clock)
            server.app.route = make_router(config, store, state, registry, live.clock,
                                           dispatcher.metrics.snapshot)
            echo(f"serving dashboards on http://{server.server_address[0]}:"
                 f"{server.server_port}/ (status: /status, metrics: /metrics); engine at "
                 f"{live.urls[EDGE]}")
            try:
                if stop.wait(duration_s):
                    echo("terminated: stopping")
            except KeyboardInterrupt:
                echo("interrupted")
            finally:
                server.app.route = _stopping
                # A job running now finishes; one not yet started is abandoned.
                sched.shutdown(wait=True)
                dispatcher.close(drain_s=NOTIFY_DRAIN_S)  # outboxes keep what is left
                sent = live.traffic.sent if live.traffic else 0
    finally:
        store.close()
        state.close()
    return runner, sent


def _stopping(path: str) -> Page:
    return text_page(503, "stopping: ionmon serve is shutting down")

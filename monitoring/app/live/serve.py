"""``ionmon serve``: the engine live, the scheduled jobs, the dashboard server, until told
to stop."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from alerts.cycle import open_dispatcher
from alerts.notify.dispatch import Dispatcher
from engine.cluster import EDGE
from monitoring.app.config import Config
from monitoring.app.jobs import JobContext, build_jobs
from monitoring.app.live.engine import LiveEngine, carry_on
from monitoring.app.live.routes import make_post_router, make_router
from monitoring.app.live.server import serve_http
from monitoring.app.scheduler import JobMetrics, JobRunner, JobStateDB, start_scheduler
from monitoring.app.stores import open_store

log = logging.getLogger(__name__)
NOTIFY_DRAIN_S = 5.0  # at shutdown, how long channels may finish what they are sending


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
    carried = carry_on(config)  # after a backfill: its store filled on to now, on its grid
    if carried is not None:
        echo(f"carrying the backfill on: {carried.cycles} minutes filled to the current "
             f"minute, {carried.evaluations} alert evaluations replayed")
    if scrape_interval_s is not None:
        config = config.model_copy(update={
            "scrape": config.scrape.model_copy(update={
                "interval": scrape_interval_s,
                "timeout": min(config.scrape.timeout, scrape_interval_s)})})
    port = port if port is not None else config.serve.port
    registry = CollectorRegistry()
    store = open_store(config)
    state = JobStateDB(config.scheduler_state_path)
    runner = JobRunner(state, JobMetrics(registry))
    dispatcher = notification_workers(config, registry)
    warmup = config.backfill.warmup if carried is not None else 0.0  # warm as it was
    with LiveEngine(config, warmup_s=warmup) as live:
        live.scraper.cycle(live.clock.now())  # the first scrape only primes the rates
        ctx = JobContext(config, store, state, live.scraper, dispatcher)
        sched = start_scheduler(build_jobs(ctx), runner, config.schedule, live.clock.now)
        server = serve_http(make_router(config, store, state, registry, live.clock,
                                        dispatcher.metrics.snapshot), port,
                            host=config.serve.host, token=config.serve.token,
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
            dispatcher.close(drain_s=NOTIFY_DRAIN_S)  # outboxes keep what is left
            server.shutdown()
            server.server_close()
            sent = live.traffic.sent if live.traffic else 0
    store.close()
    state.close()
    ok = sum(r.ok for r in runner.history)
    echo(f"stopped: {len(runner.history)} job runs ({ok} ok), {sent} requests sent")

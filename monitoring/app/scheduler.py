"""Run jobs on triggers, keep each job's last run, and never let one failure stop the rest.

``JobRunner.run`` is the only place a job executes: it times the job, turns an
exception into a recorded outcome, and writes the result to the state file that
``ionmon status`` reads and to the prometheus-client metrics ``/metrics`` serves. The
same runner is driven by apscheduler's ``BackgroundScheduler`` live and by
``run_virtual`` (the triggers' own ``get_next_fire_time`` on a virtual clock) in tests.
"""

from __future__ import annotations

import heapq
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry, Counter, Gauge

from monitoring.app.config import ScheduleConfig
from monitoring.sqlitedb import open_db

log = logging.getLogger(__name__)

JobFunc = Callable[[float], str]  # the scheduled time in, a one-line outcome out


@dataclass(frozen=True)
class JobSpec:
    name: str
    trigger: BaseTrigger
    func: JobFunc


@dataclass(frozen=True)
class JobRun:
    job: str
    scheduled: float
    duration_s: float
    ok: bool
    detail: str


@dataclass(frozen=True)
class JobState:
    job: str
    last_start: float | None
    last_duration_s: float
    last_outcome: str  # "ok" | "error"
    last_detail: str
    runs: int
    failures: int
    next_run: float | None


def interval(seconds: float, start: float | None = None) -> IntervalTrigger:
    """Every ``seconds``, aligned to ``start`` (default: one interval after now)."""
    return IntervalTrigger(seconds=seconds, timezone=UTC,
                           start_date=None if start is None else _dt(start))


def cron(expr: str) -> CronTrigger:
    return CronTrigger.from_crontab(expr, timezone=UTC)


# --- the state file ------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS job_state (
    job TEXT PRIMARY KEY, last_start REAL, last_duration REAL NOT NULL DEFAULT 0,
    last_outcome TEXT NOT NULL DEFAULT '', last_detail TEXT NOT NULL DEFAULT '',
    runs INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0, next_run REAL);
CREATE TABLE IF NOT EXISTS targets (
    target TEXT PRIMARY KEY, up INTEGER NOT NULL, reason TEXT, at REAL NOT NULL);
"""


class JobStateDB:
    """Each job's last run and the targets' last health, for ``ionmon status``."""

    def __init__(self, path: str | Path) -> None:
        self._db = open_db(path, _SCHEMA)
        self._lock = threading.Lock()

    def record(self, run: JobRun, next_run: float | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO job_state VALUES (?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT(job) DO "
                "UPDATE SET last_start=excluded.last_start, last_duration=excluded.last_duration,"
                " last_outcome=excluded.last_outcome, last_detail=excluded.last_detail,"
                " runs=runs+1, failures=failures+excluded.failures, next_run=excluded.next_run",
                (run.job, run.scheduled, run.duration_s, "ok" if run.ok else "error",
                 run.detail, 0 if run.ok else 1, next_run))

    def set_next(self, job: str, next_run: float | None) -> None:
        with self._lock:
            self._db.execute("INSERT INTO job_state (job, next_run) VALUES (?, ?) "
                             "ON CONFLICT(job) DO UPDATE SET next_run=excluded.next_run",
                             (job, next_run))

    def save_targets(self, health: Iterable[tuple[str, bool, str | None]], at: float) -> None:
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO targets VALUES (?, ?, ?, ?)",
                                 [(t, int(up), reason, at) for t, up, reason in health])

    def jobs(self) -> list[JobState]:
        with self._lock:
            rows = self._db.execute(
                "SELECT job, last_start, last_duration, last_outcome, last_detail, runs, "
                "failures, next_run FROM job_state ORDER BY job").fetchall()
        return [JobState(*r) for r in rows]

    def targets(self) -> list[tuple[str, bool, str | None, float]]:
        with self._lock:
            rows = self._db.execute("SELECT target, up, reason, at FROM targets ORDER BY target")
            return [(t, bool(up), reason, at) for t, up, reason, at in rows.fetchall()]

    def close(self) -> None:
        self._db.close()


# --- running one job -------------------------------------------------------------------

class JobMetrics:
    """The scheduler's own health on ``/metrics``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.last_run = Gauge("ionmon_job_last_run_timestamp_seconds",
                              "When the job last started.", ["job"], registry=registry)
        self.duration = Gauge("ionmon_job_last_duration_seconds",
                              "How long the job's last run took.", ["job"], registry=registry)
        self.success = Gauge("ionmon_job_last_success",
                             "1 if the job's last run succeeded, else 0.", ["job"],
                             registry=registry)
        self.runs = Counter("ionmon_job_runs", "Job runs by outcome.", ["job", "outcome"],
                            registry=registry)
        self.missed = Counter("ionmon_job_missed", "Runs skipped as too late.", ["job"],
                              registry=registry)


class JobRunner:
    def __init__(self, state: JobStateDB | None = None,
                 metrics: JobMetrics | None = None) -> None:
        self.state = state
        self.metrics = metrics
        self.history: list[JobRun] = []  # this process's runs, newest last
        self._lock = threading.Lock()

    def run(self, spec: JobSpec, scheduled: float) -> JobRun:
        began = time.perf_counter()
        try:
            detail, ok = spec.func(scheduled), True
        except Exception as exc:  # one failing job is an outcome, not the end of the others
            log.exception("job %s failed", spec.name)
            detail, ok = f"{type(exc).__name__}: {exc}", False
        run = JobRun(spec.name, scheduled, time.perf_counter() - began, ok, detail)
        with self._lock:
            self.history.append(run)
            del self.history[:-1000]
        if self.metrics is not None:
            self.metrics.last_run.labels(spec.name).set(scheduled)
            self.metrics.duration.labels(spec.name).set(run.duration_s)
            self.metrics.success.labels(spec.name).set(1 if ok else 0)
            self.metrics.runs.labels(spec.name, "ok" if ok else "error").inc()
        if self.state is not None:
            try:
                self.state.record(run, next_fire(spec, scheduled))
            except sqlite3.Error:
                log.exception("could not record the run of %s", spec.name)
        return run


# --- drivers ------------------------------------------------------------------------------

def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def next_fire(spec: JobSpec, after: float) -> float | None:
    """The job's first fire time strictly after `after`, from its trigger alone.

    Asked of the trigger, not the scheduler: a job thread that took the scheduler's
    job-store lock could deadlock against a shutdown waiting for that very thread.
    """
    nxt = spec.trigger.get_next_fire_time(None, _dt(after + 0.001))
    return nxt.timestamp() if nxt is not None else None


def run_virtual(specs: Sequence[JobSpec], runner: JobRunner, start: float, end: float,
                on_tick: Callable[[float], None] | None = None) -> list[JobRun]:
    """Every fire time in [start, end) in order, each job run at its own time.

    The triggers compute the next fire time from the previous one and the virtual
    "now", exactly as apscheduler asks them to.
    """
    queue: list[tuple[float, int, JobSpec, datetime]] = []
    for i, spec in enumerate(specs):
        first = spec.trigger.get_next_fire_time(None, _dt(start))
        if first is not None:
            heapq.heappush(queue, (first.timestamp(), i, spec, first))
    runs = []
    while queue and queue[0][0] < end:
        ts, i, spec, fire = heapq.heappop(queue)
        if on_tick is not None:
            on_tick(ts)
        runs.append(runner.run(spec, ts))
        nxt = spec.trigger.get_next_fire_time(fire, fire)
        if nxt is not None:
            heapq.heappush(queue, (nxt.timestamp(), i, spec, nxt))
    return runs


def start_scheduler(specs: Sequence[JobSpec], runner: JobRunner, settings: ScheduleConfig,
                    clock: Callable[[], float] = time.time) -> BackgroundScheduler:
    """apscheduler runs the jobs; a run that starts later than the grace time is skipped
    and counted, and runs that piled up while the process slept run once (coalesce)."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our runner logs outcomes
    sched = BackgroundScheduler(timezone=UTC, job_defaults={
        "coalesce": settings.coalesce, "misfire_grace_time": int(settings.misfire_grace),
        "max_instances": 1})
    by_name = {s.name: s for s in specs}
    for spec in specs:
        sched.add_job(lambda s=spec: runner.run(s, clock()), trigger=spec.trigger, id=spec.name,
                      name=spec.name)

    def missed(event: JobExecutionEvent) -> None:
        log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
        if runner.metrics is not None and event.job_id in by_name:
            runner.metrics.missed.labels(event.job_id).inc()

    sched.add_listener(missed, EVENT_JOB_MISSED)
    sched.start()
    if runner.state is not None:
        for spec in specs:
            job = sched.get_job(spec.name)
            runner.state.set_next(spec.name, job.next_run_time.timestamp()
                                  if job is not None and job.next_run_time else None)
    return sched

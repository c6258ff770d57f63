"""Jobs run on time through a virtual week; a failing job is recorded and isolated."""

from __future__ import annotations

import threading
import time

from prometheus_client import CollectorRegistry, generate_latest

from monitoring.app.config import ScheduleConfig, parse_config
from monitoring.app.scheduler import (
    JobMetrics,
    JobRunner,
    JobSpec,
    JobStateDB,
    cron,
    interval,
    run_virtual,
    start_scheduler,
)
from monitoring.timerange import WEEK_S, iso_week

MONDAY = iso_week("2026-W47")[0]


def _recording(name: str, seen: dict[str, list[float]], clock: list[float]):
    def run(now: float) -> str:
        assert now == clock[0]  # the job sees the virtual time it was scheduled for
        seen.setdefault(name, []).append(now)
        return "ok"
    return run


def _broken(now: float) -> str:
    raise RuntimeError("store unavailable")


def test_every_job_runs_on_time_through_a_virtual_week(tmp_path) -> None:
    seen: dict[str, list[float]] = {}
    clock = [MONDAY]
    specs = [
        JobSpec("scrape", interval(60, start=MONDAY), _recording("scrape", seen, clock)),
        JobSpec("dashboards", interval(300, start=MONDAY), _recording("dashboards", seen, clock)),
        JobSpec("broken", interval(3600, start=MONDAY), _broken),
        JobSpec("retune", cron("30 2 * * *"), _recording("retune", seen, clock)),
        JobSpec("weekly_report", cron("0 1 * * mon"), _recording("weekly_report", seen, clock)),
    ]
    state = JobStateDB(tmp_path / "scheduler.db")
    registry = CollectorRegistry()
    runner = JobRunner(state, JobMetrics(registry))
    runs = run_virtual(specs, runner, MONDAY, MONDAY + WEEK_S,
                       on_tick=lambda ts: clock.__setitem__(0, ts))

    assert seen["scrape"] == [MONDAY + 60 * i for i in range(WEEK_S // 60)]
    assert seen["dashboards"] == [MONDAY + 300 * i for i in range(WEEK_S // 300)]
    assert seen["retune"] == [MONDAY + d * 86400 + 2.5 * 3600 for d in range(7)]
    assert seen["weekly_report"] == [MONDAY + 3600]
    assert [r.scheduled for r in runs] == sorted(r.scheduled for r in runs)  # in time order

    broken = [r for r in runs if r.job == "broken"]
    assert len(broken) == 168 and not any(r.ok for r in broken)
    assert broken[0].detail == "RuntimeError: store unavailable"
    assert all(r.ok for r in runs if r.job != "broken")

    rows = {j.job: j for j in state.jobs()}
    assert rows["broken"].failures == 168 and rows["broken"].last_outcome == "error"
    assert rows["scrape"].runs == WEEK_S // 60 and rows["scrape"].failures == 0
    assert rows["weekly_report"].last_start == MONDAY + 3600
    text = generate_latest(registry).decode()
    assert 'ionmon_job_last_success{job="broken"} 0.0' in text
    assert 'ionmon_job_runs_total{job="scrape",outcome="ok"} 10080.0' in text
    state.close()


def test_background_scheduler_keeps_going_when_a_job_fails(tmp_path) -> None:
    counts = {"good": 0, "bad": 0}
    done = threading.Event()

    def good(now: float) -> str:
        counts["good"] += 1
        if counts["good"] >= 3:
            done.set()
        return "ok"

    def bad(now: float) -> str:
        counts["bad"] += 1
        raise ValueError("boom")

    now = time.time()
    specs = [JobSpec("good", interval(0.3, start=now), good),
             JobSpec("bad", interval(0.3, start=now), bad)]
    state = JobStateDB(tmp_path / "s.db")
    runner = JobRunner(state, JobMetrics(CollectorRegistry()))
    sched = start_scheduler(specs, runner, ScheduleConfig(misfire_grace=5))
    try:
        assert done.wait(10)
    finally:
        sched.shutdown(wait=True)
    rows = {j.job: j for j in state.jobs()}
    assert rows["bad"].failures >= 2 and rows["bad"].last_detail == "ValueError: boom"
    assert rows["good"].failures == 0 and rows["good"].runs >= 3
    assert rows["good"].next_run is not None
    state.close()


def test_shutdown_never_deadlocks_against_a_running_job(tmp_path) -> None:
    # A job thread recording its run while shutdown holds the scheduler's locks
    # must not wait on them: stop the scheduler many times mid-run.
    state = JobStateDB(tmp_path / "s.db")
    for _ in range(30):
        started = threading.Event()

        def busy(now: float, started: threading.Event = started) -> str:
            started.set()
            time.sleep(0.02)
            return "ok"

        specs = [JobSpec(f"j{i}", interval(0.01, start=time.time()), busy) for i in range(4)]
        sched = start_scheduler(specs, JobRunner(state), ScheduleConfig(misfire_grace=5))
        assert started.wait(5)
        stopper = threading.Thread(target=sched.shutdown, kwargs={"wait": True})
        stopper.start()
        stopper.join(10)
        assert not stopper.is_alive(), "shutdown deadlocked against a running job"
    state.close()


def test_recorded_next_run_comes_from_the_trigger(tmp_path) -> None:
    state = JobStateDB(tmp_path / "s.db")
    spec = JobSpec("every_minute", interval(60, start=MONDAY), lambda now: "ok")
    run_virtual([spec], JobRunner(state), MONDAY, MONDAY + 300)
    (row,) = state.jobs()
    assert row.last_start == MONDAY + 240 and row.next_run == MONDAY + 300
    state.close()


def test_settings_default_beside_the_store() -> None:
    config = parse_config({"store": {"path": "/srv/ion/ionmon.db"}})
    assert config.scheduler_state_path == "/srv/ion/scheduler.db"
    assert config.tuning_log_path == "/srv/ion/tuning.jsonl"
    s = config.schedule
    assert s.coalesce and s.misfire_grace == 300
    placed = parse_config({"schedule": {"state_path": "/var/s.db", "tuning_log": "/var/t"}})
    assert (placed.scheduler_state_path, placed.tuning_log_path) == ("/var/s.db", "/var/t")

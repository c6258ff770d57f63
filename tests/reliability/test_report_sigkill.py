"""SIGKILL of the weekly report midway: the store still opens with every sample, no
half-written report is left looking finished, and a re-run writes the whole report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from monitoring.groundtruth import FaultLog, FaultRecord
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import iso_week
from tests.app.report.conftest import INDEX_FAULT_AT, INDEX_FAULT_S, synthetic_points

WEEK = "2026-W46"
TIMED_KILLS_S = (0.4, 0.7, 0.9, 1.1)  # after spawn: loading, building, writing

# ``ionmon report`` whose writer dies after ``n`` files (charts come first, report.md
# last): a kill that lands inside the writing, every time.
_CHILD = textwrap.dedent("""
    import os, signal, sys
    import renderers.report.render as render
    n = int(sys.argv[1])
    write = render._atomic_write
    def write_then_die(path, text):
        write(path, text)
        render.written = getattr(render, "written", 0) + 1
        if render.written >= n:
            os.kill(os.getpid(), signal.SIGKILL)
    render._atomic_write = write_then_die
    from monitoring.app.cli import main
    sys.argv = ["ionmon", *sys.argv[2:]]
    main()
""")


def _samples(db: Path) -> int:
    store = SQLiteStore(db)
    try:
        data = store.read_many(store.series_ids(), 0, 4e9)
        return sum(len(s) for s in data.values())
    finally:
        store.close()


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def week_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report-kill")
    start = iso_week(WEEK)[0]
    fault = FaultRecord("index_dropped", "us", start + INDEX_FAULT_AT,
                        start + INDEX_FAULT_AT + INDEX_FAULT_S)
    store, faults = SQLiteStore(tmp / "ionmon.db"), FaultLog(tmp / "ionmon.db")
    store.write(synthetic_points(start, 1, fault))
    store.seal_all()
    faults.record(fault)
    store.close()
    faults.close()
    (tmp / "config.yaml").write_text(yaml.safe_dump({
        "store": {"path": str(tmp / "ionmon.db")}, "output_dir": str(tmp / "out"),
        "alerts": {"state_path": str(tmp / "alerts.db"),
                   "rules_path": str(tmp / "rules.yaml")}}))
    return tmp


def _report(tmp: Path, out: Path, die_after: int | None = None) -> subprocess.Popen[bytes]:
    args = ["--config", str(tmp / "config.yaml"), "report", "--week", WEEK, "--out", str(out)]
    cmd = ([sys.executable, "-c", _CHILD, str(die_after), *args] if die_after is not None
           else [sys.executable, "-m", "monitoring", *args])
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp)


def _check_after_kill(out: Path, complete: dict[str, bytes]) -> None:
    """Whatever is there: a report.md only if the whole report is there and finished."""
    files = _files(out) if out.exists() else {}
    if "report.md" in files:
        visible = {k: v for k, v in files.items() if not Path(k).name.startswith(".")}
        assert visible == complete


def test_sigkill_during_report_leaves_no_finished_looking_partial(week_store):
    tmp = week_store
    samples = _samples(tmp / "ionmon.db")
    ref = _report(tmp, tmp / "ref")
    assert ref.wait(timeout=120) == 0, ref.stderr.read().decode()  # type: ignore[union-attr]
    complete = _files(tmp / "ref")
    assert "report.md" in complete and len(complete) >= 2  # report.md and its charts
    out = tmp / "out-kill"

    # Killed inside the writing: after one chart, then (over a finished report from an
    # earlier run) after every chart but before report.md.
    for die_after in (1, len(complete) - 1):
        proc = _report(tmp, out, die_after)
        assert proc.wait(timeout=120) == -signal.SIGKILL, proc.stderr.read().decode()  # type: ignore[union-attr]
        assert not (out / "report.md").exists()
        _check_after_kill(out, complete)
        done = _report(tmp, out)
        assert done.wait(timeout=120) == 0
    # Killed at staggered moments (loading, building or writing, whichever it is in).
    for delay in TIMED_KILLS_S:
        proc = _report(tmp, out)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        _check_after_kill(out, complete)
    assert _samples(tmp / "ionmon.db") == samples  # the store opens, nothing lost
    rerun = _report(tmp, out)
    assert rerun.wait(timeout=120) == 0
    files = _files(out)
    assert {k: v for k, v in files.items() if not Path(k).name.startswith(".")} == complete

"""What the report makes of the first run's logs: the tuning that followed the week, the
week's false alarms, detection times never negative."""

from __future__ import annotations

from dashboards.report.model import (
    AlertEpisode,
    ReportInputs,
    Window,
    alert_episodes,
    build_report,
    threshold_changes,
)
from monitoring.groundtruth import FaultRecord

WEEK = Window(1_000_000.0, 1_000_000.0 + 7 * 86400)


def _row(at: float, rule: str, baseline_start: float | None = None) -> dict:
    row = {"at": at, "rule": rule, "metric": "db_query_p95", "old": "—", "new": "> 5",
           "applied": True, "reason": "k=4: 0.1 false alarms/day"}
    if baseline_start is not None:
        row["baseline_start"] = baseline_start
    return row


def test_a_tuning_on_a_baseline_reaching_into_the_week_is_listed_with_its_reason():
    after = WEEK.end + 2 * 86400  # tuned two days after the week, on the seven days before
    rows = [_row(after, "DatabaseSlow", after - 7 * 86400),
            _row(after, "CacheCold", WEEK.end + 3600),  # its baseline starts after the week
            _row(WEEK.start - 1, "Old")]  # before the week, no baseline recorded
    changes = threshold_changes(rows, WEEK)
    assert [c.rule for c in changes] == ["DatabaseSlow"]
    assert changes[0].reason == "k=4: 0.1 false alarms/day"
    assert changes[0].baseline_start == after - 7 * 86400


def test_false_alarms_are_the_firings_no_fault_explains_and_ttd_is_never_negative():
    fault = FaultRecord("index_dropped", "us", WEEK.start + 7200, WEEK.start + 10800)
    history = [
        {"rule": "A", "at": WEEK.start + 7000, "old": "inactive", "new": "firing",
         "value": 9.0, "metric": "db_query_p95"},  # already firing as the fault began
        {"rule": "A", "at": WEEK.start + 11000, "old": "firing", "new": "resolved"},
        {"rule": "B", "at": WEEK.start + 86400, "old": "inactive", "new": "firing",
         "value": 1.0, "metric": "error_rate"},
        {"rule": "B", "at": WEEK.start + 86400 + 600, "old": "firing", "new": "resolved"},
    ]
    episodes = alert_episodes(history, WEEK, [fault])
    by_rule = {e.rule: e for e in episodes}
    assert by_rule["A"].fault == fault and by_rule["A"].ttd_s == 0.0
    assert by_rule["B"].fault is None and by_rule["B"].ttd_s is None
    assert isinstance(by_rule["B"], AlertEpisode) and by_rule["B"].duration_s == 600


def test_an_incident_is_credited_to_the_rule_meant_for_its_kind():
    fault = FaultRecord("index_dropped", "us", WEEK.start + 7200, WEEK.start + 10800)
    history = [  # an unrelated rule fires first, the database rule a minute later
        {"rule": "cache", "at": fault.start + 60, "old": "inactive", "new": "firing",
         "value": 1.0, "metric": "l1_items"},
        {"rule": "db", "at": fault.start + 120, "old": "inactive", "new": "firing",
         "value": 9.0, "metric": "db_query_p95"},
        {"rule": "cache", "at": fault.start + 600, "old": "firing", "new": "resolved"},
        {"rule": "db", "at": fault.start + 900, "old": "firing", "new": "resolved"},
    ]
    inputs = ReportInputs(week="2026-W45", window=WEEK, previous=Window(0, WEEK.start),
                          current={}, prior={}, faults=(fault,), alert_history=tuple(history),
                          tuning_log=(), catches={"db": ("index_dropped",), "cache": ()})
    report = build_report(inputs)
    [incident] = report.incidents
    assert incident.detected_by is not None and incident.detected_by.rule == "db"
    assert incident.detected_by.ttd_s == 120 and incident.detected_by.duration_s == 780
    assert report.false_alarms == ()  # both firings were about the fault

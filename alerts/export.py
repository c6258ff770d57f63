"""Tuned rules for Prometheus and Alertmanager, as the YAML those servers read.

Expressions come only from ``metric.promql()``: the catalog spells every metric.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from alerts.rules import Bound, Rule
from monitoring import catalog
from monitoring.durations import format_duration

GROUP_NAME = "ionmon"
# The rate window in exported expressions: five 1-minute scrapes, so one lost
# scrape does not empty a rate.
RATE_WINDOW = "5m"


def _num(v: float) -> str:
    return repr(float(v))


def bound_expr(b: Bound, window: str = RATE_WINDOW) -> str:
    """PromQL true (non-empty) while the bound is breached."""
    q = catalog.get(b.metric).promql(window)
    if b.hourly is None:
        return f"({q}) {b.op} {_num(b.value)}"  # type: ignore[arg-type]
    # One threshold per UTC hour: a vector that holds the current hour's value; with
    # weekend hours, the weekday ones hold Monday to Friday (day_of_week() 1-5, UTC).
    days = ((b.hourly, " and on() day_of_week() > 0 < 6"),
            (b.weekend, " and on() (day_of_week() == 0 or day_of_week() == 6)")
            ) if b.weekend is not None else ((b.hourly, ""),)
    limit = " or ".join(f"(vector({_num(v)}) and on() hour() == {h}{when})"
                        for hours, when in days for h, v in enumerate(hours))
    return f"({q}) {b.op} on() ({limit})"


def _describe(b: Bound) -> str:
    if b.hourly is None:
        return _num(b.value)  # type: ignore[arg-type]
    return "weekday and weekend hourly threshold" if b.weekend else "hourly threshold"


def rule_expr(rule: Rule, window: str = RATE_WINDOW) -> str:
    return " or ".join(f"({bound_expr(b, window)})" for b in rule.bounds)


def prometheus_rules(rules: Sequence[Rule], window: str = RATE_WINDOW) -> str:
    group = {"name": GROUP_NAME, "rules": [
        {"alert": r.id, "expr": rule_expr(r, window), "for": format_duration(r.for_s),
         "labels": {"severity": r.severity, **r.labels},
         "annotations": {"summary": r.summary, "runbook": r.runbook,
                         "description": "; ".join(
                             f"{b.metric} {b.op} "
                             f"{_describe(b)}"
                             for b in r.bounds)}}
        for r in rules if not r.disabled  # a disabled rule is written for people, not run
    ]}
    return yaml.safe_dump({"groups": [group]}, sort_keys=False, width=1000)


def alertmanager_config(webhook_url: str, group_wait: str = "30s",
                        group_interval: str = "5m", repeat_interval: str = "4h") -> str:
    """A minimal route: group by rule and severity, critical and the rest to one webhook,
    and a warning about a rule muted while a critical alert of the same rule fires."""
    doc = {
        "route": {
            "receiver": "ionmon-webhook",
            "group_by": ["alertname", "severity"],
            "group_wait": group_wait, "group_interval": group_interval,
            "repeat_interval": repeat_interval,
            "routes": [{"matchers": ['severity="critical"'], "receiver": "ionmon-webhook",
                        "group_wait": "10s"}],
        },
        "inhibit_rules": [{"source_matchers": ['severity="critical"'],
                           "target_matchers": ['severity="warning"'],
                           "equal": ["alertname"]}],
        "receivers": [{"name": "ionmon-webhook",
                       "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }
    return yaml.safe_dump(doc, sort_keys=False)

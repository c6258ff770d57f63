"""Tuned rules for Prometheus and Alertmanager, as the YAML those servers read.

Expressions come only from ``metric.promql()``: the catalog spells every metric. An
exported rule's labels are the ones the evaluator's notifications carry (alertname,
severity, the rule's labels), so Alertmanager merges the two into one alert; its
annotations carry the same absolute ``runbook_url`` and checks.

Beside the tuned rules, ``region_down`` fires per region whose metrics endpoint fails
its scrapes, labelled ``region``: the source of the inhibit rule that mutes that
region's own alerts (its latency SLO) while it is down. It needs Prometheus's ``up``
per target, so only Prometheus evaluates it; the evaluator's ``region_or_l2_down`` is
the count of regions up.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from alerts.rules import OVER_STEP_S, Bound, Rule
from alerts.runbooks import DEFAULT_BASE_URL, runbook_for
from monitoring import catalog
from monitoring.durations import format_duration

GROUP_NAME = "ionmon"
# The rate window in exported expressions: five 1-minute scrapes, so one lost
# scrape does not empty a rate.
RATE_WINDOW = "5m"


def _num(v: float) -> str:
    return repr(float(v))


def bound_expr(b: Bound, window: str = RATE_WINDOW, over_s: float = 0.0) -> str:
    """PromQL true (non-empty) while the bound is breached."""
    q = catalog.get(b.metric).promql(window)
    if over_s:  # the trailing mean the evaluator reads, one sample a minute
        q = f"avg_over_time(({q})[{format_duration(over_s)}:{format_duration(OVER_STEP_S)}])"
    if b.hourly is None:
        return f"({q}) {b.op} {_num(b.value)}"  # type: ignore[arg-type]
    # One threshold per UTC hour: a vector that holds the current hour's value; with
    # weekend hours, the weekday ones hold Monday to Friday (day_of_week() 1-5) on the
    # bound's clock: UTC, or the time shifted by its offset.
    shift = 3600 * b.weekend_offset_h
    dow = ("day_of_week()" if not shift
           else f"day_of_week(vector(time() {'+' if shift > 0 else '-'} {abs(shift)}))")
    days = ((b.hourly, f" and on() {dow} > 0 < 6"),
            (b.weekend, f" and on() ({dow} == 0 or {dow} == 6)")
            ) if b.weekend is not None else ((b.hourly, ""),)
    limit = " or ".join(f"(vector({_num(v)}) and on() hour() == {h}{when})"
                        for hours, when in days for h, v in enumerate(hours))
    return f"({q}) {b.op} on() ({limit})"


def _describe(b: Bound) -> str:
    if b.hourly is None:
        return _num(b.value)  # type: ignore[arg-type]
    return "weekday and weekend hourly threshold" if b.weekend else "hourly threshold"


def rule_expr(rule: Rule, window: str = RATE_WINDOW) -> str:
    return " or ".join(f"({bound_expr(b, window, rule.over_s)})" for b in rule.bounds)


REGION_DOWN = "region_down"
REGION_DOWN_FOR = "1m"


def _annotations(r: Rule, runbook_base: str) -> dict[str, str]:
    book = runbook_for(r.id)
    return {"summary": r.summary, "runbook": r.runbook,
            "description": "; ".join(f"{b.metric} {b.op} {_describe(b)}" for b in r.bounds),
            **({"runbook_url": book.url(runbook_base),
                "checks": "\n".join(book.checks)} if book else {})}


def region_down_rule(runbook_base: str = DEFAULT_BASE_URL) -> dict:
    """One alert per region whose scrapes fail, with the ``region`` label inhibits match."""
    regions = "|".join(catalog.REGIONS)
    book = runbook_for("region_or_l2_down")
    return {"alert": REGION_DOWN,
            "expr": f'label_replace(up{{target=~"{regions}"}}, "region", "$1", "target", '
                    f'"(.+)") == 0',
            "for": REGION_DOWN_FOR,
            "labels": {"severity": "critical"},
            "annotations": {"summary": "Region {{ $labels.region }} is down (its metrics "
                                       "endpoint fails its scrapes)",
                            **({"runbook_url": book.url(runbook_base),
                                "checks": "\n".join(book.checks)} if book else {})}}


def prometheus_rules(rules: Sequence[Rule], window: str = RATE_WINDOW,
                     runbook_base: str = DEFAULT_BASE_URL) -> str:
    group = {"name": GROUP_NAME, "rules": [
        *({"alert": r.id, "expr": rule_expr(r, window), "for": format_duration(r.for_s),
           **({"keep_firing_for": format_duration(r.keep_firing_s)} if r.keep_firing_s
              else {}),
           "labels": {"severity": r.severity, **r.labels},
           "annotations": _annotations(r, runbook_base)}
          for r in rules if not r.disabled),  # a disabled rule is written for people, not run
        region_down_rule(runbook_base),
    ]}
    return yaml.safe_dump({"groups": [group]}, sort_keys=False, width=1000)


# Inhibit rules that match alerts both the evaluator and Prometheus send:
# - an SLO's page mutes its ticket (same slo): the page already says the budget burns;
# - a region down mutes that region's other alerts (same region): its latency SLO burns
#   because the region is down, and the page for that is already out.
INHIBIT_RULES: tuple[dict, ...] = (
    {"source_matchers": ['policy="page"'], "target_matchers": ['policy="ticket"'],
     "equal": ["slo"]},
    {"source_matchers": [f'alertname="{REGION_DOWN}"'],
     "target_matchers": ['region=~".+"', f'alertname!="{REGION_DOWN}"'],
     "equal": ["region"]},
)


def alertmanager_config(webhook_url: str, group_wait: str = "30s",
                        group_interval: str = "5m", repeat_interval: str = "4h") -> str:
    """A minimal route: group by rule and severity, critical and the rest to one webhook,
    with the inhibit rules above."""
    doc = {
        "route": {
            "receiver": "ionmon-webhook",
            "group_by": ["alertname", "severity"],
            "group_wait": group_wait, "group_interval": group_interval,
            "repeat_interval": repeat_interval,
            "routes": [{"matchers": ['severity="critical"'], "receiver": "ionmon-webhook",
                        "group_wait": "10s"}],
        },
        "inhibit_rules": [dict(r) for r in INHIBIT_RULES],
        "receivers": [{"name": "ionmon-webhook",
                       "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }
    return yaml.safe_dump(doc, sort_keys=False)

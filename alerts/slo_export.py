"""SLOs as Prometheus recording and alerting rules (the multi-window, multi-burn-rate kind).

Recording rules give each SLO's error ratio over every window the alerts and dashboards
use, ``slo:sli_error:ratio_rate<window>{slo="..."}``; alerting rules compare two of them
with ``factor * budget``. Expressions come from the catalog's PromQL:

- ratio indicators: the catalog metric over the window itself (``availability`` over
  ``[1h]`` is good/total edge requests over that hour), so Prometheus computes the exact
  event ratio the embedded store approximates minute by minute;
- threshold indicators: one recorded 0/1 series per minute (bad minute or not), averaged
  over each window, exactly as the embedded evaluator counts minutes.

Every window carries the embedded burn rates' coverage guard (``alerts.burn``): a
window's ratio is recorded only while ``MIN_COVERAGE`` of its minutes hold data, counted
on the per-minute series (the 5-minute ratio, or the bad-minute series), so a fresh
Prometheus does not read an hour of errors as a 3-day burn. The 5-minute ratio of a ratio
indicator is the count's own base; ``rate()`` already needs two of its scrapes.
Prometheus 2's ranges are closed (``[t - W, t]``), the embedded ones half-open, so the
guard may open a minute apart from the embedded one at a window's first coverage.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from alerts.burn import MIN_COVERAGE, POLICIES, REPORTED_WINDOWS, STEP_S, BurnCondition
from alerts.runbooks import DEFAULT_BASE_URL, runbook_for
from alerts.slo import SLO
from alerts.slo_rules import rule_id, slo_labels
from monitoring import catalog
from monitoring.durations import format_duration

GROUP_NAME = "ionmon-slo"
BAD_MINUTE = catalog.SLO_BAD_MINUTE
_BAD_OP = {"<=": ">", "<": ">=", ">=": "<", ">": "<="}  # the complement of the good side


def ratio_name(window_s: float) -> str:
    return catalog.slo_error_ratio(format_duration(window_s))


def windows() -> tuple[float, ...]:
    alert = {w for p in POLICIES for c in p.conditions for w in (c.long_s, c.short_s)}
    return tuple(sorted(alert | set(REPORTED_WINDOWS)))


def _sel(name: str, slo: SLO) -> str:
    return f'{name}{{slo="{slo.name}"}}'


def _num(v: float) -> str:
    return repr(round(float(v), 12))


def recording_rules(slo: SLO) -> list[dict]:
    ind = slo.indicator
    metric = catalog.get(ind.metric)
    out: list[dict] = []
    if ind.kind == "threshold":
        out.append({"record": BAD_MINUTE,
                    "expr": f"({metric.promql('5m')}) {_BAD_OP[ind.op]} bool {_num(ind.value)}",  # type: ignore[index, arg-type]
                    "labels": {"slo": slo.name}})
    minutes = _sel(ratio_name(300) if ind.kind == "ratio" else BAD_MINUTE, slo)
    for w in windows():
        if ind.kind == "ratio":
            expr = f"1 - ({metric.promql(format_duration(w))}) / 100"
            if w <= 300:
                out.append({"record": ratio_name(w), "expr": expr, "labels": {"slo": slo.name}})
                continue
        else:
            expr = f"avg_over_time({_sel(BAD_MINUTE, slo)}[{format_duration(w)}])"
        out.append({"record": ratio_name(w), "expr": f"({expr}) and on() {_covered(minutes, w)}",
                    "labels": {"slo": slo.name}})
    out.append({"record": catalog.SLO_BUDGET_REMAINING,
                "expr": f"1 - avg_over_time({_sel(ratio_name(300), slo)}"
                        f"[{format_duration(slo.window)}]) / {_num(slo.budget)}",
                "labels": {"slo": slo.name}})
    return out


def _covered(per_minute: str, window_s: float) -> str:
    """True while ``MIN_COVERAGE`` of the window's minutes hold a per-minute sample."""
    need = MIN_COVERAGE * window_s / STEP_S
    return f"(count_over_time({per_minute}[{format_duration(window_s)}]) >= {_num(need)})"


def _condition(slo: SLO, c: BurnCondition) -> str:
    limit = _num(c.factor * slo.budget)
    return (f"({_sel(ratio_name(c.long_s), slo)} > {limit} and "
            f"{_sel(ratio_name(c.short_s), slo)} > {limit})")


def alerting_rules(slo: SLO, runbook_base: str = DEFAULT_BASE_URL) -> list[dict]:
    book = runbook_for(slo.name)
    out = []
    for p in POLICIES:
        out.append({
            "alert": rule_id(slo, p),
            "expr": " or ".join(_condition(slo, c) for c in p.conditions),
            "labels": {"severity": p.severity, **slo_labels(slo, p)},
            "annotations": {
                "summary": f"{slo.title}: error budget burning ({p.kind})",
                "description": "burn rate above " + "; ".join(
                    f"{c.factor:g}x over {c.label}" for c in p.conditions)
                    + f" of the {slo.objective:g}% objective",
                "runbook_url": book.url(runbook_base) if book else "",
                "checks": "\n".join(book.checks) if book else "",
            },
        })
    return out


def slo_rules_yaml(slos: Sequence[SLO], runbook_base: str = DEFAULT_BASE_URL) -> str:
    # One group: Prometheus evaluates a group's rules in order, so the alerts read the
    # ratios recorded in the same evaluation. Two groups run concurrently, and an alert
    # could read ratios one evaluation old.
    groups = [
        {"name": GROUP_NAME, "interval": "1m",
         "rules": [*(r for slo in slos for r in recording_rules(slo)),
                   *(r for slo in slos for r in alerting_rules(slo, runbook_base))]},
    ]
    return yaml.safe_dump({"groups": groups}, sort_keys=False, width=1000)

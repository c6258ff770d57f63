"""Error budgets, silences and runbook links on the overview dashboard, in every format."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from alerts.burn import REPORTED_WINDOWS, budget_at
from alerts.evaluator import AlertState, Transition
from alerts.silence import SilenceStore
from alerts.slo import default_slos
from alerts.state import AlertStore
from dashboards.data import DashboardData, load_dashboard_data
from dashboards.definitions import OVERVIEW
from dashboards.loader import alert_views
from monitoring.app.config import Config, parse_config
from monitoring.catalog import CATALOG
from monitoring.store.sqlite import SQLiteStore
from renderers.fmt import fmt_burn, fmt_remaining
from renderers.formats import renderer
from renderers.grafana import burn_expr, remaining_expr, render_grafana
from tests.dashboards.synth import END, make_store

SLOS = default_slos()
START = END - 6 * 3600


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    s = make_store(tmp_path_factory.mktemp("budget") / "s.db", days=2)
    yield s
    s.close()


@pytest.fixture(scope="module")
def data(store: SQLiteStore) -> DashboardData:
    return load_dashboard_data(OVERVIEW, store, START, END, slos=SLOS)


def _raw(store: SQLiteStore, metric: str, window: float) -> tuple[np.ndarray, np.ndarray]:
    s = store.read(metric, END - window, END)
    return np.asarray(s.ts, dtype=float), np.asarray(s.values, dtype=float)


def test_budget_figures_equal_the_burn_functions_on_the_same_store(
        store: SQLiteStore, data: DashboardData) -> None:
    assert [v.budget.slo for v in data.budgets] == [s.name for s in SLOS]
    panel = next(p for p in data.panels if p.kind == "budget")
    assert panel.budgets == data.budgets
    for slo, view in zip(SLOS, data.budgets, strict=True):
        ts, values = _raw(store, slo.indicator.metric, slo.window)
        weights = None
        if slo.indicator.weight:
            wts, wv = _raw(store, slo.indicator.weight, slo.window)
            assert np.array_equal(wts, ts)  # same scrape, same timestamps
            weights = wv
        assert view.budget == budget_at(slo, ts, values, weights, END)
        assert [w for w, _ in view.budget.burn] == list(REPORTED_WINDOWS)


def test_availability_budget_recomputed_by_hand(store: SQLiteStore, data: DashboardData
                                                ) -> None:
    """The figures from first principles: bad events over allowed bad events."""
    slo = SLOS[0]
    assert slo.name == "availability"
    ts, pct = _raw(store, "availability", slo.window)
    _, rate = _raw(store, "request_rate", slo.window)
    bad = (1 - pct / 100) * rate
    allowed = slo.budget * rate.mean() * slo.window / 60
    b = data.budgets[0].budget
    assert b.spent == pytest.approx(bad.sum() / allowed, rel=1e-9)
    hour = ts > END - 3600
    burn_1h = bad[hour].sum() / rate[hour].sum() / slo.budget
    assert b.burn_at(3600) == pytest.approx(burn_1h, rel=1e-9)
    assert b.exhaustion_s == pytest.approx((1 - b.spent) * slo.window / burn_1h, rel=1e-9)
    # A region's latency: its slow requests over the window's allowed slow requests.
    lat = SLOS[1]
    assert lat.indicator.metric == "fast_requests_us"
    _, fast = _raw(store, "fast_requests_us", lat.window)
    _, reqs = _raw(store, "requests_us", lat.window)
    spent = float(((1 - fast / 100) * reqs).sum()) / (lat.budget * reqs.mean()
                                                       * lat.window / 60)
    assert data.budgets[1].budget.spent == pytest.approx(spent, rel=1e-9)


def test_every_format_shows_the_budgets(data: DashboardData) -> None:
    doc = json.loads(renderer("json")(data))
    assert [b["slo"] for b in doc["budgets"]] == [s.name for s in SLOS]
    panel = next(p for r in doc["rows"] for p in r["panels"] if p["kind"] == "budget")
    for got, view in zip(panel["budgets"], data.budgets, strict=True):
        b = view.budget
        assert got["spent"] == pytest.approx(b.spent, abs=1e-6)
        assert got["remaining"] == pytest.approx(b.remaining, abs=1e-6)
        assert got["objective"] == b.objective and got["window_s"] == b.window_s
        for w, rate in b.burn:
            assert got["burn_rates"][str(int(w))] == (None if rate is None
                                                      else pytest.approx(rate, abs=1e-6))
        assert got["runbook_url"] == view.runbook_url != ""
    for fmt in ("text", "markdown", "html"):
        text = renderer(fmt)(data)
        for view in data.budgets:
            b = view.budget
            assert fmt_remaining(b.remaining) in text, fmt
            assert fmt_burn(b.burn_at(3600)) in text, fmt
            assert view.runbook_url in text, fmt
    grafana = json.loads(render_grafana(data))
    panel = next(p for p in grafana["panels"]
                 if p.get("title") == "Error budgets" and p["type"] == "table")
    exprs = [t["expr"] for t in panel["targets"]]
    slo = next(v.slo for v in data.budgets if v.budget.slo == "availability")
    assert remaining_expr(slo) in exprs[0]
    # One burn-rate query per window, each SLO's series labelled with its name.
    assert len(exprs) == 1 + len(REPORTED_WINDOWS)
    assert f'label_replace({burn_expr(slo, 3600)}, "slo", "availability", "", "")' in exprs[3]
    assert CATALOG["availability"].promql("5m") in burn_expr(slo, 3600)
    assert CATALOG["request_rate"].promql("5m") in burn_expr(slo, 3600)  # its weight
    assert {link["url"] for link in panel["links"]} == {v.runbook_url for v in data.budgets}


# --- silences and runbooks -----------------------------------------------------------

def _config(tmp: Path, runbook_base: str = "http://127.0.0.1:8080/docs/runbooks.md") -> Config:
    return parse_config({"alerts": {"state_path": str(tmp / "alerts.db"),
                                    "rules_path": str(tmp / "rules.yaml"),
                                    "runbook_base_url": runbook_base}})


def _firing(config: Config, rule: str, at: float) -> None:
    state = AlertState(rule, "firing", active_since=at, fired_at=at, severity="critical",
                       summary="burning")
    store = AlertStore(config.alerts.state_path)
    store.save({rule: state}, [Transition(rule, at, "inactive", "firing", state)])
    store.close()


def test_silenced_alert_shows_as_silenced_until_the_silence_ends(
        tmp_path: Path, store: SQLiteStore) -> None:
    config = _config(tmp_path)
    rule = "slo_availability_page"
    _firing(config, rule, END - 600)
    silences = SilenceStore(config.alerting.silence_path)
    # Matched on the SLO rule's own labels, as the notifier matches it.
    silences.add({"slo": "availability", "policy": "page"}, END - 300, END + 3600,
                 comment="deploy")
    silences.close()
    [view] = alert_views(config.alerting, START, END)
    assert (view.name, view.state, view.silenced) == (rule, "firing", True)
    assert view.severity == "critical" and "Edge availability" in view.summary
    data = load_dashboard_data(OVERVIEW, store, START, END, alerts=[view], slos=SLOS)
    html = renderer("html")(data)
    assert re.search(r'<li class="silenced" data-silenced="true">.*?SILENCED', html)
    assert "silenced" in renderer("markdown")(data)
    assert "firing (silenced)" in renderer("text")(data)
    assert json.loads(renderer("json")(data))["alerts"][0]["silenced"] is True
    # After the silence ends it is an ordinary firing alert again.
    [later] = alert_views(config.alerting, START, END + 7200)
    assert not later.silenced
    assert 'data-silenced' not in renderer("html")(
        load_dashboard_data(OVERVIEW, store, START, END, alerts=[later], slos=SLOS))


def test_runbook_links_are_present_and_escaped(tmp_path: Path, store: SQLiteStore) -> None:
    hostile = 'https://wiki.example/run books?a=<b>&c="x")'
    config = _config(tmp_path, hostile)
    _firing(config, "high_error_rate", END - 600)
    [view] = alert_views(config.alerting, START, END)
    assert view.runbook_url == f"{hostile}#high-error-rate"
    data = load_dashboard_data(OVERVIEW, store, START, END, alerts=[view], slos=SLOS,
                               runbook_base=hostile)
    html = renderer("html")(data)
    hrefs = re.findall(r'<a class="runbook" href="([^"]*)"', html)
    assert len(hrefs) == 1 + len(SLOS)  # the alert and every SLO row
    assert all(h.startswith("https://wiki.example/run%20books?a=%3Cb%3E&amp;c=%22x%22%29#")
               for h in hrefs)
    assert "<b>" not in html
    md = renderer("markdown")(data)
    links = re.findall(r"\[runbook\]\(([^)]*)\)", md)
    assert len(links) == 1 + len(SLOS)
    assert all(" " not in u and "<" not in u and '"' not in u for u in links)
    # A scheme that would run code is shown as text, never as a link.
    evil = load_dashboard_data(OVERVIEW, store, START, END, slos=SLOS,
                               runbook_base="javascript:alert(1)")
    assert "javascript:" not in "".join(re.findall(r'href="([^"]*)"', renderer("html")(evil)))
    assert "](javascript" not in renderer("markdown")(evil)

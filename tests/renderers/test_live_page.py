"""The live page in headless Chromium, served by the real router over a backfilled day:
ranges in the URL, faults and alert episodes shaded, values on hover, drag to zoom,
alerts linked to their panel, refresh in place."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from prometheus_client import CollectorRegistry

from alerts.evaluator import AlertState, Transition
from alerts.state import AlertStore
from monitoring.app.backfill import run_backfill
from monitoring.app.config import Config, parse_config
from monitoring.app.live.routes import make_router
from monitoring.app.live.server import Page, serve_http
from monitoring.app.scheduler import JobStateDB
from monitoring.clock import VirtualClock
from monitoring.groundtruth import FaultLog
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import iso_week, parse_instant
from tests.renderers.cdp import Browser, chromium_or_skip

DAY_START = iso_week("2026-W45")[0]
FAULT_AT = DAY_START + 10 * 3600  # index_dropped on us, for an hour
FIRED_AT = FAULT_AT + 600  # slow_db_queries fires ten minutes in and is still firing
NOW = DAY_START + 86400


@dataclass(frozen=True)
class Site:
    url: str
    config: Config
    route: Callable[[str], Page]


def _history(path: Path) -> None:
    """The evaluator's record: an episode of low_cache_hit_rate that resolved, and
    slow_db_queries firing since ten minutes into the fault."""
    store = AlertStore(path)
    firing = AlertState("slow_db_queries", "firing", FIRED_AT - 300, FIRED_AT, None, 120.0,
                        "db_query_p95", "warning", "Database queries slower than normal")
    old = AlertState("low_cache_hit_rate", "resolved", DAY_START + 3 * 3600,
                     DAY_START + 3 * 3600, DAY_START + 4 * 3600, 40.0, "l1_hit_rate")
    store.save({"slow_db_queries": firing, "low_cache_hit_rate": old}, [
        Transition("low_cache_hit_rate", DAY_START + 3 * 3600, "pending", "firing", old),
        Transition("low_cache_hit_rate", DAY_START + 4 * 3600, "firing", "resolved", old),
        Transition("slow_db_queries", FIRED_AT, "pending", "firing", firing),
    ])
    store.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("live")
    config = parse_config({
        "store": {"path": str(tmp / "ionmon.db")},
        "output_dir": str(tmp / "out"),
        "alerts": {"state_path": str(tmp / "alerts.db"), "rules_path": str(tmp / "rules.yaml"),
                   "channels": {"log": False}},
        "engine": {"traffic": {"peak_requests_per_minute": 20}},
        "backfill": {"faults": [{"kind": "index_dropped", "target": "us", "at": "10h",
                                 "duration": "1h"}]},
    })
    store, faults = SQLiteStore(config.store.path), FaultLog(config.store.path)
    run_backfill(config, store, faults, DAY_START, 1)
    faults.close()
    _history(Path(config.alerts.state_path))
    state = JobStateDB(tmp / "jobs.db")
    route = make_router(config, store, state, CollectorRegistry(), VirtualClock(NOW))  # type: ignore[arg-type]
    server = serve_http(route, 0)
    yield Site(f"http://127.0.0.1:{server.server_port}", config, route)
    server.shutdown()
    server.server_close()
    state.close()
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(chromium_or_skip()) as b:
        yield b


def _query(browser: Browser) -> dict[str, list[str]]:
    return parse_qs(urlsplit(browser.evaluate("location.href")).query)


def _charts(browser: Browser) -> list[dict[str, Any]]:
    return browser.evaluate("""Array.from(document.querySelectorAll('svg.chart')).map(s => ({
        t0: +s.dataset.t0, t1: +s.dataset.t1, ticks: s.querySelectorAll('text').length,
        d: Array.from(s.querySelectorAll('path.series')).map(p => p.getAttribute('d')).join()}))""")


def _follow(browser: Browser, js: str) -> None:
    """Run ``js`` (a click or a form submit) and wait for the page it opens."""
    browser.events.clear()
    browser.evaluate(js)
    browser.wait_event("Page.loadEventFired")


def _mouse(browser: Browser, kind: str, x: float, y: float) -> None:
    browser.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                 buttons=1 if kind != "mouseReleased" else 0, clickCount=1)


def _chart_point(browser: Browser, panel: str, t: float) -> tuple[float, float]:
    """Viewport coordinates of time ``t`` on the chart of panel ``panel``."""
    return tuple(browser.evaluate(f"""(() => {{
        const svg = document.querySelector('#{panel} svg.chart');
        svg.scrollIntoView({{block: 'center'}});
        const d = svg.dataset, box = svg.getBoundingClientRect();
        const k = box.width / svg.viewBox.baseVal.width;
        const x = +d.x0 + ({t} - d.t0) / (d.t1 - d.t0) * (d.x1 - d.x0);
        return [box.left + x * k, box.top + (+d.top + +d.bottom) / 2 * k];
    }})()"""))


@pytest.mark.timeout(120)
def test_choosing_a_range_changes_the_charts_and_the_url(browser: Browser, site: Site) -> None:
    browser.load(f"{site.url}/d/database?range=24h")
    day = _charts(browser)
    assert day[0]["t0"] == NOW - 86400 and day[0]["t1"] == NOW
    _follow(browser, "document.querySelector('.ranges a[data-range=\"6h\"]').click()")
    assert _query(browser)["range"] == ["6h"]
    six = _charts(browser)
    assert six[0]["t0"] == NOW - 6 * 3600 and six[0]["d"] != day[0]["d"]
    assert browser.evaluate("document.querySelector('.ranges a.current').textContent") == "6h"
    url = browser.evaluate("location.href")
    browser.load(url)  # the link pasted into a ticket
    assert _charts(browser) == six
    # The other dashboards keep the range.
    assert "range=6h" in browser.evaluate("document.querySelector('.topbar nav a').href")
    # A custom range from the form, UTC.
    _follow(browser, """(() => { const f = document.querySelector('form.custom');
        f.elements.from.value = '2026-11-02T09:00'; f.elements.to.value = '2026-11-02T12:30';
        f.submit(); })()""")
    q = _query(browser)
    assert q["from"] == ["2026-11-02T09:00"] and q["to"] == ["2026-11-02T12:30"]
    custom = _charts(browser)
    assert custom[0]["t0"] == parse_instant("2026-11-02T09:00")
    assert custom[0]["t1"] == parse_instant("2026-11-02T12:30")
    assert browser.errors() == []


@pytest.mark.timeout(120)
def test_the_fault_is_shaded_on_its_charts_only(browser: Browser, site: Site) -> None:
    browser.load(f"{site.url}/d/database?range=24h")
    bands = browser.evaluate("""Array.from(document.querySelectorAll('article')).map(a => [
        a.id, Array.from(a.querySelectorAll('rect.band.fault')).map(r => ({
          x: +r.getAttribute('x'), w: +r.getAttribute('width'),
          title: r.querySelector('title').textContent}))])""")
    by_panel = dict(bands)
    for panel in ("panel-query-p95", "panel-slow-queries"):
        (band,) = by_panel[panel]
        assert band["title"].startswith("fault index_dropped (us)")
        assert "2026-11-02 10:00 UTC" in band["title"] and "11:00 UTC" in band["title"]
        # An hour of 24 is about 1/24 of the plot's width.
        chart = browser.evaluate(f"(() => {{ const d = document.querySelector('#{panel} "
                                 "svg.chart').dataset; return [+d.x0, +d.x1]; })()")
        assert band["w"] == pytest.approx((chart[1] - chart[0]) / 24, rel=0.02)
    assert by_panel["panel-pool-utilisation"] == []
    assert by_panel["panel-replication-lag"] == []


@pytest.mark.timeout(120)
def test_hovering_shows_the_stored_value_for_that_minute(browser: Browser, site: Site) -> None:
    browser.load(f"{site.url}/d/database?from=2026-11-02T09:30Z&to=2026-11-02T11:30Z")
    minute = FAULT_AT + 17 * 60
    x, y = _chart_point(browser, "panel-query-p95", minute)
    _mouse(browser, "mouseMoved", x, y)
    tip = browser.evaluate("""(() => { const v = document.querySelector('.tip .tip-value');
        return {hidden: document.querySelector('.tip').hidden, raw: v.dataset.raw,
                metric: v.dataset.metric, text: document.querySelector('.tip').textContent};
        })()""")
    assert not tip["hidden"] and tip["metric"] == "db_query_p95"
    assert "2026-11-02 10:17 UTC" in tip["text"]
    assert "fault index_dropped" in tip["text"]  # the shaded fault is named too
    store = SQLiteStore(site.config.store.path)
    try:
        stored = store.read("db_query_p95", minute, minute)
    finally:
        store.close()
    assert float(tip["raw"]) == pytest.approx(float(stored.values[0]), rel=1e-5)


@pytest.mark.timeout(120)
def test_dragging_over_a_chart_zooms_the_dashboard(browser: Browser, site: Site) -> None:
    browser.load(f"{site.url}/d/database?range=24h")
    x0, y = _chart_point(browser, "panel-query-p95", FAULT_AT - 1800)
    x1, _ = _chart_point(browser, "panel-query-p95", FAULT_AT + 5400)
    browser.events.clear()
    _mouse(browser, "mousePressed", x0, y)
    _mouse(browser, "mouseMoved", (x0 + x1) / 2, y)
    _mouse(browser, "mouseMoved", x1, y)
    _mouse(browser, "mouseReleased", x1, y)
    browser.wait_event("Page.loadEventFired")
    q = _query(browser)
    assert "range" not in q
    start, end = parse_instant(q["from"][0]), parse_instant(q["to"][0])
    pixel_s = 86400 / 1000  # about one plot pixel at a day's range
    assert abs(start - (FAULT_AT - 1800)) < 3 * pixel_s
    assert abs(end - (FAULT_AT + 5400)) < 3 * pixel_s
    assert all(c["t0"] == start and c["t1"] == end for c in _charts(browser))


@pytest.mark.timeout(120)
def test_a_firing_alert_opens_its_panel_at_its_episode(browser: Browser, site: Site) -> None:
    browser.load(f"{site.url}/d/overview?range=24h")
    link = "Array.from(document.querySelectorAll('.alerts a.evidence'))" \
           ".find(a => a.textContent === 'slow_db_queries')"
    assert browser.evaluate(f"{link}.closest('li').querySelector('.badge').textContent") \
        == "FIRING"
    _follow(browser, f"{link}.click()")
    parts = urlsplit(browser.evaluate("location.href"))
    assert parts.path == "/d/database" and parts.fragment == "panel-query-p95"
    q = parse_qs(parts.query)
    start, end = parse_instant(q["from"][0]), parse_instant(q["to"][0])
    assert start < FIRED_AT < end <= NOW
    # The panel is the one in view, with the episode shaded on it.
    assert browser.evaluate("document.querySelector(':target').id") == "panel-query-p95"
    titles = browser.evaluate("Array.from(document.querySelectorAll('#panel-query-p95 "
                              "rect.band.alert title')).map(t => t.textContent)")
    assert titles == ["alert slow_db_queries (db_query_p95): 2026-11-02 10:10 UTC – now"]
    top = browser.evaluate("document.querySelector('#panel-query-p95')"
                           ".getBoundingClientRect().top")
    assert 0 <= top < 900
    # The resolved episode links to its own span.
    browser.load(f"{site.url}/d/infrastructure?range=24h")
    href = browser.evaluate("Array.from(document.querySelectorAll('.alerts a.evidence'))"
                            ".find(a => a.textContent === 'low_cache_hit_rate').href")
    q = parse_qs(urlsplit(href).query)
    assert parse_instant(q["from"][0]) <= DAY_START + 3 * 3600
    assert parse_instant(q["to"][0]) >= DAY_START + 4 * 3600


@pytest.mark.timeout(120)
def test_refresh_replaces_the_data_in_place(browser: Browser, site: Site) -> None:
    browser.load(f"{site.url}/d/latency?range=6h", height=500)
    browser.evaluate("window.scrollTo(0, 400); document.body.dataset.marker = 'kept'")
    before = browser.evaluate("document.querySelector('.page') !== null && window.scrollY")
    browser.evaluate("document.dispatchEvent(new Event('ionmon:refresh'))")
    done = browser.call("Runtime.evaluate", awaitPromise=True, returnByValue=True,
                        expression="""new Promise(done => { const t = setInterval(() => {
        if (document.body.dataset.refreshed) { clearInterval(t); done(true); } }, 20); })""")
    assert done["result"]["value"] is True
    assert browser.evaluate("document.body.classList.contains('stale')") is False
    # Same document (no reload), same scroll, same range.
    assert browser.evaluate("document.body.dataset.marker") == "kept"
    assert browser.evaluate("window.scrollY") == before == 400
    assert _query(browser)["range"] == ["6h"]
    assert _charts(browser)[0]["t0"] == NOW - 6 * 3600
    assert browser.errors() == []


@pytest.mark.timeout(120)
def test_the_page_runs_only_its_own_script_and_reads_without_it(browser: Browser,
                                                                  site: Site) -> None:
    browser.load(f"{site.url}/d/overview?range=week")
    assert browser.evaluate("document.scripts.length") == 1
    browser.call("Emulation.setScriptExecutionDisabled", value=True)
    try:
        browser.load(f"{site.url}/d/database?range=24h")
        assert browser.evaluate("document.querySelectorAll('svg.chart path.series').length") > 3
        assert browser.evaluate("document.querySelectorAll('rect.band.fault').length") == 2
        assert browser.evaluate("document.querySelectorAll('.ranges a').length") == 5
    finally:
        browser.call("Emulation.setScriptExecutionDisabled", value=False)


def test_a_bad_range_is_refused_with_its_reason(site: Site) -> None:
    for query, reason in (("range=fortnightly", "range='fortnightly'"),
                          ("from=yesterday", "from=: expected a date"),
                          ("from=2026-11-03&to=2026-11-02", "start must be before its end"),
                          ("range=6h&from=2026-11-02", "either range= or from=/to=")):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{site.url}/d/overview?{query}")
        assert err.value.code == 400
        assert reason in err.value.read().decode()


@pytest.mark.timeout(120)
def test_links_and_refresh_work_signed_in_with_the_token(browser: Browser,
                                                          site: Site) -> None:
    """With a token, the browser signs in once at /login (a session cookie): links,
    presets, the custom range and refresh work without the token in any URL."""
    server = serve_http(site.route, 0, token="s3cret")
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        browser.load(f"{url}/login")
        _follow(browser, "document.querySelector('input[name=token]').value = 's3cret';"
                         "document.querySelector('form').submit()")
        browser.load(f"{url}/d/overview?range=24h")
        _follow(browser, "Array.from(document.querySelectorAll('.alerts a.evidence'))"
                         ".find(a => a.textContent === 'slow_db_queries').click()")
        assert urlsplit(browser.evaluate("location.href")).path == "/d/database"
        assert "token" not in _query(browser)
        _follow(browser, "document.querySelector('.ranges a[data-range=\"1h\"]').click()")
        assert _query(browser)["range"] == ["1h"]
        assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 4
        _follow(browser, "document.querySelector('form.custom').submit()")
        assert "from" in _query(browser) and "token" not in _query(browser)
        done = browser.call("Runtime.evaluate", awaitPromise=True, returnByValue=True,
                            expression="""new Promise(done => {
            document.dispatchEvent(new Event('ionmon:refresh'));
            const t = setInterval(() => { if (document.body.dataset.refreshed ||
              document.body.classList.contains('stale')) { clearInterval(t);
              done(document.body.classList.contains('stale')); } }, 20); })""")
        assert done["result"]["value"] is False  # refreshed, not refused
    finally:
        server.shutdown()
        server.server_close()

import math

import pytest

from collectors.base import Sample
from monitoring.expr import (
    Agg,
    Div,
    HistogramQuantile,
    Rate,
    Scale,
    Selector,
    Snapshot,
    bucket_quantile,
    m,
)


def snap(ts, rows):
    return Snapshot(ts, [Sample(n, labels, v, ts) for n, labels, v in rows])


def test_rate_is_increase_per_second_and_handles_reset():
    prev = snap(0, [("c_total", {"r": "a"}, 10), ("c_total", {"r": "b"}, 50)])
    cur = snap(60, [("c_total", {"r": "a"}, 70), ("c_total", {"r": "b"}, 6)])
    out = Rate(Selector("c_total")).evaluate(prev, cur)
    assert out[(("r", "a"),)] == pytest.approx(1.0)
    assert out[(("r", "b"),)] == pytest.approx(0.1)  # reset: counts from zero


def test_ratio_of_sums_with_regex_matcher():
    prev = snap(0, [("req", {"code": "200"}, 0), ("req", {"code": "503"}, 0)])
    cur = snap(10, [("req", {"code": "200"}, 99), ("req", {"code": "503"}, 1)])
    errors = Agg("sum", Rate(Selector("req", (m("code", "=~", "5.."),))))
    total = Agg("sum", Rate(Selector("req")))
    expr = Scale(Div(errors, total), 100)
    assert expr.evaluate(prev, cur) == {(): pytest.approx(1.0)}
    assert expr.promql("5m") == (
        '((sum (rate(req{code=~"5.."}[5m]))) / (sum (rate(req[5m])))) * 100'
    )


def test_division_by_zero_is_nan_not_an_error():
    prev = snap(0, [("x", {}, 0), ("y", {}, 0)])
    cur = snap(10, [("x", {}, 0), ("y", {}, 0)])
    out = Div(Rate(Selector("x")), Rate(Selector("y"))).evaluate(prev, cur)
    assert math.isnan(out[()])


def test_bucket_quantile_matches_prometheus_interpolation():
    # 100 observations: 50 in (0, 0.1], 40 in (0.1, 0.2], 10 in (0.2, +Inf)
    buckets = [(0.1, 50), (0.2, 90), (math.inf, 100)]
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.1)
    assert bucket_quantile(0.7, buckets) == pytest.approx(0.15)
    assert bucket_quantile(0.95, buckets) == pytest.approx(0.2)  # +Inf bucket: lower bound
    assert math.isnan(bucket_quantile(0.5, [(0.1, 0), (math.inf, 0)]))


def test_histogram_quantile_over_scrapes():
    def hist(ts, counts):
        return snap(ts, [("h_bucket", {"le": le, "region": r}, c)
                         for r in ("us", "eu") for le, c in zip(("0.1", "0.2", "+Inf"), counts,
                                                              strict=True)])
    prev = hist(0, (0, 0, 0))
    cur = hist(60, (50, 90, 100))
    q = HistogramQuantile(0.7, Selector("h"))
    assert q.evaluate(prev, cur)[()] == pytest.approx(0.15)
    assert q.promql("1m") == 'histogram_quantile(0.7, sum by (le) (rate(h_bucket[1m])))'


def _scraped(series: dict[str, list[float | None]], step: float = 60.0,
             window: int = 5) -> list[tuple[Snapshot, Snapshot]]:
    """(window start, scrape) pairs as the scraper chains them; None = series absent,
    with a stale marker at the scrape that first misses it."""
    out, snaps = [], []
    n = len(next(iter(series.values())))
    for i in range(n):
        ts = i * step
        rows = [Sample("c_total", {"s": s}, vs[i], ts) for s, vs in series.items()
                if vs[i] is not None]
        stale = [Sample("c_total", {"s": s}, math.nan, ts) for s, vs in series.items()
                 if vs[i] is None and i > 0 and vs[i - 1] is not None]
        cur = Snapshot(ts, rows, stale=stale, previous=snaps[-1] if snaps else None)
        if len(snaps) >= window:
            out.append((snaps[-window], cur))
        snaps.append(cur)
    return out


def test_a_series_born_in_the_window_counts_from_zero_as_prometheus_rate_does():
    # Born at minute 6 with 3 (its first events), 2 more a minute after: from its second
    # sample, rate() counts the increase since the zero point a scrape before the birth.
    born: list[float | None] = [None] * 6 + [3.0, 5.0, 7.0, 9.0, 11.0, 13.0]
    pairs = _scraped({"old": [float(10 * i) for i in range(12)], "new": born})
    key = (("s", "new"),)
    rates = [Rate(Selector("c_total")).evaluate(p, c).get(key) for p, c in pairs]
    # Windows ending at minutes 5..11; the first sample of "new" is at minute 6.
    assert rates[:2] == [None, None]  # absent, then a single sample: no rate yet
    # Minute 7: increase 2 over 60 s; zero point at 60 * 3 / 2 = 90 s before the first
    # sample, over 1.1 * 60 s, so extended by avg / 2: 2 * 90 / 60 / 300.
    assert rates[2] == pytest.approx(2 * 90 / 60 / 300)
    # Minute 8: increase 4 over 120 s, zero point 90 s before, again past 1.1 * 60 s.
    assert rates[3] == pytest.approx(4 * (120 + 30) / 120 / 300)
    # Minute 11: born exactly at the window's start, so continuous: the plain rate.
    assert rates[6] == pytest.approx((13 - 3) / 300)
    old = (("s", "old"),)
    assert all(Rate(Selector("c_total")).evaluate(p, c)[old] == pytest.approx(10 / 60)
               for p, c in pairs)


def test_a_series_born_at_zero_is_not_extended_before_its_first_sample():
    pairs = _scraped({"new": [None] * 6 + [0.0, 4.0, 8.0, 12.0, 16.0, 20.0]})
    rate = Rate(Selector("c_total")).evaluate(*pairs[3])  # minute 8: 0, 4, 8
    assert rate[(("s", "new"),)] == pytest.approx(8 / 300)


def test_a_rate_never_runs_across_a_stale_marker():
    # Vanished at minutes 3-4 (marked stale at 3), back from zero at 5: the window
    # ending at 5 holds one sample of the new run, no rate; later windows read the new
    # run only, never the 30 -> 2 "reset" across the gap.
    pairs = _scraped({"r": [0.0, 10.0, 20.0, None, None, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]})
    key = (("s", "r"),)
    rates = [Rate(Selector("c_total")).evaluate(p, c).get(key) for p, c in pairs]
    assert rates[0] is None
    # Minute 6: run 2, 4; zero point 60 s before its first sample (< 66 s): 4 / 300.
    assert rates[1] == pytest.approx(4 / 300)
    # Minute 10: the marker at 3 is out of the window [5, 10]: continuous again.
    assert rates[5] == pytest.approx((12 - 2) / 300)

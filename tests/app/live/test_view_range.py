"""A live dashboard's range from its URL: presets, the report's week, from/to, the step."""

from __future__ import annotations

import re

import pytest

from monitoring.app.live.routes import READ_POINTS, view_range
from monitoring.timerange import last_complete_week, parse_instant

NOW = parse_instant("2026-11-25T13:37Z")


def test_presets_count_back_from_now_and_name_themselves():
    v = view_range("range=1h", NOW, 60.0)
    assert (v.start, v.end, v.step, v.preset, v.query) == (NOW - 3600, NOW, 60.0, "1h",
                                                           (("range", "1h"),))
    assert view_range("", NOW, 60.0).preset == "6h"
    assert view_range("token=abc", NOW, 60.0).start == NOW - 6 * 3600


def test_the_week_is_the_reports_week():
    v = view_range("range=week", NOW, 60.0)
    assert (v.start, v.end) == last_complete_week(NOW)


def test_from_to_is_a_custom_range_and_to_defaults_to_now():
    v = view_range("from=2026-11-24T08:00&to=2026-11-24T09:30Z", NOW, 60.0)
    assert (v.start, v.end, v.preset) == (parse_instant("2026-11-24T08:00"),
                                          parse_instant("2026-11-24T09:30Z"), None)
    assert v.query == (("from", "2026-11-24T08:00"), ("to", "2026-11-24T09:30Z"))
    assert view_range("from=2026-11-24", NOW, 60.0).end == NOW


def test_the_step_follows_the_range():
    assert view_range("range=7d", NOW, 60.0).step == 60.0
    month = view_range("range=30d", NOW, 60.0)
    assert month.step > 60.0 and month.step % 60 == 0
    assert (month.end - month.start) / month.step <= READ_POINTS


@pytest.mark.parametrize(("query", "message"), [
    ("range=soon", "range='soon'"),
    ("from=noon", "from=: expected a date"),
    ("to=2026-11-24", "to= needs a from="),
    ("range=1h&to=2026-11-24", "either range= or from=/to="),
    ("from=2026-11-25&to=2026-11-24", "start must be before its end"),
    ("range=400d", "at most 90"),
])
def test_bad_ranges_say_what_is_wrong(query: str, message: str):
    with pytest.raises(ValueError, match=re.escape(message)):
        view_range(query, NOW, 60.0)

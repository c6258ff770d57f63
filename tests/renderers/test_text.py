from __future__ import annotations

from dashboards.data import DashboardData
from renderers.text import render_text


def test_fits_100_columns_and_shows_every_panel(all_data: dict[str, DashboardData]) -> None:
    for data in all_data.values():
        text = render_text(data)
        assert max(len(line) for line in text.splitlines()) <= 100
        assert "\x1b[" not in text  # no colour unless asked
        for panel in data.panels:
            if panel.kind != "stat":
                assert panel.title in text


def test_sparklines_and_colour(all_data: dict[str, DashboardData]) -> None:
    text = render_text(all_data["latency"], color=True)
    assert "\x1b[" in text
    assert any(c in text for c in "▁▂▃▄▅▆▇█")
    assert "✔ OK" in render_text(all_data["latency"])


def test_hostile_labels_stay_text(evil_data: DashboardData) -> None:
    text = render_text(evil_data, color=True)
    assert "<script>alert(1)</script>" in text  # shown as typed, not interpreted as markup
    assert max(len(line) for line in render_text(evil_data).splitlines()) <= 100

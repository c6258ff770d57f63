"""'Runs out' on the budget card: a burn within float noise of zero is "not burning".

A remote store (Prometheus, VictoriaMetrics) returns a percentage near 100 with float
rounding (99.99999999999997): the bad fraction it leaves is ~1e-16, a burn rate of
~1e-13 and, taken at face value, a budget that runs out in 10^13 days. Every store's
series go through the same ``alerts.burn.budget_at``, so each renderer shows the same.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from alerts.burn import NOISE_FRACTION, budget_at, exhaustion_s
from alerts.slo import default_slos
from dashboards.data import BudgetView, DashboardData
from renderers.fmt import fmt_exhaustion
from renderers.formats import renderer

AVAILABILITY = next(s for s in default_slos() if s.name == "availability")
STEP = 60.0
END = 1_700_000_040.0


def _budget(values: np.ndarray) -> BudgetView:
    ts = END - STEP * np.arange(len(values))[::-1]
    weights = np.full(len(values), 50.0)
    return BudgetView(budget_at(AVAILABILITY, ts, values, weights, END), slo=AVAILABILITY)


# As a remote store's arithmetic returns a clean 100 %: a few ulps either side.
NOISY = 100.0 - np.array([1.4210854715202004e-14, 0.0, 2.842170943040401e-14] * 600)


def test_float_noise_is_not_burning() -> None:
    exact = _budget(np.full(1800, 100.0)).budget
    noisy = _budget(NOISY).budget
    assert 0 < noisy.burn_at(3600) < 1e-9  # the burn rate itself is still shown
    assert exact.exhaustion_s is None and noisy.exhaustion_s is None
    assert fmt_exhaustion(noisy.exhaustion_s) == "not burning"


def test_a_real_burn_however_small_still_runs_out() -> None:
    values = np.full(1800, 100.0)
    values[-1] = 100.0 * (1 - 1 / 3000)  # one failed request of 50/s x 60 s in a minute
    b = _budget(values).budget
    assert b.exhaustion_s is not None and b.exhaustion_s > 0
    assert fmt_exhaustion(b.exhaustion_s) != "not burning"


def test_exhaustion_noise_edge() -> None:
    allowed = AVAILABILITY.budget
    at_noise = NOISE_FRACTION / allowed
    assert exhaustion_s(0.1, at_noise, 100.0, allowed) is None
    assert exhaustion_s(0.1, at_noise * 1.01, 100.0, allowed) == pytest.approx(
        0.9 * 100 / (at_noise * 1.01))
    assert exhaustion_s(0.1, at_noise, 100.0) is not None  # without an SLO: any burn counts


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_every_renderer_shows_not_burning(all_data: dict[str, DashboardData], fmt: str) -> None:
    data = all_data["overview"]
    noisy = _budget(NOISY)
    views = tuple(dataclasses.replace(noisy, runbook_url=v.runbook_url) for v in data.budgets[:1])
    rows = tuple(dataclasses.replace(r, panels=tuple(
        dataclasses.replace(p, budgets=views) if p.kind == "budget" else p for p in r.panels))
        for r in data.rows)
    out = renderer(fmt)(dataclasses.replace(data, rows=rows, budgets=views))
    b = noisy.budget
    face_value = fmt_exhaustion(exhaustion_s(b.spent, b.burn_at(3600), b.window_s))
    assert face_value.endswith("d") and len(face_value) > 12  # what it showed: 10^13 days
    assert face_value not in out and "not burning" in out

"""Helpers for SLO tests on real backfills: run one into a fresh store, read an SLO's
events from the store, run the embedded evaluator over every stored minute, and predict
with the workbook's maths when a burn-rate condition should fire."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alerts.burn import MIN_COVERAGE, BurnCondition, events
from alerts.evaluator import Query, Transition, evaluate, store_query
from alerts.slo import SLO
from alerts.slo_rules import condition_series, query_from_arrays, read_indicator, slo_rules
from monitoring.app.backfill import run_backfill
from monitoring.app.config import parse_config
from monitoring.groundtruth import FaultLog
from monitoring.store.base import Store
from monitoring.store.sqlite import SQLiteStore


@contextmanager
def backfilled(tmp: Path, settings: dict[str, Any], start: float, hours: float
               ) -> Iterator[tuple[SQLiteStore, FaultLog]]:
    """``hours`` from ``start`` through the real engine, on the defaults plus ``settings``."""
    config = parse_config({"store": {"path": str(tmp / "ionmon.db")}, **settings})
    store, faults = SQLiteStore(config.store.path), FaultLog(config.store.path)
    try:
        run_backfill(config, store, faults, start, hours / 24)  # type: ignore[arg-type]
        yield store, faults
    finally:
        store.close()
        faults.close()


@dataclass(frozen=True)
class Events:
    ts: np.ndarray
    bad: np.ndarray  # bad events in units of the budget: bad / total is a burn rate
    total: np.ndarray


def read_events(store: Store, slo: SLO, start: float, end: float) -> Events:
    ts, values, weights = read_indicator(store, slo, start, end)
    bad, total = events(slo, values, weights)
    return Events(ts, bad / slo.budget, total)  # bad in budgets


def evaluate_every_minute(store: Store, slos: list[SLO], start: float, end: float
                          ) -> list[Transition]:
    """The embedded evaluator at every stored minute in ``(start, end]``, over the SLOs'
    virtual series computed in one pass per SLO (as a back-test does)."""
    queries: dict[str, Query] = {}
    grid: set[float] = set()
    fallback = store_query(store)
    for slo in slos:
        ev_ts, series = slo_series(store, slo, start - 3 * 86400, end)
        query = query_from_arrays(ev_ts, series, fallback)
        queries.update({sid: query for sid in series})
        grid.update(ev_ts[(ev_ts > start) & (ev_ts <= end)].tolist())

    def query(metric: str, now: float) -> float | None:
        return queries.get(metric, fallback)(metric, now)

    rules = slo_rules(slos)
    states: dict = {}
    changes: list[Transition] = []
    for now in sorted(grid):
        states, new = evaluate(rules, now, query, states)
        changes += new
    return changes


def slo_series(store: Store, slo: SLO, start: float, end: float
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One SLO's virtual burn series over the stored minutes in ``(start, end]``."""
    ts, values, weights = read_indicator(store, slo, start, end)
    return ts, condition_series(slo, ts, values, weights)


def window_detection_s(c: BurnCondition, ev: Events, onset: float,
                       step_s: float = 60.0) -> float | None:
    """Seconds from ``onset`` until both of ``c``'s windows hold a mean burn above its
    factor: the workbook's condition, checked minute by minute on the stored events
    with plain sums (not the product's window code), coverage rule included."""
    for i in np.nonzero(ev.ts > onset)[0]:
        now = ev.ts[i]
        ok = True
        for w in (c.long_s, c.short_s):
            sel = (ev.ts > now - w) & (ev.ts <= now)
            total = ev.total[sel].sum()
            covered = np.count_nonzero(ev.total[sel] > 0) * step_s / w
            if total <= 0 or covered < MIN_COVERAGE or ev.bad[sel].sum() / total <= c.factor:
                ok = False
                break
        if ok:
            return float(now - onset)
    return None


def fault_burn(ev: Events, start: float, end: float) -> float:
    """The measured burn over ``(start, end]``: bad events over all events, per budget."""
    during = (ev.ts > start) & (ev.ts <= end)
    return float(ev.bad[during].sum() / ev.total[during].sum())

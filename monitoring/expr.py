"""Metric expressions that are both PromQL and an embedded derivation.

A catalog metric is written once as an expression tree. ``promql()`` spells it for a
Prometheus server; ``evaluate(prev, cur)`` computes the same quantity from two scrapes
of raw samples, so both answers come from one definition and cannot drift apart.
Rates are taken over the interval between the two snapshots, as Prometheus's
``rate()`` takes them over its range; a series born inside the interval is rated the way
``rate()`` rates it (see ``Rate``).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import Protocol, TypeVar

import numpy as np

from collectors.base import Sample

LabelKey = tuple[tuple[str, str], ...]
Vector = dict[LabelKey, float]
_T = TypeVar("_T")


def label_key(labels: Mapping[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


Keys = tuple[LabelKey, ...]
Column = tuple[Keys, tuple[Mapping[str, str], ...], np.ndarray]


class Snapshot:
    """Raw samples of one scrape cycle, indexed by series name.

    Selections and rates are memoised per snapshot: the 25 metrics share a handful of
    selectors (six latency metrics read one histogram), so each is computed once.

    A name's series can also be held as a column (their label keys and an array of
    values), which is how a backfill hands over its scrapes; rows are made on demand.
    """

    def __init__(self, ts: float, samples: Iterable[Sample], stale: Iterable[Sample] = (),
                 previous: Snapshot | None = None) -> None:
        self.ts = ts
        self._by_name: dict[str, list[tuple[LabelKey, Mapping[str, str], float]]] = \
            defaultdict(list)
        for s in samples:
            self._by_name[s.name].append((label_key(s.labels), s.labels, s.value))
        self._columns: dict[str, Column] = {}
        self.memo: dict[object, Vector] = {}
        # The series this scrape marked stale (vanished since the scrape before), by name.
        self.stale: dict[str, set[LabelKey]] = defaultdict(set)
        for s in stale:
            self.stale[s.name].add(label_key(s.labels))
        # The scrape before this one, so a rate can find where a young series began; the
        # owner of the window cuts the link past it (``forget_previous``).
        self.previous = previous

    def forget_previous(self) -> None:
        self.previous = None

    @classmethod
    def from_columns(cls, ts: float, columns: dict[str, Column], stale: Iterable[Sample] = ()
                     ) -> Snapshot:
        snap = cls(ts, (), stale)
        snap._columns = columns
        return snap

    def series(self, name: str) -> dict[LabelKey, float]:
        return {key: value for key, _, value in self.rows(name)}

    def rows(self, name: str) -> list[tuple[LabelKey, Mapping[str, str], float]]:
        rows = self._by_name.get(name)
        if rows is None:
            column = self._columns.get(name)
            if column is None:
                return []
            keys, labels, values = column
            rows = self._by_name[name] = list(zip(keys, labels, values.tolist(), strict=True))
        return rows

    def names(self) -> list[str]:
        return sorted({*self._by_name, *self._columns})

    def column(self, name: str) -> tuple[Keys, np.ndarray] | None:
        """The label keys and values of ``name``'s series; None when two share a key."""
        column = self._columns.get(name)
        if column is None:
            rows = self._by_name.get(name, [])
            keys = tuple(k for k, _, _ in rows)
            # A scrape usually holds the series the one before held: share its key tuple,
            # so layouts cached by identity (``_ONCE``) are reused, not piled up anew.
            before = self.previous._columns.get(name) if self.previous is not None else None
            if before is not None and before[0] == keys:
                keys = before[0]
            column = self._columns[name] = (
                keys, tuple(labels for _, labels, _ in rows),
                np.array([v for _, _, v in rows], dtype=float))
        keys, _, values = column
        return (keys, values) if _ONCE.get(keys, "unique", lambda: _distinct(keys)) else None

    def adopt(self, name: str, keys: Keys) -> None:
        """Hold ``name``'s keys as ``keys``, an equal tuple, so layouts can be reused."""
        _, labels, values = self._columns[name]
        self._columns[name] = (keys, labels, values)


def _distinct(keys: Keys) -> bool:
    return len(set(keys)) == len(keys)


class _PerKeys:
    """Values computed once per tuple of label keys (a layout every scrape shares).

    Looked up by the tuple's identity, not its hash: hashing a thousand label keys
    costs as much as the work saved. The tuple is kept alive with its entry.
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._entries: dict[tuple[int, object], tuple[Keys, object]] = {}

    def get(self, keys: Keys, what: object, compute: Callable[[], _T]) -> _T:
        entry = self._entries.get((id(keys), what))
        if entry is not None and entry[0] is keys:
            return entry[1]  # type: ignore[return-value]
        if len(self._entries) >= self._size:
            self._entries.clear()
        value = compute()
        self._entries[(id(keys), what)] = (keys, value)
        return value


_ONCE = _PerKeys()


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # "=", "!=", "=~", "!~"
    value: str

    def __post_init__(self) -> None:
        if self.op not in ("=", "!=", "=~", "!~"):
            raise ValueError(f"unknown label matcher operator {self.op!r}")

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = _compiled(self.value).fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    def matches_key(self, key: LabelKey) -> bool:
        if self.op == "=":
            return (self.label, self.value) in key or (self.value == "" and all(
                k != self.label for k, _ in key))
        return self.matches(dict(key))

    def promql(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.label}{self.op}"{escaped}"'


def m(label: str, op: str, value: str) -> Matcher:
    return Matcher(label, op, value)


class Expr(Protocol):
    def promql(self, window: str) -> str: ...

    def evaluate(self, prev: Snapshot, cur: Snapshot) -> Vector: ...


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[Matcher, ...] = ()

    def promql(self) -> str:
        inner = ",".join(x.promql() for x in self.matchers)
        return f"{self.name}{{{inner}}}" if inner else self.name

    def select(self, snap: Snapshot) -> dict[LabelKey, float]:
        memo_key = ("select", self)
        if memo_key not in snap.memo:
            rows = snap.rows(self.name)
            snap.memo[memo_key] = {
                key: value for key, labels, value in rows
                if all(x.matches(labels) for x in self.matchers)
            } if self.matchers else {key: value for key, _, value in rows}
        return snap.memo[memo_key]

    def with_suffix(self, suffix: str) -> Selector:
        return Selector(self.name + suffix, self.matchers)

    def key_filter(self) -> Callable[[LabelKey], bool]:
        """A test of a label key against every matcher, as cheap as the matchers allow."""
        return _key_filter(self.matchers)


@lru_cache(maxsize=512)
def _key_filter(matchers: tuple[Matcher, ...]) -> Callable[[LabelKey], bool]:
    # Equality on a non-empty value is a pair lookup in the key: by far the common case,
    # and on the hot path (histogram buckets filtered by region and le every scrape).
    # One and two pairs are spelled out: a generator per key cost ~0.9 ms a scrape.
    if all(x.op == "=" and x.value for x in matchers):
        pairs = tuple((x.label, x.value) for x in matchers)
        if len(pairs) == 1:
            pair = pairs[0]
            return lambda key: pair in key
        if len(pairs) == 2:
            first, second = pairs
            return lambda key: first in key and second in key
        return lambda key: all(p in key for p in pairs)
    return lambda key: all(x.matches_key(key) for x in matchers)


@dataclass(frozen=True)
class Rate:
    """Per-second increase of a counter; resets count from zero, as in PromQL.

    A series continuous over the window and not reset is read from the window's ends;
    one born, back from a stale marker or reset inside it, scrape by scrape
    (``_run_rate``), so both give what ``rate()`` gives over the same scrapes. When
    every series of a name is continuous, the ends are read as arrays (``_rate_column``).
    """

    selector: Selector

    def promql(self, window: str) -> str:
        return f"rate({self.selector.promql()}[{window}])"

    def evaluate(self, prev: Snapshot, cur: Snapshot) -> Vector:
        memo_key = ("rate", self.selector, prev.ts)
        if memo_key in cur.memo:
            return cur.memo[memo_key]
        dt = cur.ts - prev.ts
        out: Vector = {}
        column = _rate_column(self.selector.name, prev, cur)
        if column is not None:
            keys, rates = column
            if self.selector.matchers:
                kept, positions = _ONCE.get(keys, ("filter", self.selector.matchers),
                                            lambda: _filtered(keys, self.selector.key_filter()))
                out = dict(zip(kept, rates[positions].tolist(), strict=True))
            else:
                out = dict(zip(keys, rates.tolist(), strict=True))
        elif self.selector.matchers:  # filter the unfiltered rates, which are shared
            base = Rate(Selector(self.selector.name)).evaluate(prev, cur)
            keep = self.selector.key_filter()
            out = {k: v for k, v in base.items() if keep(k)}
        elif dt > 0:
            before = self.selector.select(prev)
            broken = _went_stale(self.selector.name, prev, cur)
            for key, value in self.selector.select(cur).items():
                old = before.get(key)
                # The common case: continuous and not reset, the increase between the
                # ends. Otherwise the series is read scrape by scrape over the window.
                if old is not None and value >= old and key not in broken:
                    out[key] = (value - old) / dt
                    continue
                rate = _run_rate(self.selector, key, prev, cur)
                if rate is not None:
                    out[key] = rate
        cur.memo[memo_key] = out
        return out


def _went_stale(name: str, prev: Snapshot, cur: Snapshot) -> set[LabelKey]:
    """Series of ``name`` marked stale by a scrape after ``prev``, up to ``cur``."""
    out: set[LabelKey] = set()
    snap: Snapshot | None = cur
    while snap is not None and snap.ts > prev.ts:
        if name in snap.stale:
            out |= snap.stale[name]
        snap = snap.previous
    return out


def _run_rate(selector: Selector, key: LabelKey, prev: Snapshot, cur: Snapshot
              ) -> float | None:
    """``rate()`` of a series that is young, came back or reset in ``[prev.ts, cur.ts]``.

    The series is read over its run: the window's scrapes since it appeared, or since
    it came back after a stale marker (a vanished series may have restarted from zero,
    so the rate never runs across the gap). As in Prometheus's ``extrapolatedRate``
    (promql/functions.go), with ``span`` the run's first-to-last time and ``avg`` its
    mean spacing:

    - under two samples there is no rate;
    - the increase counts every drop as a reset from zero (each one, not only one
      between the window's ends);
    - towards the window's start the increase is extended by the gap to it, cut to
      where the counter would have been zero (``span * first / increase``), and by only
      ``avg / 2`` when that is ``1.1 * avg`` or more; at the end (``cur``) no gap;
    - the extended increase is divided by the window.

    So a counter born with its first events has a rate from its second sample, its
    whole count ``v1 / window`` when its zero point is within 1.1 scrapes, as
    ``rate()`` has; before, it read as no series (an error rate of 0) for a window.
    """
    values: list[float] = []
    times: list[float] = []
    snap: Snapshot | None = cur
    while snap is not None and snap.ts >= prev.ts:
        value = selector.select(snap).get(key)
        if value is None:
            break
        values.append(value)
        times.append(snap.ts)
        # Two snapshots not chained (a caller with only the window's ends) are adjacent.
        snap = snap.previous if snap.previous is not None or snap is prev else prev
    if len(values) < 2:
        return None
    values.reverse()
    times.reverse()
    increase = sum((b - a) if b >= a else b for a, b in pairwise(values))
    span = times[-1] - times[0]
    avg = span / (len(values) - 1)
    to_start = times[0] - prev.ts
    if increase > 0 and values[0] >= 0:
        to_start = min(to_start, span * values[0] / increase)
    extended = span + (to_start if to_start < 1.1 * avg else avg / 2)
    return increase * extended / span / (cur.ts - prev.ts)


def _rate_column(name: str, prev: Snapshot, cur: Snapshot) -> tuple[Keys, np.ndarray] | None:
    """``Rate``'s per-series loop over arrays, when both scrapes hold the same series.

    The common case of the loop, element by element: ``value - old`` over the interval.
    Series that appeared, vanished, went stale or were reset between the two scrapes make
    this None, and the loop in ``Rate.evaluate`` reads them as ``rate()`` does.
    """
    memo_key = ("rate column", name, prev.ts)
    if memo_key not in cur.memo:
        out = None
        dt = cur.ts - prev.ts
        before, now = prev.column(name), cur.column(name)
        if dt > 0 and before is not None and now is not None and (
                before[0] is now[0] or before[0] == now[0]) and not _went_stale(name, prev, cur):
            cur.adopt(name, before[0])
            old, new = before[1], now[1]
            if bool((new >= old).all()):
                with np.errstate(invalid="ignore"):  # inf - inf is NaN, as in the loop
                    out = (before[0], (new - old) / dt)
        cur.memo[memo_key] = out  # type: ignore[assignment]
    return cur.memo[memo_key]  # type: ignore[return-value]


def _filtered(keys: Keys, keep: Callable[[LabelKey], bool]) -> tuple[Keys, np.ndarray]:
    positions = [i for i, key in enumerate(keys) if keep(key)]
    return tuple(keys[i] for i in positions), np.array(positions, dtype=np.intp)


@dataclass(frozen=True)
class Gauge:
    """The current value of a gauge."""

    selector: Selector

    def promql(self, window: str) -> str:
        return self.selector.promql()

    def evaluate(self, prev: Snapshot, cur: Snapshot) -> Vector:
        return dict(self.selector.select(cur))


def _project(key: LabelKey, by: tuple[str, ...]) -> LabelKey:
    return tuple((k, v) for k, v in key if k in by)


_AGGREGATORS = {
    "sum": sum,
    "max": max,
    "min": min,
    "avg": lambda xs: sum(xs) / len(xs),
    "count": len,
}


@dataclass(frozen=True)
class Agg:
    """sum/max/min/avg/count by (labels)."""

    op: str
    inner: Expr
    by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.op not in _AGGREGATORS:
            raise ValueError(f"unknown aggregation {self.op!r}")

    def promql(self, window: str) -> str:
        by = f" by ({', '.join(self.by)})" if self.by else ""
        return f"{self.op}{by} ({self.inner.promql(window)})"

    def evaluate(self, prev: Snapshot, cur: Snapshot) -> Vector:
        groups: dict[LabelKey, list[float]] = defaultdict(list)
        for key, value in self.inner.evaluate(prev, cur).items():
            groups[_project(key, self.by)].append(value)
        return {k: float(_AGGREGATORS[self.op](v)) for k, v in groups.items()}


def _binary(a: Vector, b: Vector, fn) -> Vector:
    # One-to-one matching on identical label sets; a scalar side (empty key) broadcasts.
    if list(b) == [()]:
        return {k: fn(v, b[()]) for k, v in a.items()}
    if list(a) == [()]:
        return {k: fn(a[()], v) for k, v in b.items()}
    return {k: fn(v, b[k]) for k, v in a.items() if k in b}


def _div(x: float, y: float) -> float:
    if y == 0:
        return math.nan if x == 0 else math.copysign(math.inf, x)
    return x / y


@dataclass(frozen=True)
class Div:
    num: Expr
    den: Expr

    def promql(self, window: str) -> str:
        return f"({self.num.promql(window)}) / ({self.den.promql(window)})"

    def evaluate(self, prev: Snapshot, cur: Snapshot) -> Vector:
        return _binary(self.num.evaluate(prev, cur), self.den.evaluate(prev, cur), _div)


@dataclass(frozen=True)
class Add:
    left: Expr
    right: Expr

    def promql(self, window: str) -> str:
        return f"({self.left.promql(window)}) + ({self.right.promql(window)})"

    def evaluate(self, prev: Snapshot, cur: Snapshot) -> Vector:
        return _binary(self.left.evaluate(prev, cur), self.right.evaluate(prev, cur), float.__add__)


@dataclass(frozen=True)
class OrZero:
    """``inner``, or 0 when it has no series (no 5xx seen yet is a rate of 0, not no data)."""

    inner: Expr

    def promql(self, window: str) -> str:
        return f"({self.inner.promql(window)} or vector(0))"

    def evaluate(self, prev: Snapshot, cur: Snapshot) -> Vector:
        return self.inner.evaluate(prev, cur) or {(): 0.0}


@dataclass(frozen=True)
class Scalar:
    value: float

    def promql(self, window: str) -> str:
        return f"{self.value:g}"

    def evaluate(self, prev: Snapshot, cur: Snapshot) -> Vector:
        return {(): self.value}


@dataclass(frozen=True)
class Scale:
    """``factor * inner``, or ``factor * (1 - inner)`` with ``complement``."""

    inner: Expr
    factor: float = 1.0
    complement: bool = False

    def promql(self, window: str) -> str:
        body = self.inner.promql(window)
        body = f"(1 - ({body}))" if self.complement else f"({body})"
        if self.factor == 1:
            return body
        inverse = 1 / self.factor
        if inverse > 1 and inverse == round(inverse):  # "/ 1048576" reads better than "* 9.5e-07"
            return f"{body} / {round(inverse)}"
        return f"{body} * {self.factor:g}"

    def evaluate(self, prev: Snapshot, cur: Snapshot) -> Vector:
        out = self.inner.evaluate(prev, cur)
        return {k: ((1 - v) if self.complement else v) * self.factor for k, v in out.items()}


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus's histogram_quantile for one histogram: ``buckets`` = (le, cumulative count)."""
    if not buckets:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = sorted(buckets)
    if not math.isinf(buckets[-1][0]):
        return math.nan
    # Counts must be monotonic; scrape races can break that, so clamp as Prometheus does.
    counts, running = [], 0.0
    for _, c in buckets:
        running = max(running, c)
        counts.append(running)
    total = counts[-1]
    if len(buckets) < 2 or total == 0:
        return math.nan
    rank = q * total
    b = next(i for i, c in enumerate(counts) if c >= rank)
    if b == len(buckets) - 1:
        return buckets[-2][0]
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start = 0.0 if b == 0 else buckets[b - 1][0]
    end = buckets[b][0]
    below = 0.0 if b == 0 else counts[b - 1]
    in_bucket = counts[b] - below
    if in_bucket == 0:
        return end
    return start + (end - start) * ((rank - below) / in_bucket)


@dataclass(frozen=True)
class HistogramQuantile:
    """histogram_quantile(q, sum by (le, ...) (rate(<name>_bucket[w])))."""

    q: float
    selector: Selector
    by: tuple[str, ...] = field(default=())

    def promql(self, window: str) -> str:
        by = ", ".join(("le", *self.by))
        inner = Rate(self.selector.with_suffix("_bucket")).promql(window)
        return f"histogram_quantile({self.q:g}, sum by ({by}) ({inner}))"

    def evaluate(self, prev: Snapshot, cur: Snapshot) -> Vector:
        return {k: bucket_quantile(self.q, list(v.items()))
                for k, v in self._buckets(prev, cur).items()}

    def _buckets(self, prev: Snapshot, cur: Snapshot) -> dict[LabelKey, dict[float, float]]:
        """Bucket rates summed by (le, by...), from per-series histograms shared by all.

        Memoised per selector and grouping: p50, p95 and p99 read the same sums.
        """
        memo_key = ("buckets", self.selector, self.by, prev.ts)
        column = None if memo_key in cur.memo else \
            _rate_column(self.selector.name + "_bucket", prev, cur)
        if column is not None:
            keys, rates = column
            positions, slots, groups = _ONCE.get(
                keys, ("buckets", self.selector, self.by),
                lambda: _bucket_slots(keys, self.selector.key_filter(), self.by))
            sums = np.bincount(slots, weights=rates[positions], minlength=len(groups))
            columnar: dict[LabelKey, dict[float, float]] = {}
            for (group, le), total in zip(groups, sums.tolist(), strict=True):
                columnar.setdefault(group, {})[le] = total
            cur.memo[memo_key] = columnar  # type: ignore[assignment]
        if memo_key not in cur.memo:
            grouped: dict[LabelKey, dict[float, float]] = defaultdict(lambda: defaultdict(float))
            keep = self.selector.key_filter()
            for key, buckets in _histograms(self.selector.name, prev, cur).items():
                if keep(key):
                    target = grouped[_project(key, self.by)]
                    for le, value in buckets.items():
                        target[le] += value
            cur.memo[memo_key] = grouped  # type: ignore[assignment]
        return cur.memo[memo_key]  # type: ignore[return-value]


def _bucket_slots(keys: Keys, keep: Callable[[LabelKey], bool], by: tuple[str, ...]
                  ) -> tuple[np.ndarray, np.ndarray, list[tuple[LabelKey, float]]]:
    """Which bucket series go into which (group, le) sum, in the order ``_buckets``
    adds them: histogram by histogram, as each first appears."""
    first_seen: dict[LabelKey, int] = {}
    picked = []
    for i, key in enumerate(keys):
        rest, le = _split_le(key)
        if keep(rest):
            picked.append((first_seen.setdefault(rest, len(first_seen)), i, rest, le))
    picked.sort(key=lambda p: (p[0], p[1]))
    slot_of: dict[tuple[LabelKey, float], int] = {}
    slots = [slot_of.setdefault((_project(rest, by), le), len(slot_of))
             for _, _, rest, le in picked]
    return (np.array([p[1] for p in picked], dtype=np.intp), np.array(slots, dtype=np.intp),
            list(slot_of))


def _histograms(name: str, prev: Snapshot, cur: Snapshot) -> dict[LabelKey, dict[float, float]]:
    """Bucket rates of every series of histogram ``name``, keyed by labels without ``le``."""
    memo_key = ("histograms", name, prev.ts)
    if memo_key not in cur.memo:
        rates = Rate(Selector(name + "_bucket")).evaluate(prev, cur)
        out: dict[LabelKey, dict[float, float]] = defaultdict(dict)
        for key, value in rates.items():
            rest, le = _split_le(key)
            out[rest][le] = value
        cur.memo[memo_key] = out  # type: ignore[assignment]
    return cur.memo[memo_key]  # type: ignore[return-value]


@lru_cache(maxsize=65536)
def _split_le(key: LabelKey) -> tuple[LabelKey, float]:
    """A bucket's labels without ``le``, and its bound; the same few thousand every scrape."""
    le = math.nan
    rest = []
    for k, v in key:
        if k == "le":
            le = float(v)
        else:
            rest.append((k, v))
    return tuple(rest), le

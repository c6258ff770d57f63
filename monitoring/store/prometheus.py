"""The store protocol on a Prometheus-compatible server (Prometheus, VictoriaMetrics,
Thanos, Mimir), read over its HTTP API.

Every catalog metric is read with its own PromQL (``Metric.promql``, the one spelling)
through ``/api/v1/query_range``, evaluated on the scrape-interval grid: at grid time t
that is the metric over the rate window ending at t, which is exactly what the embedded
store holds at t. Resampling to a caller's step then uses the embedded store's own
``align`` (last value at or before each step), so both backends answer alike.

The server scrapes its own data, so this store is read-only. Failures are StoreErrors
naming the server (credentials removed) and, for a query the server rejects, the
metric whose PromQL it was. Connection errors, timeouts, 5xx and 429 answers are
retried with exponential backoff; anything else is final at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import requests

from monitoring.catalog import RECORDED
from monitoring.config import ScrapeConfig, StoreConfig
from monitoring.durations import format_duration
from monitoring.store.base import Point, Series, StoreError, WriteResult, align

# Prometheus refuses a query_range of more than 11,000 points per series.
MAX_POINTS = 11_000
# The embedded store's lookback when resampling to a step (see SQLiteStore.read_many).
MIN_LOOKBACK_S = 300.0


class PrometheusError(StoreError):
    """The server could not be reached or did not answer in time (after retries)."""

    def __init__(self, message: str, url: str, attempts: int) -> None:
        super().__init__(message)
        self.url = url
        self.attempts = attempts


class PrometheusQueryError(StoreError):
    """The server rejected the PromQL of one metric (not retried)."""

    def __init__(self, message: str, metric_id: str, promql: str) -> None:
        super().__init__(message)
        self.metric_id = metric_id
        self.promql = promql


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` more attempts after the first, waiting backoff, 2x backoff, ... (capped)."""

    retries: int = 2
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0

    def delay(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * 2 ** attempt)


def redact(url: str) -> str:
    """The URL without user:password, so an error message never carries a secret."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class _Retryable(Exception):
    """One failed attempt worth repeating."""


def catalog_queries(window: str) -> dict[str, str]:
    return {metric_id: metric.promql(window) for metric_id, metric in RECORDED.items()}


class PrometheusStore:
    """Read-only store over ``/api/v1/query_range``; one query per metric and range piece."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        bearer_token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        step_s: float = 60.0,
        window: str = "5m",
        history_s: float = 35 * 86400.0,
        queries: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if bearer_token and username:
            raise ValueError("use either a bearer token or basic auth, not both")
        if step_s <= 0:
            raise ValueError(f"step_s must be positive, got {step_s}")
        self.url = url.rstrip("/")
        self.shown_url = redact(self.url)
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.step_s = step_s
        self.history_s = history_s
        self.queries = dict(queries) if queries is not None else catalog_queries(window)
        self._clock = clock
        self._sleep = sleep
        self._session = requests.Session()
        if bearer_token:
            self._session.headers["Authorization"] = f"Bearer {bearer_token}"
        elif username:
            self._session.auth = (username, password or "")

    @classmethod
    def from_sections(cls, store: StoreConfig, scrape: ScrapeConfig) -> PrometheusStore:
        prom = store.prometheus
        return cls(
            prom.url, timeout_s=prom.timeout, retry=RetryPolicy(retries=prom.retries),
            bearer_token=prom.bearer_token, username=prom.username, password=prom.password,
            step_s=scrape.interval, window=format_duration(scrape.rate_window),
            history_s=store.retention,
        )

    # -- the protocol -------------------------------------------------------------------

    def write(self, points: Iterable[Point]) -> WriteResult:
        if any(True for _ in points):
            raise StoreError(f"store Prometheus at {self.shown_url} is read-only: Prometheus "
                             "scrapes its own data (point it at the engine with "
                             "'ionmon prometheus-config')")
        return WriteResult()

    def series_ids(self) -> list[str]:
        return sorted(self.queries)

    def read(self, series: str, start: float, end: float, step: float | None = None) -> Series:
        return self.read_many([series], start, end, step)[series]

    def read_many(
        self, series: Sequence[str], start: float, end: float, step: float | None = None
    ) -> dict[str, Series]:
        if end < start:
            raise StoreError(f"store Prometheus at {self.shown_url}: range end {end} is "
                             f"before start {start}")
        unknown = [s for s in series if s not in self.queries]
        if unknown:
            raise StoreError(f"store Prometheus at {self.shown_url}: no query for "
                             f"{', '.join(map(repr, unknown))} (known: {', '.join(self.queries)})")
        return {name: self._read_one(name, start, end, step) for name in series}

    def close(self) -> None:
        self._session.close()

    # -- reading ------------------------------------------------------------------------

    def _read_one(self, name: str, start: float, end: float, step: float | None) -> Series:
        if step is None:
            return self._native(name, start, end)
        lookback = max(step, MIN_LOOKBACK_S)
        native = self.step_s
        if (end - start + lookback) / native > MAX_POINTS and _multiple(step, native):
            # A coarse step over a long range: the value at a step time is the one at the
            # native grid point at or before it, so ask for those grid points only.
            grid = np.arange(start, end + step / 2, step)
            snapped = np.floor(grid / native) * native
            got = self._query(name, float(snapped[0]), float(snapped[-1]), step)
            values = np.full(len(grid), np.nan)
            idx = np.searchsorted(snapped, got.ts)
            ok = (idx < len(grid)) & (snapped[np.clip(idx, 0, len(grid) - 1)] == got.ts)
            values[idx[ok]] = got.values[ok]
            return Series(name, grid, values)
        return align(self._native(name, start - lookback, end), start, end, step, lookback)

    def _native(self, name: str, start: float, end: float) -> Series:
        """The metric at every scrape-interval grid point in [start, end] that has a value."""
        now = self._clock()
        # Unbounded asks ("everything", e.g. 0 to 4e9) are cut to the history kept.
        start = max(start, now - self.history_s)
        end = min(end, now + self.step_s)
        first = math.ceil(start / self.step_s) * self.step_s
        if first > end:
            return Series.empty(name)
        parts = []
        span = (MAX_POINTS - 1) * self.step_s
        piece = first
        while piece <= end:
            parts.append(self._query(name, piece, min(end, piece + span), self.step_s))
            piece += span + self.step_s
        ts = np.concatenate([p.ts for p in parts])
        values = np.concatenate([p.values for p in parts])
        return Series(name, ts, values)

    def _query(self, name: str, start: float, end: float, step: float) -> Series:
        promql = self.queries[name]
        body = self._get("/api/v1/query_range",
                         {"query": promql, "start": repr(float(start)),
                          "end": repr(float(end)), "step": repr(float(step))}, name, promql)
        result = body.get("data", {}).get("result", [])
        if len(result) > 1:
            labels = [r.get("metric", {}) for r in result[:3]]
            raise PrometheusQueryError(
                f"Prometheus at {self.shown_url}: the query for metric {name!r} returned "
                f"{len(result)} series, expected one (labels not aggregated away: {labels}); "
                f"PromQL: {promql}", name, promql)
        if not result:
            return Series.empty(name)
        points = result[0].get("values", [])
        ts = np.fromiter((p[0] for p in points), dtype=np.float64, count=len(points))
        values = np.array([p[1] for p in points], dtype=np.float64)
        # NaN is PromQL's "no value" (0/0 at a quiet hour); the embedded store keeps no point.
        keep = ~np.isnan(values)
        return Series(name, ts[keep], values[keep])

    def _get(self, path: str, params: dict[str, str], name: str, promql: str) -> dict:
        attempts = self.retry.retries + 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                self._sleep(self.retry.delay(attempt - 1))
            try:
                return self._attempt(path, params, name, promql)
            except _Retryable as exc:
                last = str(exc)
        raise PrometheusError(
            f"Prometheus at {self.shown_url}: {last} (gave up after {attempts} attempt"
            f"{'s' if attempts > 1 else ''}; reading metric {name!r})", self.shown_url, attempts)

    def _attempt(self, path: str, params: dict[str, str], name: str, promql: str) -> dict:
        try:
            resp = self._session.get(self.url + path, params=params, timeout=self.timeout_s)
        except requests.Timeout:
            raise _Retryable(f"no answer within {self.timeout_s:g} s") from None
        except requests.ConnectionError as exc:
            raise _Retryable(f"cannot connect ({_root_cause(exc)})") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise _Retryable(f"HTTP {resp.status_code} {_error_text(resp)}".rstrip())
        if resp.status_code in (401, 403):
            raise PrometheusError(
                f"Prometheus at {self.shown_url}: HTTP {resp.status_code}, not authorised "
                "(check store.prometheus bearer_token or username/password)",
                self.shown_url, 1)
        if resp.status_code in (400, 422):
            raise PrometheusQueryError(
                f"Prometheus at {self.shown_url}: the query for metric {name!r} failed: "
                f"{_error_text(resp)}; PromQL: {promql}", name, promql)
        if resp.status_code != 200:
            raise PrometheusError(
                f"Prometheus at {self.shown_url}: HTTP {resp.status_code} for {path} "
                f"{_error_text(resp)}".rstrip(), self.shown_url, 1)
        try:
            body = resp.json()
        except ValueError:
            raise PrometheusError(
                f"Prometheus at {self.shown_url}: {path} did not answer with JSON "
                "(is this a Prometheus API URL?)", self.shown_url, 1) from None
        if body.get("status") != "success":
            raise PrometheusQueryError(
                f"Prometheus at {self.shown_url}: the query for metric {name!r} failed: "
                f"{body.get('errorType', '')}: {body.get('error', body)}; PromQL: {promql}",
                name, promql)
        return body


def _multiple(step: float, native: float) -> bool:
    ratio = step / native
    return ratio >= 1 and abs(ratio - round(ratio)) < 1e-9


def _error_text(resp: requests.Response) -> str:
    try:
        body = resp.json()
        return f"{body.get('errorType', 'error')}: {body.get('error', '')}"
    except ValueError:
        return resp.text.strip()[:200]


def _root_cause(exc: BaseException) -> str:
    # requests nests urllib3's reason a few levels deep; the OS error says it best.
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__

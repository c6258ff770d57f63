"""Real faults injected into a running cluster; ``start``/``stop`` are idempotent.

Every fault does real damage through the engine's own code (real work, real
allocations, real connections held, real requests); none writes a metric.

kind                target            effect
l1_flush            region            the region's L1 is emptied (instantaneous; stop is a no-op)
l2_down             region | "all"    the region's L2 client cannot reach L2 (errors counted)
index_dropped       region            DROP INDEX on the region's database; stop re-creates it:
                                      loud drops the user-history index (history
                                      lookups walk the time index), subtle the time
                                      index (only the rare analytics summary scans)
builder_errors      [region/]builder  a fraction (``rate``) of its calls raise;
                                      region from the target, ``region=`` or all regions
replica_lag         replica region    the replica stops applying replicated writes
region_down         region            the region stops answering; the edge returns 503
network_delay       region            the region's modelled network delay times ``factor``
traffic_surge       region | "all"    clients send ``factor`` times the modelled requests
traffic_drop        region | "all"    clients send ``factor`` (< 1) times the modelled requests
traffic_sag         region | "all"    requests sag by ``depth`` over ``ramp`` seconds, then hold
cpu_hog             region            every request burns ``cpu_ms`` of CPU in a hot loop
memory_leak         region            the engine allocates ``mb_per_min`` and never frees it
                                      (until stop)
db_pool_exhaustion  region            ``share`` of the region's DB pool is checked out and held

Each kind has its ``severity`` (``subtle`` or ``loud``; default loud): a severity sets
the kind's factors, an explicit factor overrides it. ``resolve_params`` fills both in.
Traffic faults act on the clients' demand, so they need ``attach_traffic`` first.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from engine.builders import BUILDER_NAMES
from engine.db.schema import HISTORY_INDEX, SUMMARY_INDEX
from engine.traffic import Ramp

TargetKind = Literal["region", "region_or_all", "replica", "builder"]
SEVERITIES: tuple[str, ...] = ("subtle", "loud")
ALL = "all"


@dataclass(frozen=True)
class FaultKind:
    """What a fault kind targets, and the factors each of its severities sets."""

    name: str
    target: TargetKind
    levels: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {"loud": {}})
    extra: tuple[str, ...] = ()  # further parameters it accepts

    @property
    def severities(self) -> tuple[str, ...]:
        return tuple(s for s in SEVERITIES if s in self.levels)

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for lv in self.levels.values() for p in lv))


KINDS: dict[str, FaultKind] = {k.name: k for k in (
    FaultKind("l1_flush", "region"),
    FaultKind("l2_down", "region_or_all"),
    FaultKind("index_dropped", "region", {"subtle": {}, "loud": {}}, extra=("index",)),
    FaultKind("builder_errors", "builder",
              {"subtle": {"rate": 0.02}, "loud": {"rate": 0.3}}, extra=("region",)),
    FaultKind("replica_lag", "replica"),
    FaultKind("region_down", "region"),
    FaultKind("network_delay", "region",
              {"subtle": {"factor": 2.0}, "loud": {"factor": 5.0}}),
    FaultKind("traffic_surge", "region_or_all",
              {"subtle": {"factor": 1.5}, "loud": {"factor": 3.0}}),
    FaultKind("traffic_drop", "region_or_all",
              {"subtle": {"factor": 1 / 1.5}, "loud": {"factor": 1 / 3}}),
    FaultKind("traffic_sag", "region_or_all",
              {"subtle": {"depth": 0.2}, "loud": {"depth": 0.4}}, extra=("ramp",)),
    FaultKind("cpu_hog", "region", {"subtle": {"cpu_ms": 0.05}, "loud": {"cpu_ms": 1.0}}),
    FaultKind("memory_leak", "region",
              {"subtle": {"mb_per_min": 1.0}, "loud": {"mb_per_min": 5.0}}),
    FaultKind("db_pool_exhaustion", "region",
              {"subtle": {"share": 0.4}, "loud": {"share": 0.8}}),
)}
FAULT_KINDS: tuple[str, ...] = tuple(KINDS)
DEFAULT_SAG_RAMP_S = 3600.0


def fault_kind(kind: str) -> FaultKind:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}"
                         ) from None


def _nearest_severity(spec: FaultKind, given: Mapping[str, Any]) -> str:
    """The severity whose factors are closest (as ratios) to explicitly given ones."""
    def distance(level: str) -> float:
        return sum(abs(math.log(float(given[p]) / v)) for p, v in spec.levels[level].items()
                   if p in given)
    return min(spec.severities, key=distance)


def resolve_params(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` completed with the kind's severity and the factors it sets.

    Explicit factors win over the severity's; without a severity, explicit factors are
    labelled with the nearest one. Unknown parameters and bad values raise ValueError.
    """
    spec = fault_kind(kind)
    allowed = {"severity", *spec.params, *spec.extra}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"{kind}: unknown parameter {unknown[0]!r} "
                         f"(expected: {', '.join(sorted(allowed))})")
    for p in spec.params:
        if p in params:
            value = params[p]
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{kind}: {p} must be a positive number, got {value!r}")
    if "severity" in params:
        severity = params["severity"]
        if severity not in spec.severities:
            raise ValueError(f"{kind}: unknown severity {severity!r} "
                             f"(expected {' or '.join(spec.severities)})")
    elif any(p in params for p in spec.params):
        severity = _nearest_severity(spec, params)
    else:
        severity = "loud"
    return {**spec.levels[severity], **params, "severity": severity}


def check_target(kind: str, target: str, roles: Mapping[str, str]) -> None:
    """Raise ValueError unless ``target`` names what ``kind`` acts on.

    ``roles`` maps each region to its role (primary or replica); builder faults are
    spelled ``region/builder`` (or ``all/builder``).
    """
    spec = fault_kind(kind)
    regions = ", ".join(sorted(roles))
    if spec.target == "builder":
        region, _, builder = target.partition("/")
        if builder not in BUILDER_NAMES or (region not in roles and region != ALL):
            raise ValueError(f"expected 'region/builder' with a region of {regions} (or all) "
                             f"and a builder of {', '.join(BUILDER_NAMES)}, got {target!r}")
        return
    if spec.target == "region_or_all" and target == ALL:
        return
    if target not in roles:
        also = " or all" if spec.target == "region_or_all" else ""
        raise ValueError(f"unknown region {target!r} (regions: {regions}{also})")
    if spec.target == "replica" and roles[target] != "replica":
        raise ValueError(f"{kind} needs a replica region, {target!r} is the {roles[target]}")


# --- what the controller needs of a cluster ---------------------------------------

class _L2(Protocol):
    def set_reachable(self, reachable: bool) -> None: ...


class _Cache(Protocol):
    @property
    def l2(self) -> _L2: ...
    def flush_l1(self) -> int: ...


class _Pool(Protocol):
    @property
    def size(self) -> int: ...
    def connection(self) -> AbstractContextManager[Any]: ...


class _Database(Protocol):
    @property
    def pool(self) -> _Pool: ...
    def drop_index(self, name: str) -> None: ...
    def create_index(self, name: str) -> None: ...


class _Replication(Protocol):
    paused: bool


class _BuilderFaults(Protocol):
    def set_rate(self, builder: str, rate: float) -> None: ...


class _Network(Protocol):
    def set_factor(self, factor: float) -> None: ...


class _Api(Protocol):
    extra_work: Callable[[], None] | None


class Region(Protocol):
    @property
    def cache(self) -> _Cache: ...
    @property
    def db(self) -> _Database: ...
    @property
    def builder_faults(self) -> _BuilderFaults: ...
    @property
    def replication(self) -> _Replication | None: ...
    @property
    def network(self) -> _Network: ...
    @property
    def api(self) -> _Api: ...
    def tick(self) -> None: ...


class _Clock(Protocol):
    def now(self) -> float: ...


class ClusterLike(Protocol):
    @property
    def regions(self) -> Mapping[str, Region]: ...
    @property
    def instances(self) -> Mapping[str, Sequence[Region]]: ...
    @property
    def clock(self) -> _Clock: ...
    def set_region_up(self, name: str, up: bool) -> None: ...


class DemandLike(Protocol):
    """The clients' demand (``engine.traffic.Demand``)."""

    def set(self, key: str, region: str | None, ramp: Ramp) -> None: ...
    def clear(self, key: str) -> None: ...


# --- the work some faults do ------------------------------------------------------

class _Ticking(Protocol):
    def tick(self) -> None: ...
    def release(self) -> None: ...


_BURN_BLOCK = bytes(range(256)) * 16  # 4 KiB hashed per step of a hot loop


def _hot_loop(seconds: float) -> Callable[[], None]:
    """Burn ``seconds`` of this thread's CPU, hashing, whatever the machine's load."""
    def burn() -> None:
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            hashlib.sha256(_BURN_BLOCK).digest()
    return burn


_CHUNK = 1 << 20
_CHUNK_FILL = b"\x5a" * _CHUNK


class _Leak:
    """Anonymous memory written (so resident) at a steady rate and held until stopped."""

    def __init__(self, clock: _Clock, bytes_per_s: float) -> None:
        self._clock = clock
        self._rate = bytes_per_s
        self._since = clock.now()
        self._owed = 0.0
        self.chunks: list[mmap.mmap] = []

    def tick(self) -> None:
        now = self._clock.now()
        self._owed += max(0.0, now - self._since) * self._rate
        self._since = now
        while self._owed >= _CHUNK:
            chunk = mmap.mmap(-1, _CHUNK)
            chunk.write(_CHUNK_FILL)
            self.chunks.append(chunk)
            self._owed -= _CHUNK

    def release(self) -> None:
        for chunk in self.chunks:
            chunk.close()
        self.chunks.clear()


class _HeldConnections:
    """Connections checked out of a pool and not returned, like a leaking code path.

    On each tick they are handed back and taken again at once, so the pool's busy
    time is counted while the fault lasts rather than in one lump when it ends.
    """

    def __init__(self, pool: _Pool, count: int) -> None:
        self._pool = pool
        self.count = count
        self._stack = ExitStack()
        self._take()

    def _take(self) -> None:
        for _ in range(self.count):
            self._stack.enter_context(self._pool.connection())

    def tick(self) -> None:
        self._stack.close()
        self._stack = ExitStack()
        self._take()

    def release(self) -> None:
        self._stack.close()


@dataclass(frozen=True)
class ActiveFault:
    kind: str
    target: str
    params: dict[str, Any] = field(default_factory=dict)


class FaultController:
    def __init__(self, cluster: ClusterLike) -> None:
        self._cluster = cluster
        self._active: dict[tuple[str, str], ActiveFault] = {}
        self._demand: DemandLike | None = None
        # Faults that do work as time passes (``tick``): none when no such fault runs.
        self._tickers: dict[tuple[str, str], _Ticking] = {}
        self._lock = threading.Lock()

    def attach_traffic(self, demand: DemandLike) -> None:
        """The clients' demand the traffic faults act on."""
        self._demand = demand

    def active(self) -> list[ActiveFault]:
        return list(self._active.values())

    def is_active(self, kind: str, target: str) -> bool:
        return (kind, target) in self._active

    def start(self, kind: str, target: str, **params: Any) -> ActiveFault:
        params = resolve_params(kind, params)
        key = (kind, target)
        if key in self._active:
            return self._active[key]
        getattr(self, f"_start_{kind}")(target, params)
        fault = ActiveFault(kind, target, params)
        self._active[key] = fault
        return fault

    def stop(self, kind: str, target: str) -> None:
        fault = self._active.pop((kind, target), None)
        if fault is not None:
            getattr(self, f"_stop_{kind}")(target, fault.params)

    def stop_all(self) -> None:
        for fault in list(self._active.values()):
            self.stop(fault.kind, fault.target)

    def tick(self) -> None:
        """Let time-driven faults do the work of the time passed (the cluster's tick)."""
        if self._tickers:
            with self._lock:
                for work in tuple(self._tickers.values()):
                    work.tick()

    # -- targets -------------------------------------------------------------
    def _region(self, target: str) -> Region:
        try:
            return self._cluster.regions[target]
        except KeyError:
            raise ValueError(f"unknown region {target!r}") from None

    def _regions(self, target: str) -> list[Region]:
        """Every instance of the region (of all regions for ``all``): what each
        instance holds for itself (L1, L2 client, builders, network, API) is faulted
        in each; the database and its replication are the region's, reached through
        ``_region``."""
        names = list(self._cluster.regions) if target == ALL else [target]
        for name in names:
            self._region(name)
        return [i for name in names for i in self._cluster.instances[name]]

    def _ticking(self, key: tuple[str, str], work: _Ticking) -> None:
        with self._lock:
            self._tickers[key] = work

    def _unticking(self, key: tuple[str, str]) -> None:
        with self._lock:
            work = self._tickers.pop(key, None)
        if work is not None:
            work.release()

    # -- kinds ---------------------------------------------------------------
    def _start_l1_flush(self, target: str, params: dict[str, Any]) -> None:
        for region in self._regions(target):
            region.cache.flush_l1()

    def _stop_l1_flush(self, target: str, params: dict[str, Any]) -> None:
        pass  # a flush has no undo; the cache refills from traffic

    def _start_l2_down(self, target: str, params: dict[str, Any]) -> None:
        for region in self._regions(target):
            region.cache.l2.set_reachable(False)

    def _stop_l2_down(self, target: str, params: dict[str, Any]) -> None:
        for region in self._regions(target):
            region.cache.l2.set_reachable(True)

    @staticmethod
    def _dropped_indexes(params: dict[str, Any]) -> tuple[str, ...]:
        # Without its index a history lookup walks the time index backwards until the
        # user's 20th row: for the two thirds of users with few rows that reads most of
        # the table in index order, 28 ms a lookup on the default 100,000 rows (0.02 ms
        # indexed), far past the slow-query time however busy the machine. Without the
        # time index only the analytics summary, a few queries an hour, scans.
        if "index" in params:
            return (params["index"],)
        return (HISTORY_INDEX,) if params["severity"] == "loud" else (SUMMARY_INDEX,)

    def _start_index_dropped(self, target: str, params: dict[str, Any]) -> None:
        for index in self._dropped_indexes(params):
            self._region(target).db.drop_index(index)

    def _stop_index_dropped(self, target: str, params: dict[str, Any]) -> None:
        for index in self._dropped_indexes(params):
            self._region(target).db.create_index(index)

    def _builder_target(self, target: str,
                        params: dict[str, Any]) -> tuple[str, list[Region]]:
        # "analyst" (region from params, default all) or "us/analyst".
        region, _, builder = target.rpartition("/")
        if builder not in BUILDER_NAMES:
            raise ValueError(f"unknown builder {builder!r}; known: {BUILDER_NAMES}")
        return builder, self._regions(region or params.get("region", ALL))

    def _start_builder_errors(self, target: str, params: dict[str, Any]) -> None:
        builder, regions = self._builder_target(target, params)
        for region in regions:
            region.builder_faults.set_rate(builder, float(params["rate"]))

    def _stop_builder_errors(self, target: str, params: dict[str, Any]) -> None:
        builder, regions = self._builder_target(target, params)
        for region in regions:
            region.builder_faults.set_rate(builder, 0.0)

    def _start_replica_lag(self, target: str, params: dict[str, Any]) -> None:
        replication = self._region(target).replication
        if replication is None:
            raise ValueError(f"region {target!r} is not a replica")
        replication.paused = True

    def _stop_replica_lag(self, target: str, params: dict[str, Any]) -> None:
        region = self._region(target)
        assert region.replication is not None
        region.replication.paused = False
        region.tick()

    def _start_region_down(self, target: str, params: dict[str, Any]) -> None:
        self._region(target)
        self._cluster.set_region_up(target, False)

    def _stop_region_down(self, target: str, params: dict[str, Any]) -> None:
        self._cluster.set_region_up(target, True)

    def _start_network_delay(self, target: str, params: dict[str, Any]) -> None:
        for region in self._regions(target):
            region.network.set_factor(float(params["factor"]))

    def _stop_network_delay(self, target: str, params: dict[str, Any]) -> None:
        for region in self._regions(target):
            region.network.set_factor(1.0)

    # Traffic: the clients' demand changes; the engine serves what really arrives.
    def _set_demand(self, kind: str, target: str, factor: float, ramp_s: float = 0.0) -> None:
        if self._demand is None:
            raise ValueError(f"{kind} acts on client traffic: attach_traffic() first")
        if target != ALL:
            self._region(target)
        now = self._cluster.clock.now()
        self._demand.set(f"{kind}:{target}", None if target == ALL else target,
                         Ramp(now, now + ramp_s, factor))

    def _clear_demand(self, kind: str, target: str) -> None:
        if self._demand is not None:
            self._demand.clear(f"{kind}:{target}")

    def _start_traffic_surge(self, target: str, params: dict[str, Any]) -> None:
        if not float(params["factor"]) > 1:
            raise ValueError(f"traffic_surge: factor must exceed 1, got {params['factor']}")
        self._set_demand("traffic_surge", target, float(params["factor"]))

    def _stop_traffic_surge(self, target: str, params: dict[str, Any]) -> None:
        self._clear_demand("traffic_surge", target)

    def _start_traffic_drop(self, target: str, params: dict[str, Any]) -> None:
        if not float(params["factor"]) < 1:
            raise ValueError(f"traffic_drop: factor must be below 1, got {params['factor']}")
        self._set_demand("traffic_drop", target, float(params["factor"]))

    def _stop_traffic_drop(self, target: str, params: dict[str, Any]) -> None:
        self._clear_demand("traffic_drop", target)

    def _start_traffic_sag(self, target: str, params: dict[str, Any]) -> None:
        depth = float(params["depth"])
        if not depth < 1:
            raise ValueError(f"traffic_sag: depth must be below 1, got {depth}")
        ramp = float(params.setdefault("ramp", DEFAULT_SAG_RAMP_S))
        self._set_demand("traffic_sag", target, 1.0 - depth, ramp)

    def _stop_traffic_sag(self, target: str, params: dict[str, Any]) -> None:
        self._clear_demand("traffic_sag", target)

    def _start_cpu_hog(self, target: str, params: dict[str, Any]) -> None:
        work = _hot_loop(float(params["cpu_ms"]) / 1000.0)
        for region in self._regions(target):
            region.api.extra_work = work

    def _stop_cpu_hog(self, target: str, params: dict[str, Any]) -> None:
        for region in self._regions(target):
            region.api.extra_work = None

    def _start_memory_leak(self, target: str, params: dict[str, Any]) -> None:
        self._region(target)
        leak = _Leak(self._cluster.clock, float(params["mb_per_min"]) * _CHUNK / 60.0)
        self._ticking(("memory_leak", target), leak)

    def _stop_memory_leak(self, target: str, params: dict[str, Any]) -> None:
        self._unticking(("memory_leak", target))

    def _start_db_pool_exhaustion(self, target: str, params: dict[str, Any]) -> None:
        share = float(params["share"])
        if not share <= 1:
            raise ValueError(f"db_pool_exhaustion: share must be at most 1, got {share}")
        pool = self._region(target).db.pool
        # Rounded, at least one; all of them only when asked for (share 1): then every
        # query waits the pool timeout and fails.
        count = pool.size if share == 1 else min(pool.size - 1, max(1, round(share * pool.size)))
        self._ticking(("db_pool_exhaustion", target), _HeldConnections(pool, count))

    def _stop_db_pool_exhaustion(self, target: str, params: dict[str, Any]) -> None:
        self._unticking(("db_pool_exhaustion", target))

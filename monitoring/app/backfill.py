"""Backfill: drive the real engine through modelled weeks on a virtual clock.

Every scrape interval (a virtual minute by default) the engine serves that interval's
modelled requests, the faults
scheduled for it start or stop, and then the engine is scraped in process through
the same collector protocol as live (no text round trip) and the catalog metrics
derived from the scrape are written to the store in batches. The engine runs in a
process of its own, so serving and derivation use a core each.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import multiprocessing.queues
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from queue import Empty, Full

from collectors.registry import RegistryCollector
from collectors.relabel import TargetLabels
from engine.cluster import Cluster
from engine.fault_schedule import random_schedule
from engine.traffic import TrafficModel
from monitoring.app.config import Config, FaultSpec
from monitoring.catalog import RECORDED
from monitoring.clock import VirtualClock
from monitoring.groundtruth import FaultLog, FaultRecord
from monitoring.scrape import CycleResult, Frame, FrameDecoder, FrameEncoder, Scraper
from monitoring.store.base import Point, StoreError
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import week_start

MINUTE = 60.0
BATCH_CYCLES = 30  # scrape cycles per commit: a killed backfill loses at most these
FRAMES_PER_MESSAGE = 10  # cycles the engine process sends at once
QUEUED_MESSAGES = 16  # how far the engine may run ahead of the derivation


@dataclass
class BackfillSummary:
    start: float
    end: float
    cycles: int = 0  # scrape cycles, one sample per metric each
    step_s: float = MINUTE
    requests: int = 0
    points: int = 0
    faults: list[FaultRecord] = field(default_factory=list)
    metrics_seen: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _FaultEvent:
    at: float
    begin: bool
    spec: FaultSpec


def _engine_fault(spec: FaultSpec) -> tuple[str, str, dict[str, float | str]]:
    """The engine's spelling of a fault: builder faults name "region/builder"."""
    if spec.kind == "builder_errors":
        region, _, builder = spec.target.partition("/")
        return spec.kind, builder, {**spec.params, "region": region}
    return spec.kind, spec.target, dict(spec.params)


def with_faults(config: Config, faults: str, seed: int | None, days: float) -> Config:
    """``config`` with the ``--faults``/``--seed`` spelling applied.

    ``faults`` is ``config`` (the configured schedule), ``none``, or ``random:N``: N faults
    drawn by ``random_schedule`` from the seed (``seed``, else the engine's), in place
    of the configured ones, for a week nobody placed by hand. ``seed`` also seeds the
    engine and its traffic. A bad spelling raises ValueError.
    """
    engine = config.engine if seed is None else config.engine.model_copy(update={"seed": seed})
    mode, _, count = faults.partition(":")
    if faults == "config":
        specs = list(config.backfill.faults)
    elif faults == "none":
        specs = []
    elif mode == "random" and count.isdigit():
        roles = {name: region.role for name, region in engine.regions.items()}
        specs = [FaultSpec.model_validate(vars(f))
                 for f in random_schedule(engine.seed, int(count), days, roles)]
    else:
        raise ValueError(f"expected 'config', 'none' or 'random:N' (N a whole number), "
                         f"got {faults!r}")
    return config.model_copy(update={
        "engine": engine, "backfill": config.backfill.model_copy(update={"faults": specs})})


def _fault_events(faults: list[FaultSpec], start: float) -> list[_FaultEvent]:
    events = []
    for spec in faults:
        events.append(_FaultEvent(start + spec.at, True, spec))
        events.append(_FaultEvent(start + spec.at + max(spec.duration, MINUTE), False, spec))
    return sorted(events, key=lambda e: (e.at, not e.begin))


def _serve(cluster: Cluster, traffic: TrafficModel, clock: VirtualClock, t0: float,
           step: float = MINUTE) -> int:
    """Serve the modelled requests of [t0, t0 + step); the clock ends at its end."""
    requests = traffic.requests_for(t0, t0 + step)
    for request in requests:
        clock.set(max(clock.now(), request.ts))
        cluster.request(request.region, request.method, request.path, request.body)
    clock.set(t0 + step)
    cluster.tick()
    return len(requests)


@contextmanager
def _rare_full_collections() -> Iterator[None]:
    """Collect cyclic garbage rarely while the engine runs flat out.

    The engine's long-lived state (caches, pools, the router's matrices) makes each
    full collection walk a large heap, and a backfill allocates fast enough to trigger
    one every few hundred cycles: with default thresholds a quarter of its time went
    to the collector. Reference counting still frees everything that is not a cycle.
    """
    threshold = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def _frames(config: Config, start: float, end: float, first: int
            ) -> Iterator[tuple[bool, int, Frame]]:
    """The engine's side of a backfill: ``(priming, requests served, scrapes)`` per cycle.

    First the scrapes that prime the rate window, then one per cycle from ``first`` on,
    each after that interval's faults started or stopped and its requests were served.
    """
    step = config.scrape.interval
    total = int((end - start) // step)
    resume_at = start + first * step
    warmup = max(config.backfill.warmup, config.scrape.rate_window)
    clock = VirtualClock(resume_at - warmup - MINUTE)
    cluster = Cluster(config.engine, clock)
    traffic = TrafficModel(config.engine)
    cluster.faults.attach_traffic(traffic.demand)
    encoder = FrameEncoder()
    with _rare_full_collections(), cluster:
        registries = cluster.registries
        collectors = [RegistryCollector("edge", lambda: registries().get("edge"), clock)]
        for target, region in config.engine.instance_regions().items():
            collector = RegistryCollector(target, (lambda t=target: registries().get(t)), clock)
            # Several instances of a region: told apart by ``instance``, as Prometheus does.
            collectors.append(collector if target == region else TargetLabels(
                collector, {"target": region, "instance": target}))

        def scrape() -> Frame:
            return encoder.encode(clock.now(), [c.collect() for c in collectors])

        # The service was running before the range: serve the warm-up unrecorded, so
        # the week does not open on cold caches, then prime the rate window.
        for i in range(int((warmup - config.scrape.rate_window) // MINUTE)):
            _serve(cluster, traffic, clock, resume_at - warmup + i * MINUTE)
        for i in range(config.scrape.window_scrapes):
            t = resume_at - config.scrape.rate_window + i * step
            served = _serve(cluster, traffic, clock, t, step)
            yield True, served, scrape()
        events = _fault_events(list(config.backfill.faults), start)
        if first:  # a resumed run starts the faults still on at its start, skips those over
            events = [e for e in events if e.at >= resume_at or (
                e.begin and e.at + max(e.spec.duration, MINUTE) > resume_at)]
        next_event = 0
        for cycle in range(first, total):
            t0 = start + cycle * step
            while next_event < len(events) and events[next_event].at < t0 + step:
                event = events[next_event]
                clock.set(max(clock.now(), event.at))
                kind, target, params = _engine_fault(event.spec)
                if event.begin:
                    cluster.faults.start(kind, target, **params)
                else:
                    cluster.faults.stop(kind, target)
                next_event += 1
            served = _serve(cluster, traffic, clock, t0, step)
            yield False, served, scrape()


def _engine_process(config: Config, start: float, end: float, first: int,
                    out: multiprocessing.queues.Queue) -> None:
    """Run the engine and send its scrapes, a few cycles a message; None at the end."""
    try:
        batch = []
        for item in _frames(config, start, end, first):
            batch.append(item)
            if len(batch) == FRAMES_PER_MESSAGE:
                _send(out, batch)
                batch = []
        _send(out, batch)
        _send(out, None)
    except _Orphaned:
        out.cancel_join_thread()  # what is buffered has no reader: exit without it
        return
    except BaseException as exc:  # the other process raises it, with this traceback
        out.put(EngineFailed("".join(traceback.format_exception(exc))))
        raise


class _Orphaned(Exception):
    """The process that reads the scrapes is gone (killed): nobody needs the rest."""


def _send(out: multiprocessing.queues.Queue, message: object) -> None:
    parent = multiprocessing.parent_process()
    while True:
        try:
            out.put(message, timeout=1.0)
            return
        except Full:
            if parent is not None and not parent.is_alive():
                raise _Orphaned from None


class EngineFailed(RuntimeError):
    """The engine process of a backfill failed; the message is its traceback."""


def _received(queue: multiprocessing.queues.Queue, process: BaseProcess
              ) -> Iterator[tuple[bool, int, Frame]]:
    while True:
        try:
            message = queue.get(timeout=1.0)
        except Empty:
            if not process.is_alive():
                raise EngineFailed(f"the backfill's engine process exited with code "
                                   f"{process.exitcode} before it finished") from None
            continue
        if message is None:
            return
        if isinstance(message, EngineFailed):
            raise message
        yield from message


def run_backfill(
    config: Config,
    store: SQLiteStore,
    faultlog: FaultLog,
    start: float,
    days: float,
    on_minute: Callable[[int, int], None] | None = None,
    on_cycle: Callable[[CycleResult], None] | None = None,
    end: float | None = None,
) -> BackfillSummary:
    """Fill [start, end) (``end`` defaults to ``start + days``) with one sample per metric
    per scrape interval; the faults are placed from ``start``.

    The store records the range and, with each batch, how far it got; when it holds an
    unfinished record of this range (a killed run, or a range extended on to now by
    ``prepare_range``), only the rest is filled.

    Two processes share the work, one core each: a child runs the engine, serving the
    modelled requests and collecting its registries continuously; this one derives the
    catalog metrics from those scrapes and writes them.
    """
    end = start + days * 86400 if end is None else end
    step = config.scrape.interval
    total = int((end - start) // step)
    run = store.begin_backfill(start, end)
    first = round((run.done_until - start) / step)  # cycles already committed
    summary = BackfillSummary(start, end, step_s=step)
    recorded = {(f.kind, f.target, f.start) for f in faultlog.between(start, end)}
    for event in _fault_events(list(config.backfill.faults), start):
        # A resumed run recorded the faults that began before its stop.
        if (event.begin and event.at < end
                and (event.spec.kind, event.spec.target, event.at) not in recorded):
            record = FaultRecord(event.spec.kind, event.spec.target, event.at,
                                 min(event.at + max(event.spec.duration, MINUTE), end),
                                 dict(event.spec.params))
            faultlog.record(record)
            summary.faults.append(record)
    context = multiprocessing.get_context("spawn")  # no fork of a threaded caller
    queue = context.Queue(maxsize=QUEUED_MESSAGES)
    engine = context.Process(target=_engine_process, args=(config, start, end, first, queue),
                             name="ionmon-backfill-engine", daemon=True)
    engine.start()
    try:
        scraper = Scraper([], window_scrapes=config.scrape.window_scrapes)
        decoder = FrameDecoder()
        pending: list[Point] = []
        cycle = first
        for priming, served, frame in _received(queue, engine):
            result = scraper.derive(*decoder.decode(frame, with_results=on_cycle is not None))
            if on_cycle is not None:  # with the window's first scrapes, for a raw export
                on_cycle(result)
            if priming:
                continue
            summary.requests += served
            pending.extend(result.points())
            summary.metrics_seen.update(result.values)
            summary.cycles += 1
            cycle += 1
            if summary.cycles % BATCH_CYCLES == 0 or cycle == total:
                store.write_backfill(run, pending, done_until=result.ts)
                summary.points += len(pending)
                pending = []
            if on_minute is not None:
                on_minute(cycle, total)
        engine.join()
    finally:
        if engine.is_alive():  # this side failed: the engine has nobody to send to
            engine.terminate()
            engine.join()
        queue.close()
    store.finish_backfill(run)
    return summary


def backfill_range(now: float, days: float, step: float, end: float | None = None
                   ) -> tuple[float, float]:
    """The range a backfill fills: ``days`` before this week's Monday 00:00 UTC (the last
    complete weeks), on to the start of the current scrape interval, so "now" has data;
    with ``end`` (a Monday), the ``days`` before it."""
    if end is not None:
        return end - days * 86400, end
    return week_start(now) - days * 86400, math.floor(now / step) * step


def newest_sample(store: SQLiteStore, start: float, end: float) -> float | None:
    """The newest catalog sample in [start, end], or None when the range holds none."""
    got = store.read_many(list(RECORDED), start, end)
    newest = [float(s.ts[-1]) for s in got.values() if len(s)]
    return max(newest) if newest else None


def prepare_range(store: SQLiteStore, faultlog: FaultLog, start: float, end: float,
                  replace: bool, step: float = MINUTE) -> bool:
    """Make the store ready to fill [start, end); False when nothing is missing.

    With ``replace`` the range is cleared and filled again. Without, only what is
    missing is filled: a partial backfill of the range resumes where it stopped, and
    a range whose earlier part is stored (an earlier backfill, or ``serve`` carrying
    it on) is filled from its newest sample on. Data after a gap is never overwritten:
    that needs ``replace``.
    """
    if replace:
        if store.has_data(start, end):
            store.delete_range(start, end)
        store.begin_backfill(start, end)  # recorded before the first sample; refuses the future
        faultlog.forget(start, end)
        return True
    if any((run.start, run.end) == (start, end) for run in store.partial_backfills(start, end)):
        return True
    newest = newest_sample(store, start, end)
    if newest is None:
        store.begin_backfill(start, end)
        faultlog.forget(start, end)
        return True
    if newest < start + step:  # a stray sample at the very start, nothing to resume from
        raise StoreError(f"store {store.path} already holds data at the start of the "
                         "backfill range; pass --replace to rebuild that range")
    # Fill from the newest stored sample: the grid point it closes (a live scrape lands
    # between grid points) is the last one kept.
    done = start + math.floor((newest - start) / step) * step
    if done >= end:
        return False
    run = store.begin_backfill(start, end)
    store.write_backfill(run, [], done_until=done)
    return True

"""Primary -> replica replication through queues applied after a modelled delay.

Lag is measured like a real replica's replay lag: while writes wait, now minus the
commit time of the oldest one; once caught up, how long the last applied write took
from its commit on the primary to its replay here (the modelled delay plus the
measured time the replica spent applying it).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.clock import Clock
from engine.db.database import Database, Statement


@dataclass(frozen=True, slots=True)
class WriteOp:
    name: str
    commit_ts: float
    statements: tuple[Statement, ...]


class ReplicationQueue:
    def __init__(self, replica: Database, delay_s: float, clock: Clock) -> None:
        self._replica = replica
        self._delay_s = delay_s
        self._clock = clock
        self._pending: deque[WriteOp] = deque()
        self._lock = threading.Lock()
        self._paused = False
        self._resumed_at = float("-inf")
        self._last_replay_lag = 0.0
        self.applied = 0

    @property
    def paused(self) -> bool:
        return self._paused

    @paused.setter
    def paused(self, value: bool) -> None:
        if self._paused and not value:
            self._resumed_at = self._clock.now()
        self._paused = value

    def publish(self, op: WriteOp) -> None:
        self._pending.append(op)

    def apply_due(self, now: float | None = None) -> int:
        """Apply every write whose delay has passed, unless paused."""
        pending = self._pending
        if self.paused or not pending:
            return 0
        now = self._clock.now() if now is None else now
        count = 0
        with self._lock:
            while pending and pending[0].commit_ts + self._delay_s <= now:
                op = pending[0]
                started = time.perf_counter()
                self._replica.write("replicate", op.statements)
                took = time.perf_counter() - started
                pending.popleft()
                # A running replica replays at commit + delay, or when it resumes.
                replayed_at = max(op.commit_ts + self._delay_s, self._resumed_at)
                self._last_replay_lag = replayed_at - op.commit_ts + took
                count += 1
        self.applied += count
        return count

    def lag(self) -> float:
        # Replay what is due first, as a live replica would have by now.
        self.apply_due()
        pending = self._pending
        waiting = max(0.0, self._clock.now() - pending[0].commit_ts) if pending else 0.0
        return max(waiting, self._last_replay_lag)

    def __len__(self) -> int:
        return len(self._pending)


class Writer:
    """Commits on the primary, then hands the same statements to every replica."""

    def __init__(self, clock: Clock, primary_up: Callable[[], bool]) -> None:
        self._primary: Database | None = None
        self._clock = clock
        self._primary_up = primary_up
        self.queues: list[ReplicationQueue] = []

    def attach_primary(self, primary: Database) -> None:
        self._primary = primary

    def write(self, name: str, statements: Sequence[Statement]) -> None:
        if self._primary is None or not self._primary_up():
            raise PrimaryUnavailable("primary region is down")
        stmts = tuple(statements)
        self._primary.write(name, stmts)
        op = WriteOp(name, self._clock.now(), stmts)
        for q in self.queues:
            q.publish(op)


class PrimaryUnavailable(RuntimeError):
    """Writes need the primary and it is not answering."""

"""Timed SQL over a pooled connection; the same class serves both dialects."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from engine.db.dialects import Dialect
from engine.db.pool import ConnectionPool, PoolTimeout
from engine.db.schema import INDEXES, TABLES
from engine.instruments import NullInstruments

Statement = tuple[str, tuple[Any, ...]]


class DatabaseError(RuntimeError):
    """A query or write failed (the cause is chained)."""


class Database:
    def __init__(self, dialect: Dialect, pool_size: int, pool_timeout_s: float,
                 instruments: NullInstruments) -> None:
        self.dialect = dialect
        self._inst = instruments
        self._errors: tuple[type[Exception], ...] = (
            *getattr(dialect, "errors", ()), PoolTimeout)
        self.pool = ConnectionPool(dialect.connect, pool_size, pool_timeout_s, instruments)
        self._sql: dict[str, str] = {}

    @property
    def backend(self) -> str:
        return self.dialect.name

    def create(self, seed: dict[str, tuple[Sequence[str], Sequence[tuple[Any, ...]]]]) -> None:
        """Empty schema, seed rows, then indexes (faster than indexing while loading)."""
        self.dialect.create_schema(TABLES)
        with self.pool.connection() as conn:
            for table, (columns, rows) in seed.items():
                self.dialect.bulk_load(conn, table, columns, rows)
            for ddl in INDEXES.values():
                conn.execute(ddl)
            self.dialect.analyze(conn)

    def _prepared(self, sql: str) -> str:
        prepared = self._sql.get(sql)
        if prepared is None:
            prepared = self._sql[sql] = self.dialect.prepare(sql)
        return prepared

    def query(self, name: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        prepared = self._prepared(sql)
        try:
            with self.pool.connection() as conn:
                start = time.perf_counter()
                rows = conn.execute(prepared, tuple(params)).fetchall()
                self._inst.db_query(name, time.perf_counter() - start)
        except self._errors as exc:
            self._inst.db_error()
            raise DatabaseError(f"{name}: {exc}") from exc
        return rows

    def write(self, name: str, statements: Sequence[Statement]) -> None:
        """Run the statements in one transaction, timed as one query."""
        try:
            with self.pool.connection() as conn:
                start = time.perf_counter()
                with self.dialect.transaction(conn):
                    for sql, params in statements:
                        conn.execute(self._prepared(sql), params)
                self._inst.db_query(name, time.perf_counter() - start)
        except self._errors as exc:
            self._inst.db_error()
            raise DatabaseError(f"{name}: {exc}") from exc

    def explain(self, sql: str, params: Sequence[Any] = ()) -> str:
        # A fresh connection: SQLite does not re-plan a cached EXPLAIN after DDL.
        conn = self.dialect.connect()
        try:
            return self.dialect.explain(conn, sql, params)
        finally:
            conn.close()

    def drop_index(self, name: str) -> None:
        self._ddl(f"DROP INDEX IF EXISTS {self._index(name)}")

    def create_index(self, name: str) -> None:
        ddl = INDEXES[self._index(name)].replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS")
        self._ddl(ddl)

    @staticmethod
    def _index(name: str) -> str:
        if name not in INDEXES:
            raise ValueError(f"unknown index {name!r}; known: {sorted(INDEXES)}")
        return name

    def _ddl(self, ddl: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(ddl)

    def close(self) -> None:
        self.pool.close()
        self.dialect.destroy()

"""What differs between SQLite and PostgreSQL: connecting, transactions, plans, bulk load."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg
from psycopg import sql as pgsql


class Dialect(Protocol):
    name: str

    def connect(self) -> Any: ...
    def prepare(self, sql: str) -> str: ...
    def transaction(self, conn: Any) -> Any: ...
    def explain(self, conn: Any, sql: str, params: Sequence[Any]) -> str: ...
    def create_schema(self, tables: Sequence[str]) -> None: ...
    def bulk_load(self, conn: Any, table: str, columns: Sequence[str],
                  rows: Sequence[tuple[Any, ...]]) -> None: ...
    def analyze(self, conn: Any) -> None: ...
    def destroy(self) -> None: ...


class SqliteDialect:
    name = "sqlite"
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: str, *, remove_on_destroy: bool) -> None:
        self.path = path
        self._remove = remove_on_destroy

    def connect(self) -> sqlite3.Connection:
        # Autocommit mode; writes open explicit transactions.
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # The modelled service's own database, not the monitoring store: its durability
        # is no promise of the platform, so a commit does not wait for an fsync.
        conn.execute("PRAGMA synchronous=OFF")
        return conn

    def prepare(self, sql: str) -> str:
        return sql

    @contextmanager
    def transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def explain(self, conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> str:
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, tuple(params)).fetchall()
        return "\n".join(str(r[-1]) for r in rows)

    def create_schema(self, tables: Sequence[str]) -> None:
        # The engine owns its file: start from an empty database.
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.remove(self.path + suffix)
        conn = self.connect()
        try:
            for ddl in tables:
                conn.execute(ddl)
        finally:
            conn.close()

    def bulk_load(self, conn: sqlite3.Connection, table: str, columns: Sequence[str],
                  rows: Sequence[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(columns))
        with self.transaction(conn):
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def analyze(self, conn: sqlite3.Connection) -> None:
        conn.execute("ANALYZE")

    def destroy(self) -> None:
        if self._remove:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.path + suffix):
                    os.remove(self.path + suffix)


class PostgresDialect:
    name = "postgres"
    errors: tuple[type[Exception], ...] = (psycopg.Error,)

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.dsn, autocommit=True,
                               options=f"-c search_path={self.schema}")

    def prepare(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def transaction(self, conn: psycopg.Connection[Any]) -> Any:
        return conn.transaction()

    def explain(self, conn: psycopg.Connection[Any], sql: str, params: Sequence[Any]) -> str:
        rows = conn.execute("EXPLAIN " + self.prepare(sql), tuple(params)).fetchall()
        return "\n".join(str(r[0]) for r in rows)

    def create_schema(self, tables: Sequence[str]) -> None:
        # One schema per region; the engine owns it, so it starts empty.
        ident = pgsql.Identifier(self.schema)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(pgsql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident))
            conn.execute(pgsql.SQL("CREATE SCHEMA {}").format(ident))
        with self.connect() as conn:
            for ddl in tables:
                conn.execute(ddl)  # type: ignore[arg-type]

    def bulk_load(self, conn: psycopg.Connection[Any], table: str, columns: Sequence[str],
                  rows: Sequence[tuple[Any, ...]]) -> None:
        stmt = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
            pgsql.Identifier(table), pgsql.SQL(", ").join(map(pgsql.Identifier, columns)))
        with conn.transaction(), conn.cursor() as cur, cur.copy(stmt) as copy:
            for row in rows:
                copy.write_row(row)

    def analyze(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("ANALYZE")

    def destroy(self) -> None:
        pass  # the schema is left for inspection; it is reset on the next start

"""Shared pieces of every ``ionmon`` command: the context and how errors are shown."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from monitoring.app.config import Config, ConfigError, load_config
from monitoring.durations import parse_duration
from monitoring.store.base import Store
from monitoring.store.sqlite import SQLiteStore


class Context:
    """What every command needs: the configuration, loaded once and on first use."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                fail(str(exc), code=2)
        return self._config


pass_ctx = click.make_pass_decorator(Context)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` to stderr and exit (2 for bad input, 1 for failures)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def parse_positive_duration(text: str, option: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        fail(f"{option}: {exc}", 2)
    if seconds <= 0:
        fail(f"{option}: must be positive, got {text!r}", 2)
    return seconds


def warn_partial_backfills(store: Store, start: float, end: float) -> None:
    """Say on stderr which backfills over [start, end) did not finish: their range holds
    less than it seems to, until ``ionmon backfill`` resumes them."""
    if not isinstance(store, SQLiteStore):
        return
    for run in store.partial_backfills(start, end):
        click.echo(f"warning: {run.describe()}; run 'ionmon backfill' to resume it",
                   err=True)

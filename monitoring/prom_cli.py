"""Commands for working with a Prometheus server beside the embedded store."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

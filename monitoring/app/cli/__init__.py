"""The ``ionmon`` command line: one module per command family. Bad arguments exit 2
with the reason; a store, config or start-up problem in any command is one
``error: ...`` line and exit 1, never a traceback."""

from __future__ import annotations

from typing import Any

import click

from monitoring.app.cli import alerts, dashboards, data, live, prometheus, report, silence
from monitoring.app.cli.context import Context, fail
from monitoring.app.config import ConfigError
from monitoring.store.base import StoreError

FAMILIES = (data, alerts, silence, dashboards, report, live, prometheus)


class Commands(click.Group):
    """The command group; what a command did not catch itself is reported here."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            fail(str(exc), 2)
        except StoreError as exc:
            fail(str(exc))


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Configuration file (default: ./config.yaml).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """ION Monitoring: collect, store, alert on and report the ION Mentoring service."""
    ctx.obj = Context(config_path)


for _family in FAMILIES:
    for _command in _family.COMMANDS:
        main.add_command(_command)

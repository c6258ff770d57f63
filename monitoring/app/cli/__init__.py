"""The ``ionmon`` command line: one module per command family. Bad arguments exit 2
with the reason."""

from __future__ import annotations

import click

from monitoring.app.cli import alerts, dashboards, data, live, prometheus, report, silence
from monitoring.app.cli.context import Context

FAMILIES = (data, alerts, silence, dashboards, report, live, prometheus)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Configuration file (default: ./config.yaml).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """ION Monitoring: collect, store, alert on and report the ION Mentoring service."""
    ctx.obj = Context(config_path)


for _family in FAMILIES:
    for _command in _family.COMMANDS:
        main.add_command(_command)

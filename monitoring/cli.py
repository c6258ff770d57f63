"""The ``ionmon`` command line. Bad arguments exit 2 with the reason."""

from __future__ import annotations

import importlib

import click

from monitoring.cliutil import Context

# Each package that adds commands exports them as a COMMANDS list.
_COMMAND_MODULES = ("monitoring.commands", "alerts.cli", "dashboards.cli", "monitoring.report_cli",
                    "monitoring.prom_cli")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Configuration file (default: ./config.yaml).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """ION Monitoring: collect, store, alert on and report the ION Mentoring service."""
    ctx.obj = Context(config_path)


for _name in _COMMAND_MODULES:
    for _command in importlib.import_module(_name).COMMANDS:
        main.add_command(_command)

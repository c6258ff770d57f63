"""One call from config to files: read the week, build the model, write Markdown and SVG."""

from __future__ import annotations

from pathlib import Path

from monitoring.config import Config
from monitoring.report.data import load_inputs
from monitoring.report.model import Report, build_report
from monitoring.report.render import WrittenReport, write_report
from monitoring.store.base import Store


def default_out_dir(config: Config, week: str) -> Path:
    return Path(config.output_dir) / "reports" / week


def generate(config: Config, store: Store, week_start: float, out_dir: Path | None = None,
             tuning_log: str | Path | None = None) -> tuple[Report, WrittenReport]:
    inputs = load_inputs(config, store, week_start, tuning_log)
    report = build_report(inputs)
    out = Path(out_dir or default_out_dir(config, report.week))
    # report.md is written last (each file atomically) and marks a finished report:
    # drop an older one first, so a run killed midway leaves no report.md beside
    # half-replaced charts. The next run writes it whole.
    (out / "report.md").unlink(missing_ok=True)
    written = write_report(report, dict(inputs.current), out)
    return report, written

"""Setting up a Prometheus server for ionmon: its prometheus.yml, and blocks from a backfill.

``prometheus_yml`` scrapes the engine's endpoints (edge and regions) and any extra
exposition targets, each labelled ``target=<name>`` as the catalog expects (its
``regions_up`` selects ``up{target=~"us|eu|asia"}``), loads the rules files that
``ionmon export prometheus`` and ``ionmon export slo`` write, and sends its alerts to
the Alertmanager the evaluator sends to, so the two dedup there. ``create_blocks`` runs
promtool on an OpenMetrics export so a server can serve the backfilled history.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from monitoring.durations import format_duration

JOB = "ion"  # the job label of the engine's scrapes (and of an OpenMetrics export)
# One block per day at most: promtool re-reads the whole file for every block it cuts,
# so its default of two-hour blocks makes a week's import several times slower.
MAX_BLOCK_DURATION = "24h"


def _endpoint(name: str, url: str) -> tuple[str, str, str]:
    """(scheme, host:port, metrics path) of a target URL; the path defaults to /metrics."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"target {name}: expected http(s)://host:port[/path], got {url!r}")
    netloc = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    path = parts.path if parts.path not in ("", "/") else "/metrics"
    return parts.scheme, netloc, path


def prometheus_yml(
    engine_targets: Mapping[str, str],
    *,
    extra_targets: Mapping[str, str] | None = None,
    rules_files: Sequence[str] = (),
    scrape_interval_s: float = 60.0,
    scrape_timeout_s: float = 10.0,
    evaluation_interval_s: float = 60.0,
    alertmanager_url: str | None = None,
) -> str:
    """A prometheus.yml: one job for the engine, one per extra target, ``target`` labels;
    an ``alerting:`` section when ``alertmanager_url`` is given."""
    if not engine_targets:
        raise ValueError("no engine targets to scrape")
    groups: dict[tuple[str, str], list[dict]] = {}
    for name, url in engine_targets.items():
        scheme, netloc, path = _endpoint(name, url)
        groups.setdefault((scheme, path), []).append(
            {"targets": [netloc], "labels": {"target": name}})
    jobs = []
    for i, ((scheme, path), static) in enumerate(sorted(groups.items())):
        jobs.append({"job_name": JOB if i == 0 else f"{JOB}-{i}", "scheme": scheme,
                     "metrics_path": path, "static_configs": static})
    for name, url in (extra_targets or {}).items():
        scheme, netloc, path = _endpoint(name, url)
        jobs.append({"job_name": name, "scheme": scheme, "metrics_path": path,
                     "static_configs": [{"targets": [netloc], "labels": {"target": name}}]})
    doc: dict = {
        "global": {
            "scrape_interval": format_duration(scrape_interval_s),
            "scrape_timeout": format_duration(min(scrape_timeout_s, scrape_interval_s)),
            "evaluation_interval": format_duration(evaluation_interval_s),
        },
    }
    if alertmanager_url is not None:
        scheme, netloc, path = _endpoint("alertmanager", alertmanager_url)
        am: dict = {"scheme": scheme, "static_configs": [{"targets": [netloc]}]}
        if path != "/metrics":  # _endpoint's default path: none given
            am["path_prefix"] = path
        doc["alerting"] = {"alertmanagers": [am]}
    if rules_files:
        doc["rule_files"] = list(rules_files)
    doc["scrape_configs"] = jobs
    return yaml.safe_dump(doc, sort_keys=False)


class PromtoolError(RuntimeError):
    """promtool is missing or refused the input; the message has its output's tail."""


def create_blocks(openmetrics: str | Path, out_dir: str | Path, promtool: str = "promtool",
                  timeout_s: float = 3600.0) -> list[Path]:
    """TSDB blocks from an OpenMetrics file into ``out_dir`` (a server's storage path or a
    directory to copy blocks from); returns the block directories created."""
    exe = shutil.which(promtool)
    if exe is None:
        raise PromtoolError(f"{promtool} not found: install Prometheus's promtool "
                            "(Debian: apt-get install prometheus)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in out.iterdir()}
    cmd = [exe, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
           f"--max-block-duration={MAX_BLOCK_DURATION}", str(openmetrics), str(out)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
    except subprocess.TimeoutExpired:
        raise PromtoolError(f"promtool did not finish within {timeout_s:g} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise PromtoolError(f"promtool failed on {openmetrics} (exit {done.returncode}):\n{tail}")
    return sorted(p for p in out.iterdir() if p.is_dir() and p.name not in before
                  and (p / "meta.json").exists())

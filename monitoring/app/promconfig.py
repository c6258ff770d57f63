"""Setting up a Prometheus server for ionmon: its prometheus.yml, and blocks from a backfill.

``prometheus_yml`` scrapes the engine's endpoints (edge and regions) and any extra
exposition targets, each labelled ``target=<name>`` as the catalog expects (its
``regions_up`` selects ``up{target=~"us|eu|asia"}``), loads the rules files that
``ionmon export prometheus`` and ``ionmon export slo`` write, and sends its alerts to
the Alertmanager the evaluator sends to, so the two dedup there. ``create_blocks`` runs
promtool on an OpenMetrics export so a server can serve the backfilled history.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
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


def _promtool(cmd: list[str], what: str, timeout_s: float) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
    except subprocess.TimeoutExpired:
        raise PromtoolError(f"promtool did not finish within {timeout_s:g} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise PromtoolError(f"promtool failed on {what} (exit {done.returncode}):\n{tail}")


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
    _promtool([exe, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
               f"--max-block-duration={MAX_BLOCK_DURATION}", str(openmetrics), str(out)],
              str(openmetrics), timeout_s)
    return sorted(p for p in out.iterdir() if p.is_dir() and p.name not in before
                  and (p / "meta.json").exists())


def _recording_stages(rule_texts: Sequence[str]) -> list[list[dict]]:
    """The recording rules of rules files, in stages: a rule reading another's series
    comes in a later stage (promtool evaluates each stage against what is already
    stored, so a rule cannot read one backfilled in the same run)."""
    rules = [r for text in rule_texts for g in (yaml.safe_load(text) or {}).get("groups", [])
             for r in g.get("rules", []) if "record" in r]
    names = {r["record"] for r in rules}
    reads = {id(r): {n for n in names
                     if re.search(rf"(?<![\w:]){re.escape(n)}(?![\w:])", r["expr"])}
             for r in rules}
    done: set[str] = set()
    stages: list[list[dict]] = []
    left = rules
    while left:
        stage = [r for r in left if reads[id(r)] <= done]
        if not stage:
            raise ValueError("recording rules read each other in a cycle: "
                             + ", ".join(sorted({r["record"] for r in left})))
        stages.append(stage)
        done |= {r["record"] for r in stage}
        left = [r for r in left if r not in stage]
    return stages


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _link_block(block: Path, into: Path) -> None:
    """The block in ``into`` too, by hard links (Prometheus may compact its copy away)."""
    shutil.copytree(block, into / block.name, copy_function=os.link)


def create_rule_blocks(blocks_dir: str | Path, rule_texts: Sequence[str], start: float,
                       end: float, eval_interval_s: float = 60.0,
                       prometheus: str = "prometheus", promtool: str = "promtool",
                       timeout_s: float = 3600.0) -> list[Path]:
    """Blocks of every recording rule in ``rule_texts`` over ``[start, end]``, from the
    blocks already in ``blocks_dir`` (the raw scrapes), written beside them.

    Prometheus evaluates rules only as time passes, never over imported history, so a
    server loaded with the raw blocks alone has no SLO series for that range. promtool
    evaluates each stage of rules through a Prometheus serving what is stored so far (a
    private server on a loopback port, over hard links of the blocks).
    """
    tools = {name: shutil.which(name) for name in (prometheus, promtool)}
    missing = [name for name, exe in tools.items() if exe is None]
    if missing:
        raise PromtoolError(f"{', '.join(missing)} not found: install Prometheus and its "
                            "promtool (Debian: apt-get install prometheus)")
    out = Path(blocks_dir)
    created: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="ionmon-rules-") as tmp_text:
        tmp = Path(tmp_text)
        served = tmp / "tsdb"
        served.mkdir()
        for block in out.iterdir():
            if (block / "meta.json").exists():
                _link_block(block, served)
        (tmp / "prometheus.yml").write_text("global: {}\n")
        for i, stage in enumerate(_recording_stages(rule_texts)):
            rules_file = tmp / f"stage{i}.yml"
            rules_file.write_text(yaml.safe_dump({"groups": [{
                "name": f"ionmon-backfill-{i}", "interval": format_duration(eval_interval_s),
                "rules": stage}]}, sort_keys=False, width=1000))
            stage_out = tmp / f"out{i}"
            _run_promtool_rules(str(tools[prometheus]), str(tools[promtool]), tmp, served,
                                rules_file, stage_out, start, end, timeout_s)
            for block in sorted(stage_out.iterdir()):
                if (block / "meta.json").exists():
                    shutil.copytree(block, out / block.name)
                    _link_block(block, served)
                    created.append(out / block.name)
    return created


def _run_promtool_rules(prometheus: str, promtool: str, tmp: Path, served: Path,
                        rules_file: Path, out: Path, start: float, end: float,
                        timeout_s: float) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp / "prometheus.log").open("ab")
    server = subprocess.Popen(
        [prometheus, f"--config.file={tmp / 'prometheus.yml'}",
         f"--storage.tsdb.path={served}", "--storage.tsdb.retention.time=100y",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = (tmp / "prometheus.log").read_text(errors="replace").splitlines()[-10:]
                raise PromtoolError("the Prometheus serving the blocks did not start:\n"
                                    + "\n".join(tail))
            time.sleep(0.2)
        _promtool([promtool, "tsdb", "create-blocks-from", "rules", "--quiet",
                   f"--url={url}", f"--start={int(start)}", f"--end={int(end)}",
                   f"--output-dir={out}", str(rules_file)], "the recording rules", timeout_s)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitoring.app.cli import main
from tests.dashboards.synth import END, make_store


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    make_store(root / "s.db", days=1).close()
    path = root / "config.yaml"
    path.write_text(f"store:\n  path: {root / 's.db'}\noutput_dir: {root / 'out'}\n")
    return path


def _run(config: Path, *args: str):
    return CliRunner().invoke(main, ["--config", str(config), *args])


def test_dashboard_to_file(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.json"
    res = _run(config, "dashboard", "overview", "--format", "json", "--range", "6h",
               "--end", str(END), "--out", str(out))
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["dashboard"]["name"] == "overview" and doc["range"]["end_ts"] == END


def test_dashboard_to_stdout(config: Path) -> None:
    res = _run(config, "dashboard", "cache", "--format", "markdown", "--end", str(END))
    assert res.exit_code == 0 and res.output.startswith("# Cache")


@pytest.mark.parametrize(("args", "needle"), [
    (["dashboard", "nope"], "overview"),
    (["dashboard", "overview", "--format", "pdf"], "grafana"),
    (["dashboard", "overview", "--range", "soon"], "duration"),
])
def test_bad_input_exits_2_listing_valid_values(config: Path, args: list[str],
                                                needle: str) -> None:
    res = _run(config, *args)
    assert res.exit_code == 2 and needle in res.output


def test_all_dashboards_in_all_formats(config: Path, tmp_path: Path) -> None:
    res = _run(config, "dashboards", "--out", str(tmp_path), "--range", "1d", "--end", str(END))
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 25 and "overview.grafana.json" in names and "cache.md" in names


def test_empty_range_warns(config: Path) -> None:
    res = _run(config, "dashboard", "database", "--end", str(END - 30 * 86400))
    assert res.exit_code == 0 and "no samples in range" in res.output


def test_static_page_marks_recorded_faults(tmp_path: Path) -> None:
    from monitoring.groundtruth import FaultLog, FaultRecord

    make_store(tmp_path / "s.db", days=1).close()
    log = FaultLog(tmp_path / "s.db")
    log.record(FaultRecord("network_delay", "asia", END - 3 * 3600, END - 2 * 3600))
    log.close()
    config = tmp_path / "config.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 's.db'}\noutput_dir: {tmp_path / 'out'}\n")
    out = tmp_path / "latency.html"
    res = _run(config, "dashboard", "latency", "--format", "html", "--range", "6h",
               "--end", str(END), "--out", str(out))
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert 'data-marker="fault"' in page and "network_delay" in page

    res = _run(config, "dashboards", "--out", str(tmp_path / "all"), "--range", "6h",
               "--end", str(END))
    assert res.exit_code == 0, res.output
    assert 'data-marker="fault"' in (tmp_path / "all" / "latency.html").read_text()

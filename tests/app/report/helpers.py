"""Reading the report back: its Markdown tables as rows of cells."""

from __future__ import annotations

import re

from monitoring.catalog import CATALOG

TITLE_TO_ID = {m.title: m.id for m in CATALOG.values()}


def section(markdown: str, heading: str) -> str:
    """The text under ``## heading`` up to the next level-2 heading."""
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    assert m, f"no section {heading!r}"
    return m.group(1)


def table_rows(text: str) -> list[dict[str, str]]:
    """Every Markdown table in ``text`` as dicts keyed by its header cells."""
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        inner = line.strip()[1:-1]
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]
        if header is None:
            header = cells
        elif not all(set(c) <= set(":-") for c in cells):
            rows.append(dict(zip(header, cells, strict=True)))
    return rows


def key_metrics(markdown: str) -> dict[str, dict[str, str]]:
    return {TITLE_TO_ID[r["Metric"]]: r for r in table_rows(section(markdown, "Key Metrics"))}


def number(cell: str) -> float:
    """The figure in a cell such as '1,234 ms', '99.975%', '+12.3% (worse)'."""
    m = re.match(r"^[+-]?[\d,]*\.?\d+", cell)
    assert m, f"no number in {cell!r}"
    return float(m.group(0).replace(",", ""))

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from dashboards.data import DashboardData
from renderers.markdown import escape, render_markdown

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _tables(text: str) -> list[list[str]]:
    tables, cur = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            cur.append(line)
        elif cur:
            tables.append(cur)
            cur = []
    return [*tables, cur] if cur else tables


def test_tables_are_well_formed(all_data: dict[str, DashboardData]) -> None:
    for data in all_data.values():
        text = render_markdown(data)
        tables = _tables(text)
        assert tables
        for table in tables:
            cols = len(_UNESCAPED_PIPE.findall(table[0]))
            assert re.fullmatch(r"\|(:?-+:?\|)+", table[1])
            assert all(len(_UNESCAPED_PIPE.findall(line)) == cols for line in table)


def test_status_marks_and_values(all_data: dict[str, DashboardData]) -> None:
    text = render_markdown(all_data["overview"])
    assert text.startswith("# Overview — ❌ BREACH")  # an alert is firing
    assert "| Availability | " in text and "✅ OK" in text and "≥ 99.95%" in text


def test_hostile_labels_render_inert(evil_data: DashboardData) -> None:
    text = render_markdown(evil_data)
    assert "<script>" not in text
    assert not re.search(r"(?<!\\)`", text)  # every backtick escaped
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<script>" not in html and "<code>" not in html and "<a " not in html
    # each table keeps its column count in the rendered HTML too
    for table in re.findall(r"<table>.*?</table>", html, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
        counts = {len(re.findall(r"<t[hd][ >]", r)) for r in rows}
        assert len(counts) == 1


def test_escape() -> None:
    assert escape("a|b") == r"a\|b"
    assert escape("`x`") == r"\`x\`"
    assert escape("<b>&") == "&lt;b&gt;&amp;"
    assert escape("two\nlines") == "two lines"

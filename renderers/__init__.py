"""Turn dashboard data into text, JSON, HTML, Markdown or Grafana JSON (pure functions)."""

from __future__ import annotations

from collections.abc import Callable

from dashboards.data import DashboardData

Renderer = Callable[[DashboardData], str]
FORMATS = ("text", "json", "html", "markdown", "grafana")
EXTENSIONS = {"text": "txt", "json": "json", "html": "html", "markdown": "md",
              "grafana": "grafana.json"}


def renderer(fmt: str) -> Renderer:
    """The render function for ``fmt``; imported lazily so grafanalib loads only when used."""
    if fmt == "text":
        from renderers.text import render_text
        return render_text
    if fmt == "json":
        from renderers.json import render_json
        return render_json
    if fmt == "html":
        from renderers.html import render_html
        return render_html
    if fmt == "markdown":
        from renderers.markdown import render_markdown
        return render_markdown
    if fmt == "grafana":
        from renderers.grafana import render_grafana
        return render_grafana
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")

"""Every format's render function, by name."""

from __future__ import annotations

from collections.abc import Callable

from dashboards.data import DashboardData
from renderers import FORMATS
from renderers.grafana import render_grafana
from renderers.html import render_html
from renderers.json import render_json
from renderers.markdown import render_markdown
from renderers.text import render_text

Renderer = Callable[[DashboardData], str]
RENDERERS: dict[str, Renderer] = {"text": render_text, "json": render_json,
                                  "html": render_html, "markdown": render_markdown,
                                  "grafana": render_grafana}


def renderer(fmt: str) -> Renderer:
    """The render function for ``fmt``."""
    try:
        return RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}") from None

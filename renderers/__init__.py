"""Turn dashboard data into text, JSON, HTML, Markdown or Grafana JSON (pure functions).

``renderers.formats.renderer(fmt)`` gives the function for a format; this package's own
import stays light, so a command that only lists the formats loads no renderer.
"""

FORMATS = ("text", "json", "html", "markdown", "grafana")
EXTENSIONS = {"text": "txt", "json": "json", "html": "html", "markdown": "md",
              "grafana": "grafana.json"}
